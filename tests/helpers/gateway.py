"""Gateway test helpers: settings, an ASGI client that runs the app's lifespan, decisions at a
chosen weights level, and guards that raise or flag.

The backend of most tests is the shipped `echo:` backend (`releasegate.backends.EchoBackend`): it
answers `echo: <last message>`, one word per token (logprob -0.5 each), so tests can predict every
answer and token count without a model.
"""

from __future__ import annotations

import pathlib
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import httpx

from releasegate.access import DEFAULT_TIERS, TierSpec
from releasegate.backends import ChatMessage
from releasegate.evidence import RiskReport
from releasegate.guards import GuardError, GuardVerdict, register_guard
from releasegate.policy import Decision
from releasegate.settings import Settings
from releasegate.vocab import AccessLevel, Component

# A strong token (32 random bytes, base64url): the gateway refuses weaker ones.
ADMIN_TOKEN = "h5LkpEnv6ebs5lfIF94Eig1akqlluxQfSQKeSkKnLVI"
AUDIT_KEY = "test-audit-key-0123456789"
MODEL = "echo"


class RaisingGuard:
    """A guard whose model is 'down': every check raises."""

    name = "raising"

    async def check_input(self, messages: Sequence[ChatMessage]) -> GuardVerdict:
        raise GuardError("guard model unreachable")

    async def check_output(self, text: str, context: Sequence[ChatMessage] = ()) -> GuardVerdict:
        raise GuardError("guard model unreachable")


class OutputMarkerGuard:
    """Passes every input; flags any output containing 'FORBIDDEN' (category S9)."""

    name = "marker"

    async def check_input(self, messages: Sequence[ChatMessage]) -> GuardVerdict:
        return GuardVerdict(flagged=False, score=0.0, guard=self.name)

    async def check_output(self, text: str, context: Sequence[ChatMessage] = ()) -> GuardVerdict:
        from releasegate.guards import HazardCategory

        hit = "FORBIDDEN" in text
        return GuardVerdict(
            flagged=hit,
            score=1.0 if hit else 0.0,
            categories=[HazardCategory.S9] if hit else [],
            guard=self.name,
        )


register_guard("test-raising", lambda settings: RaisingGuard())
register_guard("test-marker", lambda settings: OutputMarkerGuard())


def keyword_tiers(**changes: dict[str, Any]) -> dict[str, TierSpec]:
    """The default tiers with the fast keyword guard (tests of the pipeline, not of guards);
    `changes` updates fields per tier, e.g. `public={"rpm": 5}`."""
    out = {}
    for name, tier in DEFAULT_TIERS.items():
        out[name] = tier.model_copy(update={"guards": ["keyword"], **changes.get(name, {})})
    return out


def gateway_settings(tmp_path: pathlib.Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": tmp_path / "data",
        "admin_token": ADMIN_TOKEN,
        "audit_hmac_key": AUDIT_KEY,
        "audit_store_content": "full",
    }
    values.update(overrides)
    return Settings(**values)


def fresh(report: RiskReport) -> RiskReport:
    """The report as if assessed just now (the example reports' fixed date would expire)."""
    now = datetime.now(UTC).replace(microsecond=0)
    return report.model_copy(update={"created_at": now})


def decision_at(level: AccessLevel) -> Decision:
    """A real decision (default policy, low-risk example report) with weights set to `level`."""
    import releasegate.evidence as evidence
    from releasegate.evidence import load_report
    from releasegate.policy import bundled_policy_path, decide, load_policy

    path = pathlib.Path(evidence.__file__).parent / "_examples" / "low-risk.json"
    report = fresh(load_report(path))
    decision = decide(report, load_policy(bundled_policy_path("default")))
    levels = dict(decision.levels)
    levels[Component.WEIGHTS] = level
    return decision.model_copy(update={"levels": levels})


@asynccontextmanager
async def running(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client on the app over ASGI, with the app's lifespan running."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://gateway", timeout=30
        ) as client:
            yield client


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


ADMIN = bearer(ADMIN_TOKEN)


async def new_key(
    client: httpx.AsyncClient, tier: str, owner: str = "tester", **limits: int
) -> str:
    """Create a key through the admin API; returns the plaintext."""
    body: dict[str, Any] = {"tier": tier, "owner": owner}
    if limits:
        body["limits"] = limits
    response = await client.post("/admin/keys", json=body, headers=ADMIN)
    assert response.status_code == 200, response.text
    key: str = response.json()["key"]
    return key


def chat_body(text: str = "hello there", **extra: Any) -> dict[str, Any]:
    return {"model": MODEL, "messages": [{"role": "user", "content": text}], **extra}
