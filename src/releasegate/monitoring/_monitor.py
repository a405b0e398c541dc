"""`MisuseMonitor`: count each key's flagged requests; suspend a key that crosses its tier's
threshold and open an incident naming the audit records that caused it.

The idea is the misuse monitoring that structured access makes possible and open weights
cannot (Seger et al. 2023; Shevlane 2022, "Structured access"): a provider sees every request,
so repeated attempts to get harmful help can be noticed and cut off.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Protocol

from releasegate.access._tiers import TierSpec
from releasegate.audit._sink import AuditSink
from releasegate.monitoring._counter import FlagCounter, FlagEvent, MonitorUnavailable
from releasegate.monitoring._incidents import Incident, IncidentStore

log = logging.getLogger("releasegate.monitoring")


class Monitor(Protocol):
    """What the gateway needs of misuse monitoring (`MisuseMonitor` is the implementation)."""

    incidents: IncidentStore

    async def record_flag(
        self, *, key_id: str, tier: TierSpec, seq: int, categories: Iterable[str]
    ) -> Incident | None:
        """Count one flagged request; the incident it opened, if it crossed the threshold."""
        ...

    async def resolve(
        self, incident_id: str, by: str, note: str | None = None, *, unsuspend: bool = False
    ) -> Incident:
        """Resolve an incident (and lift its key's suspension with `unsuspend`)."""
        ...

    async def aclose(self) -> None:
        """Release the counters' connections."""
        ...


class MisuseMonitor:
    """Counts flagged requests per key and trips at the tier's `flag_threshold`.

    Args:
        counter: the sliding-window counters (memory or Redis).
        incidents: where incidents are recorded (and keys suspended).
        audit: the audit log; each automatic suspension is audited.
        on_suspend: called with the key id once its suspension is committed (the gateway
            drops its key cache, so this process refuses the key at once).
    """

    def __init__(
        self,
        counter: FlagCounter,
        incidents: IncidentStore,
        *,
        audit: AuditSink | None = None,
        on_suspend: Callable[[str], None] | None = None,
    ) -> None:
        self.counter = counter
        self.incidents = incidents
        self._audit = audit
        self._on_suspend = on_suspend

    async def record_flag(
        self, *, key_id: str, tier: TierSpec, seq: int, categories: Iterable[str]
    ) -> Incident | None:
        """Count one flagged request (its audit record `seq`).

        Returns:
            The incident this request opened (it crossed the threshold), else None.

        Raises:
            MonitorUnavailable: the flag could not be counted, or the crossing could not be
                recorded; the caller refuses the request (fail closed). A crossing that could
                not be recorded is forgotten, so the key's next flagged request retries it.
        """
        event = FlagEvent(seq=seq, at=time.time(), categories=tuple(sorted(set(categories))))
        result = await self.counter.add(
            key_id, event, threshold=tier.flag_threshold, window_s=tier.flag_window_s
        )
        if not result.crossed:
            return None
        end = max(e.at for e in result.events)
        window_end = datetime.fromtimestamp(end, UTC)
        window_start = datetime.fromtimestamp(end - tier.flag_window_s, UTC)
        cats = sorted({c for e in result.events for c in e.categories})
        reason = (
            f"misuse monitoring: {len(result.events)} flagged requests within "
            f"{tier.flag_window_s} s (tier {tier.name} threshold {tier.flag_threshold})"
        )
        try:
            incident, created = await asyncio.to_thread(
                self.incidents.open,
                key_id=key_id,
                tier=tier.name,
                window_start=window_start,
                window_end=window_end,
                audit_seqs=[e.seq for e in result.events],
                categories=cats,
                trigger_seq=seq,
                reason=reason,
            )
        except Exception as exc:
            log.error("could not record the incident of key %s: %s", key_id, exc)
            with contextlib.suppress(MonitorUnavailable):  # else it expires after one window
                await self.counter.untrip(key_id)
            raise MonitorUnavailable(f"could not record the incident: {exc}") from exc
        if self._on_suspend is not None:
            self._on_suspend(key_id)
        if not created:
            return None
        if self._audit is not None:
            try:
                await self._audit.append_async(
                    "admin",
                    "monitor",
                    {
                        "action": "incidents.open",
                        "incident_id": incident.id,
                        "key_id": key_id,
                        "tier": tier.name,
                        "flag_count": incident.flag_count,
                        "categories": incident.categories,
                        "audit_seqs": incident.audit_seqs,
                        "suspended": True,
                    },
                )
            except Exception as exc:
                raise MonitorUnavailable(f"could not audit incident {incident.id}: {exc}") from exc
        log.warning("key %s suspended: %s (incident %s)", key_id, reason, incident.id)
        return incident

    async def resolve(
        self, incident_id: str, by: str, note: str | None = None, *, unsuspend: bool = False
    ) -> Incident:
        """Resolve an incident and clear its key's counter (a fresh start if unsuspended).

        Raises:
            IncidentNotFoundError, ValueError: see `IncidentStore.resolve`.
        """
        incident = await asyncio.to_thread(
            self.incidents.resolve, incident_id, by, note, unsuspend=unsuspend
        )
        try:
            await self.counter.reset(incident.key_id)
        except MonitorUnavailable as exc:  # the window and the mark expire on their own
            log.warning("could not clear the flag counter of %s: %s", incident.key_id, exc)
        if unsuspend and self._on_suspend is not None:
            self._on_suspend(incident.key_id)
        return incident

    async def aclose(self) -> None:
        await self.counter.aclose()


__all__ = ["MisuseMonitor", "Monitor"]
