"""The audit log as the access programme sees it: records appended inside a change's own
transaction, so a change and its record commit together or not at all.

`access` sits below `audit` in the import layers, so it names only what it needs (a Protocol
that `releasegate.audit.AuditLog` satisfies) and the caller passes the log in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from sqlalchemy import Connection
from sqlalchemy.orm import Session


class TransactionalAudit(Protocol):
    """What the access programme needs of an audit log (`releasegate.audit.AuditLog`)."""

    def prepare(
        self,
        kind: str,
        actor: str,
        payload: Mapping[str, Any],
        content: Mapping[str, Any] | None = None,
    ) -> Any:
        """Validate one entry without writing it."""
        ...

    def append_on(self, connection: Connection, entries: Sequence[Any]) -> Sequence[Any]:
        """Append prepared entries inside the caller's open transaction."""
        ...


def record(
    session: Session, audit: TransactionalAudit, actor: str, payload: dict[str, Any]
) -> None:
    """Append an `admin` record of an access-programme change in `session`'s transaction."""
    audit.append_on(session.connection(), [audit.prepare("admin", actor, payload)])


__all__ = ["TransactionalAudit", "record"]
