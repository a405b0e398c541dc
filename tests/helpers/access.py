"""The access programme under test: tiers that take applications, a real gateway process that
offers them under a decision at the `api` level (so `researcher`, which needs `research_api`,
is closed), and small httpx helpers.

    python -m tests.helpers.access --port 8123

Settings come from the RELEASEGATE_* environment (database, admin token, audit key).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from releasegate.access import DEFAULT_TIERS, ApplicationSpec, FormField, ReviewRule, TierSpec
from tests.helpers.gateway_proc import REPO, answering_process, free_port

# A strong token (32 random bytes, base64url): the gateway refuses weaker ones.
ADMIN_TOKEN = "TR1sDYaR9Rgwm1ahJ9Zr4bOqxIeDO2iVoz6Mzr8eB_U"
AUDIT_KEY = "access-audit-key-0123456789"


def programme_tiers() -> dict[str, TierSpec]:
    """`public`: one reviewer, blocked country KP, partner.example auto-approved.
    `developer`: two reviewers, an optional `website` field whose absence auto-denies.
    `researcher`: takes applications but needs `research_api` (closed at `api`)."""
    fields = [
        FormField(name="affiliation"),
        FormField(name="intended_use", max_length=4000),
        FormField(name="country", type="country"),
    ]
    public = ApplicationSpec(
        fields=fields,
        review=ReviewRule(
            reviewers=1, blocked_countries=["KP"], auto_approve_email_domains=["partner.example"]
        ),
    )
    developer = ApplicationSpec(
        fields=[
            *fields,
            FormField(name="website", type="url", required=False),
            FormField(name="sector", type="choice", choices=["academia", "industry", "ngo"]),
        ],
        review=ReviewRule(reviewers=2, deny_if_missing=["website"]),
        key_days=30,
    )
    out = {}
    for name, tier in DEFAULT_TIERS.items():
        update: dict[str, Any] = {"guards": ["keyword"]}
        if name == "public":
            update["application"] = public
        elif name == "developer":
            update["application"] = developer
        elif name == "researcher":
            update["application"] = ApplicationSpec(fields=fields)
        out[name] = tier.model_copy(update=update)
    return out


def process_env(database_url: str) -> dict[str, str]:
    return {
        "RELEASEGATE_DATABASE_URL": database_url,
        "RELEASEGATE_ADMIN_TOKEN": ADMIN_TOKEN,
        "RELEASEGATE_AUDIT_HMAC_KEY": AUDIT_KEY,
        "RELEASEGATE_KEY_CACHE_TTL_S": "0.2",
        # The role tests call every staff route without and with wrong credentials from one
        # address; the failed-authentication throttle (tests/gateway/test_security.py) would
        # answer 429 after ten of them.
        "RELEASEGATE_ADMIN_FAILURES_PER_MINUTE": "100000",
    }


@contextmanager
def access_gateway(database_url: str) -> Iterator[str]:
    """A real gateway process (uvicorn) with `programme_tiers()`; yields its base URL."""
    port = free_port()
    cmd = [sys.executable, "-m", "tests.helpers.access", "--port", str(port)]
    env = {**os.environ, **process_env(database_url), "PYTHONPATH": str(REPO)}
    url = f"http://127.0.0.1:{port}"
    with answering_process(cmd, env, url, cwd=REPO, timeout_s=60):
        yield url


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


ADMIN = bearer(ADMIN_TOKEN)


def make_principal(client: httpx.Client, name: str, *roles: str) -> str:
    """Create a principal through the admin API (bootstrap token); returns its token."""
    r = client.post("/admin/principals", json={"name": name, "roles": list(roles)}, headers=ADMIN)
    assert r.status_code == 200, r.text
    token: str = r.json()["token"]
    return token


def chat(client: httpx.Client, key: str, text: str = "hello there") -> httpx.Response:
    body = {"model": "echo", "messages": [{"role": "user", "content": text}]}
    return client.post("/v1/chat/completions", json=body, headers=bearer(key))


def main() -> None:
    import uvicorn

    from releasegate.backends import EchoBackend
    from releasegate.gateway import create_app
    from releasegate.settings import Settings
    from releasegate.vocab import AccessLevel
    from tests.helpers.gateway import decision_at

    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    app = create_app(
        Settings(),
        backend=EchoBackend(),
        decision=decision_at(AccessLevel.API),
        tiers=programme_tiers(),
    )
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
