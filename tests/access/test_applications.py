"""The access programme's library on a real store (SQLite and PostgreSQL): forms and rules are
validated when the policy loads, racing claims issue one key, racing approvals count each
reviewer once, and a tier without a form serialises exactly as before forms existed."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from pydantic import ValidationError
from sqlalchemy.orm import Session, sessionmaker

from releasegate.access import (
    DEFAULT_TIERS,
    AccessProgramme,
    ApplicationError,
    ApplicationSpec,
    BootstrapRefusedError,
    KeyStore,
    LastAdminError,
    PrincipalStore,
    Role,
    TierClosedError,
    TierSpec,
)
from releasegate.audit import AuditLog
from releasegate.policy import model_sha256
from tests.helpers.stores import TEST_HMAC_KEY

ANSWERS = {"affiliation": "Lab", "intended_use": "evals", "country": "GB"}


def _tiers() -> dict[str, TierSpec]:
    public = DEFAULT_TIERS["public"].model_copy(
        update={
            "application": ApplicationSpec.model_validate(
                {"review": {"auto_approve_email_domains": ["partner.example"]}}
            )
        }
    )
    developer = DEFAULT_TIERS["developer"].model_copy(
        update={"application": ApplicationSpec.model_validate({"review": {"reviewers": 2}})}
    )
    return {"public": public, "developer": developer}


def test_forms_and_rules_are_checked_when_loaded() -> None:
    with pytest.raises(ValidationError, match="only for tiers at the api level"):
        TierSpec.model_validate(
            {
                **DEFAULT_TIERS["researcher"].model_dump(),
                "application": {"review": {"auto_approve_email_domains": ["uni.example"]}},
            }
        )
    with pytest.raises(ValidationError, match="deny_if_missing names no field"):
        ApplicationSpec.model_validate({"review": {"deny_if_missing": ["nope"]}})
    with pytest.raises(ValidationError, match="choices are given for"):
        ApplicationSpec.model_validate({"fields": [{"name": "x", "type": "choice"}]})
    with pytest.raises(ValidationError, match="ISO 3166"):
        ApplicationSpec.model_validate({"review": {"blocked_countries": ["Korea"]}})


def test_a_tier_without_a_form_keeps_its_serialised_form_and_hash() -> None:
    tier = DEFAULT_TIERS["public"]
    assert "application" not in tier.model_dump(mode="json")
    with_form = tier.model_copy(update={"application": ApplicationSpec()})
    assert "application" in with_form.model_dump(mode="json")
    assert model_sha256(tier) != model_sha256(with_form)


def test_racing_claims_issue_one_key(sessions: sessionmaker[Session]) -> None:
    programme = AccessProgramme(sessions, AuditLog(sessions, TEST_HMAC_KEY), _tiers())
    done = programme.submit("public", "P", "p@partner.example", ANSWERS, None, is_open=True)
    assert done.application.status.value == "approved"  # the domain is allow-listed
    barrier = threading.Barrier(4)

    def claim(_: int) -> str:
        barrier.wait()
        try:
            return programme.claim(
                done.application.id, done.claim_token, is_open=True
            ).key.plaintext
        except ApplicationError as exc:
            return exc.code

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(claim, range(4)))
    assert results.count("already_claimed") == 3, results
    assert len(KeyStore(sessions).list()) == 1


def test_approvals_count_people_and_a_closed_tier_refuses(sessions: sessionmaker[Session]) -> None:
    audit = AuditLog(sessions, TEST_HMAC_KEY)
    programme = AccessProgramme(sessions, audit, _tiers())
    people = PrincipalStore(sessions, audit)
    ada, _ = people.create("Ada", ["reviewer"], actor="test", token=False)
    ben, _ = people.create("Ben", ["reviewer"], actor="test", token=False)
    done = programme.submit("developer", "D", "d@lab.example", ANSWERS, None, is_open=True)
    app_id = done.application.id
    with pytest.raises(TierClosedError):
        programme.approve(app_id, ada, "ok", is_open=False)
    with pytest.raises(TierClosedError):
        programme.submit("developer", "E", "e@lab.example", ANSWERS, None, is_open=False)
    assert programme.approve(app_id, ada, "ok", is_open=True).status.value == "pending"
    with pytest.raises(ApplicationError, match="already decided"):
        programme.approve(app_id, ada, "again", is_open=True)
    approved = programme.approve(app_id, ben, "ok", is_open=True)
    assert approved.status.value == "approved" and approved.approvals == 2
    with pytest.raises(TierClosedError):
        programme.claim(app_id, done.claim_token, is_open=False)
    # A refused change left no trace: the tier-closed approval wrote no review.
    assert [r.reviewer for r in approved.reviews] == ["Ada", "Ben"]


def test_the_last_active_admin_cannot_be_demoted_or_suspended(
    sessions: sessionmaker[Session],
) -> None:
    people = PrincipalStore(sessions, AuditLog(sessions, TEST_HMAC_KEY))
    people.bootstrap("Olga", actor="test")
    with pytest.raises(LastAdminError):
        people.set_roles("Olga", ["reviewer"], actor="test")
    with pytest.raises(LastAdminError):
        people.suspend("olga", "gone", actor="test")  # names are case-insensitive
    with pytest.raises(BootstrapRefusedError):
        people.bootstrap("Mallory", actor="test")
    people.create("Pia", ["admin"], actor="test", token=False)
    assert people.set_roles("Olga", ["reviewer"], actor="test").roles == (Role.REVIEWER,)
    assert people.get("Olga").has_any(["reviewer"]) and not people.get("Olga").has_any(["admin"])
