"""What a request is while it crosses the pipeline, and what a route gives the pipeline.

`Call` is filled step by step by `Pipeline.run`; a `Route` is the handler of one row of the
route table (`releasegate.gateway.RouteRow`): it turns the row's validated request model into
what it needs, refuses what the caller's tier does not grant, and does the work.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from pydantic import BaseModel
from starlette.requests import Request

from releasegate.access._keys import KeyRecord
from releasegate.access._principals import PrincipalRecord
from releasegate.access._tiers import TierSpec
from releasegate.audit import JsonValue
from releasegate.backends._base import ChatMessage, StreamChunk
from releasegate.gateway._ratelimit import Quota, Reservation
from releasegate.guards._base import GuardVerdict
from releasegate.guards._chain import GuardChain


@dataclass(slots=True)
class Principal:
    """Who is calling: a key of a tier, a staff principal (`roles`, `person`), the bootstrap
    admin token, or an anonymous client of a public route (`anonymous`, id `ip:<address>`)."""

    id: str
    owner: str
    tier: TierSpec | None
    quota: Quota
    guards: GuardChain | None
    admin: bool = False
    record: KeyRecord | None = None
    roles: frozenset[str] = frozenset()
    person: PrincipalRecord | None = None
    anonymous: bool = False

    @property
    def actor(self) -> str:
        """How the audit log names who acted: a principal's id and name, a key's id."""
        if self.person is not None:
            return f"{self.person.id}:{self.person.name}"[:200]
        return self.id


@dataclass(slots=True)
class Call:
    """One request on its way through the pipeline; routes read and fill it.

    `audit_extra` is extra payload for the request's audit record (the model, the admin
    action...); `content` holds the prompt and output, which the audit log stores in full or
    as hashes (`audit_store_content`).
    """

    route: str
    request: Request
    request_id: str
    started: float
    principal: Principal | None = None
    parsed: Any = None  # what the route's `parse` returned; each route knows its own type
    reservation: Reservation | None = None
    input_verdict: GuardVerdict | None = None
    output_verdicts: list[GuardVerdict] = field(default_factory=list)
    used_tokens: int = 0
    status: int = 200
    error_code: str | None = None
    audit_extra: dict[str, object] = field(default_factory=dict)
    content: dict[str, JsonValue] = field(default_factory=dict)
    audit_seqs: list[int] = field(default_factory=list)  # seq of each audit record written

    @property
    def path_params(self) -> Mapping[str, str]:
        """The row's path parameters (`{key_id}`...), as strings."""
        params: Mapping[str, str] = self.request.path_params
        return params


@dataclass(slots=True)
class Unary:
    """A finished result: `render(verdicts)` builds the body once each output is judged.

    The body is a JSON-ready object, or a ready `Response` for a route with its own media type
    (`/metrics`).
    """

    outputs: list[str]
    render: Callable[[list[GuardVerdict | None]], object]
    used_tokens: int = 0


@dataclass(slots=True)
class Streamed:
    """A streamed result: the pipeline scans `chunks` and frames what passes with `frame`."""

    chunks: AsyncIterator[StreamChunk]
    frame: Callable[[str | None, str | None, bool], bytes]  # (text, finish_reason, first)
    usage: Callable[[int, int], bytes | None]  # (prompt, completion) -> final usage event
    used_tokens: int = 0


class Route(Protocol):
    """The handler of one route-table row, as the pipeline drives it.

    `parse` receives the row's request model already validated by pydantic (None for a row
    without a body or query model), so a route never sees malformed input.
    """

    def parse(self, body: BaseModel | None, call: Call) -> object:
        """Check what the model cannot (the served model, a tier name) and prepare the work."""
        ...

    def authorize(self, principal: Principal, parsed: Any) -> None:
        """Refuse (403) what the principal's tier does not grant beyond the row's capability."""
        ...

    def reserve_tokens(self, parsed: Any) -> int:
        """Worst-case tokens the request may use (reserved against tpm/daily quotas)."""
        ...

    def input_messages(self, parsed: Any) -> Sequence[ChatMessage]:
        """Texts the input guards must judge (empty: nothing to judge)."""
        ...

    async def execute(self, call: Call) -> Unary | Streamed:
        """Do the work (call the backend, run the admin action)."""
        ...


Observer = Callable[[Call], Awaitable[None]]


class NoInput:
    """Mixin for routes whose requests carry no text for the guards and no token cost."""

    def authorize(self, principal: Principal, parsed: object) -> None:
        return None

    def reserve_tokens(self, parsed: object) -> int:
        return 0

    def input_messages(self, parsed: object) -> Sequence[ChatMessage]:
        return ()


__all__ = ["Call", "NoInput", "Observer", "Principal", "Route", "Streamed", "Unary"]
