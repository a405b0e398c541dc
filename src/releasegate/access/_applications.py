"""Applications for keys, their review, the one-time claim of the key, renewals and terms.

    submit ──► pending ──(N approvals of the rule's role)──► approved ──claim──► key issued
       │          └──────(one denial, with a category)─────► denied
       └─► denied (auto: blocked country, missing information) / approved (auto: e-mail domain)

The applicant gets a claim token (`rgc-...`, shown once, stored as a SHA-256) when they apply:
it shows them their application's status and, once approved, claims the key, exactly once. The
key is issued at the claim, so its plaintext is never stored; it expires `key_days` after the
approval and belongs to a principal (role `applicant`, named by the applicant's e-mail) whose
acceptance of the tier's terms is recorded. Renewal is an application pre-filled from the last.

Every change is written to the audit log in the change's own transaction. Whether a tier is open
is the caller's to say (`is_open`): the gateway asks the release gate, so a tier the current
decision keeps closed accepts no application and no approval (`TierClosedError`).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from releasegate.access._audit import TransactionalAudit, record
from releasegate.access._forms import ApplicationSpec, valid_email
from releasegate.access._keys import CreatedKey, KeyLimits, _new_row, _to_record
from releasegate.access._principals import PrincipalRecord, Role, to_record
from releasegate.access._tiers import TierSpec
from releasegate.errors import InputError, Problem, ReleasegateError
from releasegate.store._locks import get_for_update
from releasegate.store._types import utcnow
from releasegate.store.tables.access import (
    ApplicationReviewRow,
    ApplicationRow,
    PrincipalRow,
    TermsAcceptanceRow,
    TierTermsRow,
)

CLAIM_PREFIX = "rgc-"


class ApplicationStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    DENIED = "denied"


class DenialCategory(StrEnum):
    """Why an application was denied, as the applicant is told (the reviewer's own words stay
    with the reviewers)."""

    BLOCKED_COUNTRY = "blocked_country"
    MISSING_INFORMATION = "missing_information"
    INELIGIBLE = "ineligible"
    INSUFFICIENT_JUSTIFICATION = "insufficient_justification"
    POLICY = "policy"
    OTHER = "other"


class ApplicationError(ReleasegateError):
    """An application action that cannot be done; `code` names why, `status` its HTTP status."""

    status = 409

    def __init__(self, message: str, code: str, status: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        if status is not None:
            self.status = status


class TierClosedError(ApplicationError):
    """The tier is not open under the current decision (or stage)."""

    def __init__(self, tier: str) -> None:
        super().__init__(
            f"tier {tier!r} is not open under the current release decision: it accepts no "
            "applications and none can be approved",
            "tier_closed",
            409,
        )


class ApplicationNotFoundError(ApplicationError):
    """No application has this id (or the claim token does not match it)."""

    def __init__(self, application_id: str) -> None:
        super().__init__(f"no application {application_id!r}", "application_not_found", 404)


class InvalidApplicationError(InputError):
    """An application that fails its tier's form: each problem at its field path."""


@dataclass(frozen=True)
class Review:
    reviewer_id: str
    reviewer: str
    verdict: str
    text: str
    created_at: datetime

    def to_json(self) -> dict[str, object]:
        return {
            "reviewer_id": self.reviewer_id,
            "reviewer": self.reviewer,
            "verdict": self.verdict,
            "text": self.text,
            "created_at": self.created_at.isoformat(),
        }


