"""The change counter every gateway polls, the audit records written with each change, and
the optional Redis notice that wakes the pollers at once.

Every change that can alter what is open (a signature, a revoked signer, a fired trigger) bumps
`approvals_state.version` in its own transaction, so a process that reads an unchanged version
knows nothing it depends on changed. The same transaction appends the change's audit record
(`AuditLog.append_on`): the change and its record commit together or not at all.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from releasegate.audit import AuditLog
from releasegate.store._types import utcnow
from releasegate.store.tables.approvals import ApprovalsStateRow

log = logging.getLogger("releasegate.approvals")

# The Redis channel on which a change is announced (its message is the new version).
CHANNEL = "releasegate:approvals"


def bump_version(session: Session) -> None:
    """Count one change, inside the caller's transaction."""
    session.execute(
        update(ApprovalsStateRow)
        .where(ApprovalsStateRow.id == 1)
        .values(version=ApprovalsStateRow.version + 1, changed_at=utcnow())
    )


def read_version(session: Session) -> int:
    """The current change count (0 before the first change).

    Raises:
        RuntimeError: the counter row is missing (the migrations did not run).
    """
    version = session.scalar(select(ApprovalsStateRow.version).where(ApprovalsStateRow.id == 1))
    if version is None:
        raise RuntimeError("approvals_state has no row: run the store migrations")
    return int(version)


def audit_in(session: Session, audit: AuditLog, actor: str, payload: dict[str, Any]) -> int:
    """Append an `admin` audit record in the caller's transaction; returns its seq."""
    entry = audit.prepare("admin", actor, payload)
    [record] = audit.append_on(session.connection(), [entry])
    return record.seq


def announce(redis_url: str | None) -> None:
    """Tell the gateways on `redis_url` that something changed (best effort: they also poll
    the counter, so a lost notice only delays them by one poll)."""
    if not redis_url:
        return
    import redis

    try:
        client = redis.Redis.from_url(redis_url, socket_connect_timeout=2, socket_timeout=2)
        try:
            client.publish(CHANNEL, "changed")
        finally:
            client.close()
    except redis.RedisError as exc:
        log.warning("could not announce the change on Redis (gateways poll anyway): %s", exc)


__all__ = ["CHANNEL", "announce", "audit_in", "bump_version", "read_version"]
