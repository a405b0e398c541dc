"""Tier capabilities (403 for each one a tier lacks) and decision enforcement at startup."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from releasegate.access import DEFAULT_TIERS
from releasegate.backends import EchoBackend
from releasegate.gateway import (
    DecisionForbidsServing,
    GatewayConfigError,
    check_tiers,
    create_app,
)
from releasegate.vocab import AccessLevel
from tests.helpers.gateway import (
    ADMIN,
    MODEL,
    bearer,
    chat_body,
    decision_at,
    gateway_settings,
    keyword_tiers,
    new_key,
    running,
)

# (request fields, the param the 403 names) for everything the public tier does not grant
LACKING: list[tuple[dict[str, Any], str]] = [
    ({"max_tokens": 257}, "max_tokens"),
    ({"temperature": 1.9}, "temperature"),
    ({"logprobs": True}, "logprobs"),
    ({"logprobs": True, "top_logprobs": 2}, "logprobs"),
    ({"logit_bias": {"50256": -100}}, "logit_bias"),
    ({"n": 2}, "n"),
    ({"tools": [{"type": "function", "function": {"name": "f"}}]}, "tools"),
]


def test_every_lacking_capability_is_403(tmp_path: Path) -> None:
    tiers = keyword_tiers(public={"models": [MODEL]}, developer={"models": ["other-model"]})
    app = create_app(
        gateway_settings(tmp_path),
        backend=EchoBackend(),
        decision=decision_at(AccessLevel.RESEARCH_API),
        tiers=tiers,
    )

    async def go() -> None:
        async with running(app) as client:
            public = await new_key(client, "public")
            researcher = await new_key(client, "researcher")
            developer = await new_key(client, "developer")
            # a model this gateway serves, but not one the developer tier lists
            r = await client.post(
                "/v1/chat/completions", json=chat_body(), headers=bearer(developer)
            )
            assert r.status_code == 403 and r.json()["error"]["param"] == "model"
            for fields, param in LACKING:
                body = chat_body(**fields)
                r = await client.post("/v1/chat/completions", json=body, headers=bearer(public))
                assert r.status_code == 403, (fields, r.text)
                error = r.json()["error"]
                assert error["type"] == "permission_error"
                assert error["param"] == param, (fields, error)
                assert "'public'" in error["message"]
            # the researcher tier grants logprobs up to k=5, not beyond
            r = await client.post(
                "/v1/chat/completions",
                json=chat_body(logprobs=True, top_logprobs=6),
                headers=bearer(researcher),
            )
            assert r.status_code == 403 and r.json()["error"]["param"] == "top_logprobs"
            ok = await client.post(
                "/v1/chat/completions",
                json=chat_body(logprobs=True, top_logprobs=5),
                headers=bearer(researcher),
            )
            assert ok.status_code == 200
            assert app.state.gateway.backend.calls == 1  # refusals never reached the model

    asyncio.run(go())


def test_a_rows_capability_is_checked_by_the_pipeline(tmp_path: Path) -> None:
    """A row that requires a tier capability (`research`) refuses keys of tiers without it."""
    app = create_app(
        gateway_settings(tmp_path),
        backend=EchoBackend(),
        decision=decision_at(AccessLevel.RESEARCH_API),
        tiers=keyword_tiers(),
    )
    body = {"model": MODEL, "input": "hello", "layers": [0]}

    async def go() -> None:
        async with running(app) as client:
            for tier, status, phrase in (
                ("public", 403, "tier 'public' has no research access"),
                ("researcher", 400, "research endpoints need a local backend"),
            ):
                key = await new_key(client, tier)
                r = await client.post("/v1/research/hidden_states", json=body, headers=bearer(key))
                assert r.status_code == status, r.text
                assert phrase in r.json()["error"]["message"]
            r = await client.post("/v1/research/hidden_states", json=body, headers=ADMIN)
            assert r.status_code == 401  # the admin token is not a key

    asyncio.run(go())


def test_tiers_above_the_decision_are_withheld_with_their_reason(tmp_path: Path) -> None:
    # The default tiers include research tiers; a decision at `api` withholds them, it does not
    # stop the gateway from serving the tiers it allows.
    app = create_app(
        gateway_settings(tmp_path),
        backend=EchoBackend(),
        decision=decision_at(AccessLevel.API),
        tiers=keyword_tiers(),
    )

    async def go() -> None:
        async with running(app) as client:
            public = await new_key(client, "public")
            researcher = await new_key(client, "researcher")
            ok = await client.post("/v1/chat/completions", json=chat_body(), headers=bearer(public))
            assert ok.status_code == 200, ok.text
            refused = await client.post(
                "/v1/chat/completions", json=chat_body(), headers=bearer(researcher)
            )
            assert refused.status_code == 403
            error = refused.json()["error"]
            assert error["code"] == "tier_not_allowed"
            assert "tier 'researcher' is closed" in error["message"]
            assert (
                "tier-above-decision" in error["message"] and "'research_api'" in error["message"]
            )
            models = (await client.get("/v1/models", headers=bearer(public))).json()
            meta = models["data"][0]["releasegate"]
            assert meta["tiers_open"] == ["public", "developer"]
            assert set(meta["tiers_withheld"]) == {"researcher", "auditor"}
            assert "research_api" in meta["tiers_withheld"]["auditor"]
            assert meta["reviewed"] is False and meta["weights"] == "api"

    asyncio.run(go())
    # Only when no tier at all may be served does the app refuse to be built.
    research_only = {k: v for k, v in keyword_tiers().items() if k in ("researcher", "auditor")}
    with pytest.raises(DecisionForbidsServing) as caught:
        create_app(
            gateway_settings(tmp_path),
            backend=EchoBackend(),
            decision=decision_at(AccessLevel.API),
            tiers=research_only,
        )
    message = str(caught.value)
    assert "tier 'researcher'" in message and "tier 'auditor'" in message
    assert "tier-above-decision" in message


@pytest.mark.parametrize("level", [AccessLevel.CLOSED, AccessLevel.HOSTED])
def test_nothing_served_below_api(tmp_path: Path, level: AccessLevel) -> None:
    with pytest.raises(DecisionForbidsServing, match="weights-below-api"):
        create_app(
            gateway_settings(tmp_path),
            backend=EchoBackend(),
            decision=decision_at(level),
            tiers={"public": keyword_tiers()["public"]},
        )


def test_halted_decision_and_required_safeguards() -> None:
    decision = decision_at(AccessLevel.API)
    halted = decision.model_copy(update={"status": "halted", "halted_reason": "critical cbrn"})
    assert [v.rule for v in check_tiers(halted, keyword_tiers())] == ["halted-decision"]
    required = decision.model_copy(
        update={"required_safeguards": {"weights": ["input_guard", "output_guard", "rate_limits"]}}
    )
    bare = {"public": DEFAULT_TIERS["public"].model_copy(update={"guards": [], "rpm": None})}
    rules = sorted(v.rule for v in check_tiers(required, bare))
    assert rules == ["safeguard:input_guard/output_guard", "safeguard:rate_limits"]


def test_decision_required_unless_dev_and_the_admin_token_optional(tmp_path: Path) -> None:
    # Principals' tokens open the admin API; the admin token is only the bootstrap path.
    no_token = gateway_settings(tmp_path, admin_token=None)
    create_app(no_token, backend=EchoBackend(), decision=decision_at(AccessLevel.API))
    with pytest.raises(GatewayConfigError, match="decision"):
        create_app(gateway_settings(tmp_path), backend=EchoBackend())
    create_app(no_token, backend=EchoBackend(), dev=True, tiers=keyword_tiers())


def test_hosted_serves_only_tiers_of_named_users(tmp_path: Path) -> None:
    public = keyword_tiers()["public"]
    named = public.model_copy(update={"name": "named", "named_users": True})
    assert named.required_weights_level() is AccessLevel.HOSTED
    create_app(
        gateway_settings(tmp_path),
        backend=EchoBackend(),
        decision=decision_at(AccessLevel.HOSTED),
        tiers={"named": named},
    )
    # A tier open to any key holder is withheld at `hosted`, with the reason.
    app = create_app(
        gateway_settings(tmp_path),
        backend=EchoBackend(),
        decision=decision_at(AccessLevel.HOSTED),
        tiers={"named": named, "public": public},
    )
    assert app is not None
    with pytest.raises(DecisionForbidsServing, match=r"'public'.*named users"):
        create_app(
            gateway_settings(tmp_path),
            backend=EchoBackend(),
            decision=decision_at(AccessLevel.HOSTED),
            tiers={"public": public},
        )
    # Named users do not open anything more: a named tier with logprobs still needs research_api.
    named_logprobs = named.model_copy(update={"logprobs": True})
    with pytest.raises(DecisionForbidsServing, match="weights-below-api"):
        create_app(
            gateway_settings(tmp_path),
            backend=EchoBackend(),
            decision=decision_at(AccessLevel.HOSTED),
            tiers={"named": named_logprobs},
        )