@dataclass(frozen=True)
class ApplicationRecord:
    """An application as reviewers see it (`to_json`) and as its applicant does
    (`applicant_json`: no reviewer's words, only the denial's category)."""

    id: str
    tier: str
    status: ApplicationStatus
    name: str
    email: str
    answers: dict[str, object]
    terms_version: str | None
    created_at: datetime
    decided_at: datetime | None
    decided_by: str | None
    denial_category: str | None
    denial_reason: str | None
    key_expires_at: datetime | None
    claimed_at: datetime | None
    key_id: str | None
    principal_id: str | None
    renewal_of: str | None
    reviews: tuple[Review, ...] = ()
    approvals_needed: int = 1

    @property
    def approvals(self) -> int:
        return sum(1 for r in self.reviews if r.verdict == "approve")

    def applicant_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "tier": self.tier,
            "status": self.status.value,
            "created_at": self.created_at.isoformat(),
            "decided_at": _iso(self.decided_at),
            "denial_category": self.denial_category,
            "claimable": self.status is ApplicationStatus.APPROVED and self.claimed_at is None,
            "claimed_at": _iso(self.claimed_at),
            "key_expires_at": _iso(self.key_expires_at),
            "renewal_of": self.renewal_of,
        }

    def to_json(self) -> dict[str, object]:
        return {
            **self.applicant_json(),
            "name": self.name,
            "email": self.email,
            "answers": self.answers,
            "terms_version": self.terms_version,
            "decided_by": self.decided_by,
            "denial_reason": self.denial_reason,
            "key_id": self.key_id,
            "principal_id": self.principal_id,
            "approvals": self.approvals,
            "approvals_needed": self.approvals_needed,
            "reviews": [r.to_json() for r in self.reviews],
        }


@dataclass(frozen=True)
class Submitted:
    """A new application and its claim token (shown to the applicant once)."""

    application: ApplicationRecord
    claim_token: str


@dataclass(frozen=True)
class Claimed:
    """The key issued at a claim (its plaintext is shown this once) and its holder."""

    key: CreatedKey
    principal: PrincipalRecord
    application: ApplicationRecord


@dataclass(frozen=True)
class Terms:
    """A published version of a tier's terms."""

    tier: str
    version: str
    url: str
    text_sha256: str | None
    published_at: datetime
    published_by: str

    def to_json(self) -> dict[str, object]:
        return {
            "tier": self.tier,
            "version": self.version,
            "url": self.url,
            "text_sha256": self.text_sha256,
            "published_at": self.published_at.isoformat(),
            "published_by": self.published_by,
        }


