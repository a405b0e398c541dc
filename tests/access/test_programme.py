"""The access programme end to end, through a real gateway process and a real store (SQLite and
PostgreSQL), with httpx: apply, auto-deny, two-reviewer approval, the key claimed once, the key
answering a chat request, new terms refusing it until they are accepted, expiry refusing it,
renewal, suspension, and a closed tier refusing applications and approvals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, update
from sqlalchemy.orm import sessionmaker

from releasegate.audit import AuditLog
from releasegate.store.tables.access import ApiKeyRow
from tests.helpers.access import (
    ADMIN,
    access_gateway,
    bearer,
    chat,
    make_principal,
)

DEV_ANSWERS = {
    "affiliation": "Example Labs",
    "intended_use": "a coding assistant for our staff",
    "country": "GB",
    "website": "https://labs.example",
    "sector": "industry",
}


def apply(client: httpx.Client, tier: str, email: str, **answers: Any) -> httpx.Response:
    body = {"tier": tier, "name": "Ada Lovelace", "email": email, "answers": answers}
    return client.post("/v1/access/applications", json=body)


@pytest.mark.postgres
def test_the_whole_programme_through_http(database_url: str) -> None:
    with access_gateway(database_url) as url, httpx.Client(base_url=url, timeout=30) as client:
        alice = make_principal(client, "Alice Reviewer", "reviewer")
        bob = make_principal(client, "Bob Reviewer", "reviewer")
        lead = make_principal(client, "Rita Release", "release_lead")

        # The tiers that take applications say so, with their forms; researcher is closed.
        tiers = {t["name"]: t for t in client.get("/v1/access/tiers").json()["data"]}
        assert set(tiers) == {"public", "developer", "researcher"}
        assert tiers["developer"]["reviewers"] == 2 and tiers["developer"]["open"]
        assert not tiers["researcher"]["open"]

        # A closed tier accepts no application.
        r = apply(client, "researcher", "ada@uni.example", **DEV_ANSWERS)
        assert r.status_code == 409 and r.json()["error"]["code"] == "tier_closed", r.text

        # Auto-deny: a blocked country; the applicant sees the category.
        r = apply(
            client, "public", "kim@mail.example", affiliation="x", intended_use="y", country="KP"
        )
        assert r.status_code == 200, r.text
        denied = r.json()
        assert denied["status"] == "denied" and denied["denial_category"] == "blocked_country"
        # Auto-deny: the developer rule wants a website.
        no_site = {k: v for k, v in DEV_ANSWERS.items() if k != "website"}
        r = apply(client, "developer", "eve@mail.example", **no_site)
        assert r.json()["denial_category"] == "missing_information", r.text

        # Apply for developer: pending, with a claim token shown once.
        r = apply(client, "developer", "ada@labs.example", **DEV_ANSWERS)
        assert r.status_code == 200, r.text
        app_id, claim = r.json()["id"], r.json()["claim_token"]
        assert r.json()["status"] == "pending" and claim.startswith("rgc-")
        status = client.get(f"/v1/access/applications/{app_id}", headers=bearer(claim))
        assert status.json()["status"] == "pending" and "answers" not in status.json()
        # Someone else's token reads as no application.
        other = client.get(
            f"/v1/access/applications/{app_id}", headers=bearer(denied["claim_token"])
        )
        assert other.status_code == 404

        # Nothing to claim before approval.
        r = client.post(f"/v1/access/applications/{app_id}/claim", headers=bearer(claim))
        assert r.status_code == 409 and r.json()["error"]["code"] == "not_approved"

        # Reviewers list, comment and approve; two approvals are needed, from two people.
        listed = client.get(
            "/admin/access/applications", params={"status": "pending"}, headers=bearer(alice)
        ).json()["data"]
        assert [a["id"] for a in listed] == [app_id]
        assert listed[0]["answers"]["affiliation"] == "Example Labs"
        r = client.post(
            f"/admin/access/applications/{app_id}/comment",
            json={"text": "website checks out"},
            headers=bearer(alice),
        )
        assert r.status_code == 200 and r.json()["reviews"][0]["verdict"] == "comment"
        # The release lead may read but the developer rule counts only reviewers.
        r = client.post(f"/admin/access/applications/{app_id}/approve", headers=bearer(lead))
        assert r.status_code == 403 and r.json()["error"]["code"] == "role_required", r.text
        r = client.post(f"/admin/access/applications/{app_id}/approve", headers=bearer(alice))
        assert r.json()["status"] == "pending" and r.json()["approvals"] == 1, r.text
        r = client.post(f"/admin/access/applications/{app_id}/approve", headers=bearer(alice))
        assert r.status_code == 409 and r.json()["error"]["code"] == "already_voted"
        r = client.post(
            f"/admin/access/applications/{app_id}/approve",
            json={"reason": "verified"},
            headers=bearer(bob),
        )
        assert r.json()["status"] == "approved", r.text
        # The admin token is nobody: it cannot review.
        r = client.post(
            f"/admin/access/applications/{app_id}/comment", json={"text": "x"}, headers=ADMIN
        )
        assert r.status_code == 403 and r.json()["error"]["code"] == "person_required"

        # The key is claimed once; its expiry is the tier's (30 days for developer).
        r = client.post(f"/v1/access/applications/{app_id}/claim", headers=bearer(claim))
        assert r.status_code == 200, r.text
        key, key_id, holder = r.json()["key"], r.json()["key_id"], r.json()["principal_id"]
        expires = datetime.fromisoformat(r.json()["expires_at"])
        assert timedelta(days=29.9) < expires - datetime.now(UTC) <= timedelta(days=30)
        again = client.post(f"/v1/access/applications/{app_id}/claim", headers=bearer(claim))
        assert again.status_code == 410 and again.json()["error"]["code"] == "already_claimed"

        # The key works: a real chat request through the echo backend.
        r = chat(client, key, "hello there")
        assert r.status_code == 200, r.text
        assert r.json()["choices"][0]["message"]["content"] == "echo: hello there"

        # New terms: the key is refused until its holder accepts them.
        r = client.post(
            "/admin/access/terms/developer",
            json={"version": "2", "url": "https://example.org/terms/developer/2"},
            headers=bearer(alice),
        )
        assert r.status_code == 403  # reviewers do not publish terms
        r = client.post(
            "/admin/access/terms/developer",
            json={"version": "2", "url": "https://example.org/terms/developer/2"},
            headers=bearer(lead),
        )
        assert r.status_code == 200, r.text
        refused = _eventually(lambda: chat(client, key), lambda r: r.status_code == 403)
        error = refused.json()["error"]
        assert error["code"] == "terms_not_accepted"
        assert error["terms_url"] == "https://example.org/terms/developer/2"
        r = client.post(
            "/v1/access/terms/developer/accept", json={"version": "1"}, headers=bearer(key)
        )
        assert r.status_code == 409 and r.json()["error"]["code"] == "terms_version_outdated"
        r = client.post(
            "/v1/access/terms/developer/accept", json={"version": "2"}, headers=bearer(key)
        )
        assert r.status_code == 200, r.text
        _eventually(lambda: chat(client, key), lambda r: r.status_code == 200)
        # A new applicant must accept the terms in force.
        r = apply(client, "developer", "sam@labs.example", **DEV_ANSWERS)
        assert r.status_code == 400 and r.json()["error"]["param"] == "accept_terms_version"

        # Expiry: the key's time passes (moved in the store), and it is refused.
        engine = create_engine(database_url)
        with engine.begin() as conn:
            conn.execute(
                update(ApiKeyRow)
                .where(ApiKeyRow.id == key_id)
                .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
            )
        engine.dispose()
        refused = _eventually(lambda: chat(client, key), lambda r: r.status_code == 401)
        assert refused.json()["error"]["code"] == "invalid_api_key"

        # Renewal: a new application pre-filled from the last, reviewed again.
        r = client.post(
            f"/v1/access/applications/{app_id}/renew",
            json={"accept_terms_version": "2", "answers": {"intended_use": "a second year"}},
            headers=bearer(claim),
        )
        assert r.status_code == 200, r.text
        renewal, renewal_claim = r.json()["id"], r.json()["claim_token"]
        assert r.json()["renewal_of"] == app_id and r.json()["status"] == "pending"
        shown = client.get(f"/admin/access/applications/{renewal}", headers=bearer(bob)).json()
        assert shown["answers"]["affiliation"] == "Example Labs"
        assert shown["answers"]["intended_use"] == "a second year"
        for reviewer in (alice, bob):
            client.post(f"/admin/access/applications/{renewal}/approve", headers=bearer(reviewer))
        r = client.post(f"/v1/access/applications/{renewal}/claim", headers=bearer(renewal_claim))
        assert r.status_code == 200, r.text
        new_key = r.json()["key"]
        assert r.json()["principal_id"] == holder  # the same person, a new key
        assert chat(client, new_key).status_code == 200  # terms v2 were accepted with it

        # A reviewer suspends the principal: all their keys stop.
        r = client.post(
            f"/admin/principals/{holder}/suspend",
            json={"reason": "shared the key publicly"},
            headers=bearer(bob),
        )
        assert r.status_code == 200 and r.json()["suspended_reason"] == "shared the key publicly"
        _eventually(lambda: chat(client, new_key), lambda r: r.status_code == 401)

        # Deny with a category: the applicant sees the category, not the reviewer's words.
        r = apply(
            client, "public", "max@mail.example", affiliation="a", intended_use="b", country="FR"
        )
        pending, pending_claim = r.json()["id"], r.json()["claim_token"]
        r = client.post(
            f"/admin/access/applications/{pending}/deny",
            json={"category": "insufficient_justification", "reason": "too vague to assess"},
            headers=bearer(alice),
        )
        assert r.json()["status"] == "denied", r.text
        seen = client.get(
            f"/v1/access/applications/{pending}", headers=bearer(pending_claim)
        ).json()
        assert seen["denial_category"] == "insufficient_justification"
        assert "too vague" not in str(seen)

        # Auto-approval by e-mail domain (public, an api-level tier).
        r = apply(
            client, "public", "pat@partner.example", affiliation="P", intended_use="u", country="DE"
        )
        assert r.json()["status"] == "approved" and r.json()["claimable"], r.text

        # Every change is attributed in the audit log (checked through the store).
        engine = create_engine(database_url)
        log = AuditLog(sessionmaker(engine), b"access-audit-key-0123456789")
        changes = [
            r
            for r in log.records()
            if r.payload.get("action", "").startswith(("access.", "terms.", "principals."))
        ]
        engine.dispose()
        actions = {(r.payload["action"], r.actor.split(":", 2)[-1]) for r in changes}
        assert ("access.approve", "Bob Reviewer") in actions
        assert ("access.approve", "Alice Reviewer") in actions
        assert ("terms.publish", "Rita Release") in actions
        assert ("principals.suspend", "Bob Reviewer") in actions
        assert ("access.claim", "ada@labs.example") in actions


def _eventually(call: Any, done: Any, timeout_s: float = 5.0) -> httpx.Response:
    """Repeat `call` until `done(response)` (key caches expire within their TTL)."""
    import time

    deadline = time.monotonic() + timeout_s
    while True:
        response = call()
        if done(response) or time.monotonic() > deadline:
            assert done(response), response.text
            return response  # type: ignore[no-any-return]
        time.sleep(0.1)
