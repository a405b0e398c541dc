"""`AuditSink`: what the gateway and the CLI need of the audit log, as a typed seam."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from releasegate.audit._chain import AuditRecord, JsonValue


class AuditSink(Protocol):
    """Appends records that are committed before the call returns (fail closed).

    `AuditWriter` (the group-commit writer over the synchronous `AuditLog`) is the
    implementation; anything that honours the same promise (a record is durable when
    `append_async` returns, and a failure raises) may stand in for it.
    """

    async def append_async(
        self,
        kind: str,
        actor: str,
        payload: Mapping[str, JsonValue],
        content: Mapping[str, JsonValue] | None = None,
    ) -> AuditRecord:
        """Append one record; returns once it is committed, raises if it could not be."""
        ...

    async def aclose(self) -> None:
        """Finish in-flight appends and release what the sink holds."""
        ...


__all__ = ["AuditSink"]