def hash_claim(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class AccessProgramme:
    """Applications, reviews, claims, renewals and terms over one store.

    Args:
        session_factory: the store.
        audit: the audit log (each change is recorded in its own transaction).
        tiers: the tiers offered, by name (their `application` declares the form and rule).
    """

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        audit: TransactionalAudit,
        tiers: Mapping[str, TierSpec],
    ) -> None:
        self._sessions = session_factory
        self._audit = audit
        self.tiers = dict(tiers)

    # -- tiers and terms -----------------------------------------------------------------------

    def spec(self, tier: str) -> ApplicationSpec:
        """The tier's application form.

        Raises:
            ApplicationError: 404 `tier_not_offered` for a tier that takes no applications.
        """
        spec = self.tiers.get(tier)
        if spec is None or spec.application is None:
            open_ = sorted(n for n, t in self.tiers.items() if t.application is not None)
            raise ApplicationError(
                f"tier {tier!r} takes no applications (tiers that do: "
                f"{', '.join(open_) or 'none'})",
                "tier_not_offered",
                404,
            )
        return spec.application

    def current_terms(self, tier: str) -> Terms | None:
        """The tier's terms in force (the last version published), or None."""
        with self._sessions() as session:
            row = _current_terms(session, tier)
            return _terms(row) if row is not None else None

    def publish_terms(
        self, tier: str, version: str, url: str, *, actor: str, text_sha256: str | None = None
    ) -> Terms:
        """Publish a new version of a tier's terms: every key of the tier is refused (403
        `terms_not_accepted`) until its holder accepts it.

        Raises:
            ApplicationError: 404 unknown tier; 409 `terms_version_exists`.
        """
        if tier not in self.tiers:
            raise ApplicationError(f"no tier {tier!r}", "tier_not_offered", 404)
        if not re.match(r"^https?://\S+$", url):
            raise InvalidApplicationError("terms", [Problem("an http(s) URL", "url")])
        with self._sessions() as session, session.begin():
            exists = session.scalars(
                select(TierTermsRow.id).where(
                    TierTermsRow.tier == tier, TierTermsRow.version == version
                )
            ).first()
            if exists is not None:
                raise ApplicationError(
                    f"tier {tier!r} already has terms version {version!r}; publish a new version",
                    "terms_version_exists",
                )
            row = TierTermsRow(
                tier=tier,
                version=version,
                url=url,
                text_sha256=text_sha256,
                published_at=utcnow(),
                published_by=actor,
            )
            session.add(row)
            session.flush()
            record(
                session,
                self._audit,
                actor,
                {"action": "terms.publish", "tier": tier, "version": version, "url": url},
            )
            return _terms(row)

    def accept_terms(self, principal_id: str, tier: str, version: str, *, actor: str) -> Terms:
        """Record that a principal accepts the current version of a tier's terms.

        Raises:
            ApplicationError: 404 no terms; 409 `terms_version_outdated` for another version.
        """
        with self._sessions() as session, session.begin():
            current = _current_terms(session, tier)
            if current is None:
                raise ApplicationError(f"tier {tier!r} has no terms", "no_terms", 404)
            if current.version != version:
                raise ApplicationError(
                    f"the current terms of tier {tier!r} are version {current.version!r}, not "
                    f"{version!r} ({current.url})",
                    "terms_version_outdated",
                )
            _accept(session, principal_id, tier, version)
            record(
                session,
                self._audit,
                actor,
                {"action": "terms.accept", "tier": tier, "version": version,
                 "principal_id": principal_id},
            )  # fmt: skip
            return _terms(current)

    # -- applying ------------------------------------------------------------------------------

    def submit(
        self,
        tier: str,
        name: str,
        email: str,
        answers: Mapping[str, object],
        terms_version: str | None,
        *,
        is_open: bool,
        renewal_of: str | None = None,
    ) -> Submitted:
        """File an application; auto-deny or auto-approve it where the tier's rule says so.

        Raises:
            ApplicationError: 404 `tier_not_offered`; 409 `tier_closed` (`TierClosedError`).
            InvalidApplicationError: the answers fail the form, the e-mail is malformed, or the
                terms version is not the tier's current one (nothing is written).
        """
        spec = self.spec(tier)
        if not is_open:
            raise TierClosedError(tier)
        problems = spec.check_answers(dict(answers))
        name = name.strip()
        if not name or len(name) > 200:
            problems.append(Problem("1 to 200 characters", "name"))
        if not valid_email(email):
            problems.append(Problem("not an e-mail address", "email"))
        with self._sessions() as session, session.begin():
            current = _current_terms(session, tier)
            if current is not None and terms_version != current.version:
                problems.append(
                    Problem(
                        f"accept the tier's current terms: version {current.version!r} "
                        f"({current.url})",
                        "accept_terms_version",
                    )
                )
            if problems:
                raise InvalidApplicationError("application", problems)
            token = CLAIM_PREFIX + secrets.token_urlsafe(32)
            now = utcnow()
            row = ApplicationRow(
                id="app_" + secrets.token_hex(8),
                tier=tier,
                status=ApplicationStatus.PENDING.value,
                name=name,
                email=email.strip(),
                answers={k: v for k, v in answers.items() if v not in (None, "")},
                terms_version=current.version if current is not None else None,
                claim_hash=hash_claim(token),
                created_at=now,
                renewal_of=renewal_of,
            )
            actor = f"applicant:{row.email}"[:200]
            self._auto_decide(row, spec, now)
            session.add(row)
            session.flush()
            record(
                session,
                self._audit,
                actor,
                {"action": "access.apply", "application_id": row.id, "tier": tier,
                 "status": row.status, "denial_category": row.denial_category,
                 "decided_by": row.decided_by, "renewal_of": renewal_of},
            )  # fmt: skip
            return Submitted(self._record(session, row), token)

    @staticmethod
    def _auto_decide(row: ApplicationRow, spec: ApplicationSpec, now: datetime) -> None:
        rule = spec.review
        country = row.answers.get("country")
        if isinstance(country, str) and country in rule.blocked_countries:
            _deny(row, DenialCategory.BLOCKED_COUNTRY, "auto: blocked country", "auto", now)
            return
        missing = [f for f in rule.deny_if_missing if row.answers.get(f) in (None, "")]
        if missing:
            _deny(
                row,
                DenialCategory.MISSING_INFORMATION,
                f"auto: missing {', '.join(missing)}",
                "auto",
                now,
            )
            return
        domain = row.email.rsplit("@", 1)[-1].lower()
        if domain in rule.auto_approve_email_domains:
            _approve(row, spec, "auto:email_domain", now)

    def renew(
        self,
        application_id: str,
        claim_token: str,
        answers: Mapping[str, object] | None,
        terms_version: str | None,
        *,
        is_open: bool,
    ) -> Submitted:
        """A new application pre-filled from a claimed one (answers given replace the old).

        Raises:
            ApplicationNotFoundError: no such application, or the token does not match.
            ApplicationError: 409 `not_claimed` (nothing to renew yet).
        """
        last = self.for_applicant(application_id, claim_token)
        if last.claimed_at is None:
            raise ApplicationError(
                f"application {application_id} has issued no key yet; there is nothing to renew",
                "not_claimed",
            )
        merged = {**last.answers, **dict(answers or {})}
        return self.submit(
            last.tier,
            last.name,
            last.email,
            merged,
            terms_version if terms_version is not None else last.terms_version,
            is_open=is_open,
            renewal_of=last.id,
        )

    # -- reading -------------------------------------------------------------------------------

    def get(self, application_id: str) -> ApplicationRecord:
        """An application with its reviews.

        Raises:
            ApplicationNotFoundError: none has this id.
        """
        with self._sessions() as session:
            row = session.get(ApplicationRow, application_id)
            if row is None:
                raise ApplicationNotFoundError(application_id)
            return self._record(session, row)

    def for_applicant(self, application_id: str, claim_token: str) -> ApplicationRecord:
        """The application whose claim token this is (a wrong token reads as no application)."""
        with self._sessions() as session:
            row = session.get(ApplicationRow, application_id)
            if row is None or not secrets.compare_digest(row.claim_hash, hash_claim(claim_token)):
                raise ApplicationNotFoundError(application_id)
            return self._record(session, row)

    def list(
        self, status: str | None = None, tier: str | None = None, limit: int = 200
    ) -> list[ApplicationRecord]:
        """Applications, newest first."""
        stmt = select(ApplicationRow).order_by(ApplicationRow.created_at.desc()).limit(limit)
        if status is not None:
            stmt = stmt.where(ApplicationRow.status == status)
        if tier is not None:
            stmt = stmt.where(ApplicationRow.tier == tier)
        with self._sessions() as session:
            return [self._record(session, r) for r in session.scalars(stmt).all()]

    # -- reviewing -----------------------------------------------------------------------------

    def comment(
        self, application_id: str, reviewer: PrincipalRecord, text: str
    ) -> ApplicationRecord:
        """Add a reviewer's comment (any status)."""
        if not text.strip():
            raise InvalidApplicationError("comment", [Problem("empty", "text")])
        with self._sessions() as session, session.begin():
            row = _locked(session, application_id)
            _vote(session, row, reviewer, "comment", text)
            record(
                session,
                self._audit,
                _actor(reviewer),
                {"action": "access.comment", "application_id": row.id},
            )
            return self._record(session, row)

    def approve(
        self, application_id: str, reviewer: PrincipalRecord, reason: str, *, is_open: bool
    ) -> ApplicationRecord:
        """One reviewer's approval; the application is approved once the rule's number of
        principals holding its role have approved.

        Raises:
            TierClosedError: the tier is not open now.
            ApplicationError: 403 `role_required` (the reviewer lacks the rule's role); 409
                `not_pending`, `already_voted`.
        """
        with self._sessions() as session, session.begin():
            row = _locked(session, application_id)
            spec = self.spec(row.tier)
            if not is_open:
                raise TierClosedError(row.tier)
            self._check_vote(session, row, reviewer, spec)
            _vote(session, row, reviewer, "approve", reason)
            votes = session.scalar(
                select(func.count())
                .select_from(ApplicationReviewRow)
                .where(
                    ApplicationReviewRow.application_id == row.id,
                    ApplicationReviewRow.verdict == "approve",
                )
            )
            now = utcnow()
            if int(votes or 0) >= spec.review.reviewers:
                _approve(row, spec, _actor(reviewer), now)
            record(
                session,
                self._audit,
                _actor(reviewer),
                {"action": "access.approve", "application_id": row.id, "tier": row.tier,
                 "approvals": int(votes or 0), "needed": spec.review.reviewers,
                 "status": row.status},
            )  # fmt: skip
            return self._record(session, row)

    def deny(
        self,
        application_id: str,
        reviewer: PrincipalRecord,
        category: DenialCategory,
        reason: str,
    ) -> ApplicationRecord:
        """Deny an application (one denial suffices); the applicant sees `category`.

        Raises:
            ApplicationError: 403 `role_required`; 409 `not_pending`, `already_voted`.
        """
        with self._sessions() as session, session.begin():
            row = _locked(session, application_id)
            spec = self.spec(row.tier)
            self._check_vote(session, row, reviewer, spec)
            _vote(session, row, reviewer, "deny", reason)
            _deny(row, category, reason, _actor(reviewer), utcnow())
            record(
                session,
                self._audit,
                _actor(reviewer),
                {"action": "access.deny", "application_id": row.id, "tier": row.tier,
                 "category": category.value},
            )  # fmt: skip
            return self._record(session, row)

    @staticmethod
    def _check_vote(
        session: Session, row: ApplicationRow, reviewer: PrincipalRecord, spec: ApplicationSpec
    ) -> None:
        if not reviewer.has_any([spec.review.role]):
            raise ApplicationError(
                f"tier {row.tier!r}'s applications are decided by the {spec.review.role} role; "
                f"{reviewer.name} does not hold it",
                "role_required",
                403,
            )
        if row.status != ApplicationStatus.PENDING.value:
            raise ApplicationError(
                f"application {row.id} is {row.status}, not pending", "not_pending"
            )
        voted = session.scalars(
            select(ApplicationReviewRow.id).where(
                ApplicationReviewRow.application_id == row.id,
                ApplicationReviewRow.reviewer_id == reviewer.id,
                ApplicationReviewRow.verdict != "comment",
            )
        ).first()
        if voted is not None:
            raise ApplicationError(
                f"{reviewer.name} has already decided on application {row.id}; another "
                "reviewer must",
                "already_voted",
            )

    # -- claiming ------------------------------------------------------------------------------

    def claim(self, application_id: str, claim_token: str, *, is_open: bool) -> Claimed:
        """Issue the key of an approved application, once.

        Raises:
            ApplicationNotFoundError: no such application, or the token does not match.
            TierClosedError: the tier is not open now.
            ApplicationError: 409 `not_approved`; 410 `already_claimed`; 409 `approval_expired`.
        """
        with self._sessions() as session, session.begin():
            row = _locked(session, application_id)
            if not secrets.compare_digest(row.claim_hash, hash_claim(claim_token)):
                raise ApplicationNotFoundError(application_id)
            if row.status != ApplicationStatus.APPROVED.value:
                raise ApplicationError(
                    f"application {row.id} is {row.status}; only an approved one has a key",
                    "not_approved",
                )
            if row.claimed_at is not None:
                raise ApplicationError(
                    f"the key of application {row.id} was claimed at "
                    f"{row.claimed_at.isoformat()}; it is shown only once",
                    "already_claimed",
                    410,
                )
            if not is_open:
                raise TierClosedError(row.tier)
            tier = self.tiers[row.tier]
            now = utcnow()
            expires = row.key_expires_at
            if expires is not None and expires <= now:
                raise ApplicationError(
                    f"the approval of application {row.id} has lapsed; renew it",
                    "approval_expired",
                )
            holder = _applicant(session, row, now)
            if row.terms_version is not None:
                _accept(session, holder.id, row.tier, row.terms_version)
            plaintext, key = _new_row(tier.name, row.email, now, expires, KeyLimits(), None)
            key.principal_id = holder.id
            session.add(key)
            row.claimed_at, row.key_id, row.principal_id = now, key.id, holder.id
            record(
                session,
                self._audit,
                f"applicant:{row.email}"[:200],
                {"action": "access.claim", "application_id": row.id, "key_id": key.id,
                 "principal_id": holder.id, "tier": row.tier,
                 "expires_at": _iso(expires)},
            )  # fmt: skip
            session.flush()
            issued = CreatedKey(plaintext, _to_record(key))
            return Claimed(issued, to_record(holder), self._record(session, row))

    def _record(self, session: Session, row: ApplicationRow) -> ApplicationRecord:
        reviews = session.scalars(
            select(ApplicationReviewRow)
            .where(ApplicationReviewRow.application_id == row.id)
            .order_by(ApplicationReviewRow.id)
        ).all()
        tier = self.tiers.get(row.tier)
        needed = tier.application.review.reviewers if tier and tier.application else 1
        return ApplicationRecord(
            id=row.id,
            tier=row.tier,
            status=ApplicationStatus(row.status),
            name=row.name,
            email=row.email,
            answers=dict(row.answers),
            terms_version=row.terms_version,
            created_at=row.created_at,
            decided_at=row.decided_at,
            decided_by=row.decided_by,
            denial_category=row.denial_category,
            denial_reason=row.denial_reason,
            key_expires_at=row.key_expires_at,
            claimed_at=row.claimed_at,
            key_id=row.key_id,
            principal_id=row.principal_id,
            renewal_of=row.renewal_of,
            reviews=tuple(
                Review(r.reviewer_id, r.reviewer, r.verdict, r.text, r.created_at) for r in reviews
            ),
            approvals_needed=needed,
        )


