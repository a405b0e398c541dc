"""The store, audit log and error handling shared by the keys / audit / decision commands."""

from __future__ import annotations

import getpass
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

import typer
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from releasegate._cli._common import err_console, safe
from releasegate.errors import ReleasegateError
from releasegate.settings import Settings

if TYPE_CHECKING:
    from releasegate.access import PrincipalRecord
    from releasegate.audit import AuditLog

# Who may run the commands that read or change the store directly, once it has principals
# (the same roles as the matching admin routes).
READ = ("admin", "auditor", "reviewer", "release_lead", "safety_lead")


@dataclass
class CliStore:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    person: PrincipalRecord | None = field(default=None)

    @cached_property
    def audit(self) -> AuditLog:
        """The store's audit log (changes append to it in their own transaction), after checking
        that this CLI's HMAC key is the store's (`AuditKeyMismatch`, a ValueError, otherwise)."""
        from releasegate.audit import audit_log_from_settings

        log = audit_log_from_settings(self.settings, self.sessions)
        log.claim_key()
        return log

    @cached_property
    def trusted_keys(self) -> frozenset[str] | None:
        """RELEASEGATE_TRUSTED_SIGNER_KEYS, parsed (None: every registered signer counts)."""
        from releasegate.approvals import trusted_keys

        return trusted_keys(self.settings.trusted_signer_keys)

    @property
    def actor(self) -> str:
        """Who acts through the CLI, as the audit log names them: the principal whose token
        was checked, else the operating-system user (a store without principals)."""
        if self.person is not None:
            return f"{self.person.id}:{self.person.name}"[:200]
        return f"cli:{_user()}"

    def check_roles(self, roles: tuple[str, ...]) -> None:
        """Refuse (exit 2) unless RELEASEGATE_PRINCIPAL_TOKEN names an active principal holding
        one of `roles`. A store without any principal yet is run by whoever can open it (the
        bootstrap period: `releasegate principals bootstrap` ends it)."""
        from sqlalchemy import select

        from releasegate.access._principals import authenticate_token
        from releasegate.store.tables.access import PrincipalRow

        with self.sessions() as session:
            if session.scalar(select(PrincipalRow.id).limit(1)) is None:
                return
        token = self.settings.principal_token
        if token is None:
            fail(
                "this store has principals: set RELEASEGATE_PRINCIPAL_TOKEN to your principal "
                f"token (this command needs one of the roles {', '.join(roles)})"
            )
            return
        person = authenticate_token(self.sessions, token.get_secret_value())
        if person is None:
            fail("invalid principal token (unknown, revoked, or its principal is suspended)")
            return
        if not person.has_any(roles):
            held = ", ".join(r.value for r in person.roles)
            needed = ", ".join(roles)
            fail(f"this command needs one of the roles {needed}; {person.name} holds {held}")
        self.person = person

    def audit_admin(self, action: str, **details: Any) -> None:
        """Append an `admin` audit record for an action taken through the CLI."""
        self.audit.append("admin", self.actor, {"action": action, "via": "cli", **details})

    def announce(self) -> None:
        """Wake the gateways on Redis at once (they poll the store anyway)."""
        from releasegate.approvals import announce

        announce(self.settings.redis_url)


def _check_audit_key(store: CliStore) -> None:
    """Refuse to act on a store whose audit log is signed with another key than this CLI's,
    before anything is written (a change and its record would otherwise part ways)."""
    settings = store.settings
    if settings.audit_hmac_key is None and not settings.resolved_database_url().startswith(
        "sqlite"
    ):
        return  # a shared store without a key: commands that need the log say so themselves
    store.audit  # noqa: B018 (builds the log, which checks the key)


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (some containers)
        return "unknown"


@contextmanager
def cli_store(*roles: str) -> Iterator[CliStore]:
    """Open the store of the environment's settings; errors become `error: ...`, exit 2.

    Args:
        roles: the caller must hold one of these (`CliStore.check_roles`); none: no check
            (commands with their own rule, such as `decide` or `principals bootstrap`).
    """
    with cli_errors():
        from releasegate.store import open_store

        settings = Settings()
        engine, sessions = open_store(settings)
        try:
            store = CliStore(settings, engine, sessions)
            _check_audit_key(store)
            if roles:
                store.check_roles(roles)
            yield store
        finally:
            engine.dispose()


@contextmanager
def cli_errors() -> Iterator[None]:
    """Print releasegate's own errors (and unusable values) as one line; exit code 2."""
    try:
        yield
    except (ReleasegateError, ValueError) as exc:
        fail(str(exc))
    except SQLAlchemyError as exc:
        fail(f"the store is unavailable: {exc.__class__.__name__}: {exc}".splitlines()[0])


def fail(message: str, code: int = 2) -> None:
    err_console().print(f"[bold red]error:[/] {safe(message)}", highlight=False)
    raise typer.Exit(code)
