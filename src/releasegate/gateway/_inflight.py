"""Streamed requests in flight, so that a process killed mid-stream leaves none without an end.

A stream's opening is audited before its first byte leaves (an answered request always has its
record); its end is a second record. A process killed with `kill -9` between the two never writes
the end. So each open stream is also a row of `audit_open_requests`, written before the opening
record and deleted after the end record, under the id of the process (`instance`) that serves it;
every process says it is alive in `gateway_instances` every `heartbeat_s`. Any process, when it
starts and at every heartbeat, closes the rows of processes not seen for `dead_after_s` with an
`aborted` record: the row's deletion and the record commit in one transaction, so two processes
sweeping together write one record, not two. A row is deleted only after its end record is
committed, so a crash between the two costs a spare `aborted` record, never a missing end.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, sessionmaker

from releasegate.audit import AuditLog
from releasegate.store.tables.audit import GatewayInstanceRow, OpenRequestRow

log = logging.getLogger("releasegate.gateway")


class InFlight:
    """The open streams of one gateway process, and the sweep that closes dead processes' ones.

    Args:
        sessions: the store.
        audit: the audit log's synchronous core (the sweep appends inside its transaction).
        heartbeat_s: seconds between this process's heartbeats (and sweeps).
        dead_after_s: a process not seen for this long is dead; default 5 heartbeats.
    """

    def __init__(
        self,
        sessions: sessionmaker[Session],
        audit: AuditLog,
        *,
        heartbeat_s: float = 2.0,
        dead_after_s: float | None = None,
    ) -> None:
        self._sessions = sessions
        self._audit = audit
        self.instance = os.urandom(8).hex()
        self.heartbeat_s = heartbeat_s
        self.dead_after_s = dead_after_s if dead_after_s is not None else 5 * heartbeat_s
        self._task: asyncio.Task[None] | None = None
        self.aborted = 0  # records this process wrote for dead processes' streams

    async def start(self) -> None:
        """Say this process is alive, close dead processes' streams, start the heartbeat."""
        now = time.time()
        await asyncio.to_thread(self._register, now)
        await asyncio.to_thread(self.sweep)
        self._task = asyncio.get_running_loop().create_task(self._beat())

    def _register(self, now: float) -> None:
        with self._sessions() as session, session.begin():
            session.add(GatewayInstanceRow(instance=self.instance, started_at=now, seen_at=now))

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(self.heartbeat_s)
            try:
                await asyncio.to_thread(self._heartbeat)
                await asyncio.to_thread(self.sweep)
            except Exception as exc:  # the next beat tries again
                log.warning("gateway heartbeat failed: %s", exc)

    def _heartbeat(self) -> None:
        with self._sessions() as session, session.begin():
            session.execute(
                update(GatewayInstanceRow)
                .where(GatewayInstanceRow.instance == self.instance)
                .values(seen_at=time.time())
            )

    def sweep(self) -> int:
        """Close every open stream of a dead process with an `aborted` record; how many."""
        cutoff = time.time() - self.dead_after_s
        with self._sessions() as session:
            alive = set(
                session.scalars(
                    select(GatewayInstanceRow.instance).where(GatewayInstanceRow.seen_at >= cutoff)
                )
            )
            alive.add(self.instance)
            orphans = [
                (row.request_id, row.instance, row.actor, row.route, row.opened_at)
                for row in session.scalars(select(OpenRequestRow))
                if row.instance not in alive
            ]
        closed = 0
        for request_id, instance, actor, route, opened_at in orphans:
            entry = self._audit.prepare(
                "request",
                actor,
                {
                    "request_id": request_id,
                    "route": route,
                    "phase": "aborted",
                    "status": 499,
                    "error": "aborted",
                    "reason": "the gateway process serving this stream stopped before its end "
                    "was recorded",
                    "instance": instance,
                    "opened_at": opened_at,
                },
            )
            with self._audit.engine.begin() as connection:
                gone = connection.execute(
                    delete(OpenRequestRow).where(OpenRequestRow.request_id == request_id)
                ).rowcount
                if gone == 1:  # another sweeper did not take it first
                    self._audit.append_on(connection, [entry])
                    closed += 1
        if orphans:
            with self._sessions() as session, session.begin():
                session.execute(
                    delete(GatewayInstanceRow).where(
                        GatewayInstanceRow.seen_at < cutoff,
                        GatewayInstanceRow.instance != self.instance,
                    )
                )
        self.aborted += closed
        return closed

    async def opened(self, request_id: str, actor: str, route: str) -> None:
        """Record a stream as open (before its opening record is written)."""
        await asyncio.to_thread(self._open, request_id, actor, route)

    def _open(self, request_id: str, actor: str, route: str) -> None:
        with self._sessions() as session, session.begin():
            session.add(
                OpenRequestRow(
                    request_id=request_id,
                    instance=self.instance,
                    actor=actor,
                    route=route,
                    opened_at=time.time(),
                )
            )

    async def closed(self, request_id: str) -> None:
        """The stream's end is recorded: it is no longer open (a failure only costs a spare
        `aborted` record later)."""
        try:
            await asyncio.to_thread(self._close, request_id)
        except Exception as exc:
            log.warning("could not mark request %s closed: %s", request_id, exc)

    def _close(self, request_id: str) -> None:
        with self._sessions() as session, session.begin():
            session.execute(delete(OpenRequestRow).where(OpenRequestRow.request_id == request_id))

    async def aclose(self) -> None:
        """Stop the heartbeat and say goodbye (a stopped process's streams were ended)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        try:
            await asyncio.to_thread(self._unregister)
        except Exception as exc:
            log.warning("could not unregister gateway instance: %s", exc)

    def _unregister(self) -> None:
        with self._sessions() as session, session.begin():
            session.execute(
                delete(GatewayInstanceRow).where(GatewayInstanceRow.instance == self.instance)
            )


__all__ = ["InFlight"]