def _actor(reviewer: PrincipalRecord) -> str:
    return f"{reviewer.id}:{reviewer.name}"[:200]


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _approve(row: ApplicationRow, spec: ApplicationSpec, by: str, now: datetime) -> None:
    row.status = ApplicationStatus.APPROVED.value
    row.decided_at, row.decided_by = now, by
    row.key_expires_at = now + timedelta(days=spec.key_days)


def _deny(
    row: ApplicationRow, category: DenialCategory, reason: str, by: str, now: datetime
) -> None:
    row.status = ApplicationStatus.DENIED.value
    row.decided_at, row.decided_by = now, by
    row.denial_category, row.denial_reason = category.value, reason


def _vote(
    session: Session, row: ApplicationRow, reviewer: PrincipalRecord, verdict: str, text: str
) -> None:
    session.add(
        ApplicationReviewRow(
            application_id=row.id,
            reviewer_id=reviewer.id,
            reviewer=reviewer.name,
            verdict=verdict,
            text=text,
            created_at=utcnow(),
        )
    )
    session.flush()


def _locked(session: Session, application_id: str) -> ApplicationRow:
    row = get_for_update(session, ApplicationRow, application_id)
    if row is None:
        raise ApplicationNotFoundError(application_id)
    return row


def _current_terms(session: Session, tier: str) -> TierTermsRow | None:
    return session.scalars(
        select(TierTermsRow).where(TierTermsRow.tier == tier).order_by(TierTermsRow.id.desc())
    ).first()


def _terms(row: TierTermsRow) -> Terms:
    return Terms(
        row.tier, row.version, row.url, row.text_sha256, row.published_at, row.published_by
    )


def _accept(session: Session, principal_id: str, tier: str, version: str) -> None:
    done = session.scalars(
        select(TermsAcceptanceRow.id).where(
            TermsAcceptanceRow.principal_id == principal_id,
            TermsAcceptanceRow.tier == tier,
            TermsAcceptanceRow.version == version,
        )
    ).first()
    if done is None:
        session.add(
            TermsAcceptanceRow(
                principal_id=principal_id, tier=tier, version=version, accepted_at=utcnow()
            )
        )


def _applicant(session: Session, row: ApplicationRow, now: datetime) -> PrincipalRow:
    """The applicant's principal (named by their e-mail), made at their first claim."""
    key = row.email.casefold()
    holder = session.scalars(select(PrincipalRow).where(PrincipalRow.name_key == key)).first()
    if holder is not None:
        if Role.APPLICANT.value not in holder.roles:
            holder.roles = [*holder.roles, Role.APPLICANT.value]
        return holder
    holder = PrincipalRow(
        id="prn_" + secrets.token_hex(8),
        name=row.email,
        name_key=key,
        kind="person",
        email=row.email,
        roles=[Role.APPLICANT.value],
        created_at=now,
        created_by=f"application:{row.id}",
    )
    session.add(holder)
    session.flush()
    return holder


__all__ = [
    "CLAIM_PREFIX",
    "AccessProgramme",
    "ApplicationError",
    "ApplicationNotFoundError",
    "ApplicationRecord",
    "ApplicationStatus",
    "Claimed",
    "DenialCategory",
    "InvalidApplicationError",
    "Review",
    "Submitted",
    "Terms",
    "TierClosedError",
]
