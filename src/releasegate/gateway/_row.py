"""A row of the route table: everything about one HTTP route in one place.

    RouteRow(
        "POST", "/v1/chat/completions", chat_route,
        name="chat.completions",
        request=ChatCompletionRequest, response=ChatCompletion,
        requires=Requires.key(), rate_limit=RateLimit.tier(),
        summary="Chat completion (OpenAI-compatible)",
    )

`create_app` registers each row as a route of the app and builds its handler once, when the
gateway starts; `/openapi.json` is generated from the rows' models; `Pipeline.run` validates
the body with `request`, checks `requires` and meters `rate_limit` before the handler sees
anything. See docs/gateway.md ("Adding a route").
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, Literal, TypeVar

from pydantic import BaseModel, TypeAdapter

from releasegate.gateway._call import Principal, Route
from releasegate.gateway._ratelimit import Quota

Ctx = TypeVar("Ctx")
Method = Literal["GET", "POST", "PUT", "PATCH", "DELETE"]


@dataclass(frozen=True, slots=True)
class Requires:
    """Who may call a route: a principal holding one of `roles` (or the bootstrap admin token,
    which counts as `admin`), a key (optionally one whose tier grants a boolean capability such
    as `research`), or anyone (`public`: no credential, metered per client address).

    Build it with `Requires.staff(*roles)`, `Requires.admin()`, `Requires.key(capability)` or
    `Requires.public()`.
    """

    kind: Literal["staff", "key", "public"]
    capability: str | None = None
    roles: frozenset[str] = frozenset()
    # A key route that works before its holder accepted the tier's current terms (accepting them).
    terms: bool = True

    @classmethod
    def staff(cls, *roles: str) -> Requires:
        """A principal token (`rgp-...`) of a principal holding one of `roles`; the admin token
        (`RELEASEGATE_ADMIN_TOKEN`, the bootstrap path) counts as the `admin` role."""
        if not roles:
            raise ValueError("Requires.staff needs at least one role")
        return cls("staff", roles=frozenset(roles))

    @classmethod
    def admin(cls) -> Requires:
        """The `admin` role only."""
        return cls.staff("admin")

    @classmethod
    def key(cls, capability: str | None = None, *, terms: bool = True) -> Requires:
        """Any valid key, or one whose tier has `capability` set (a `TierSpec` field).
        `terms=False`: also before the holder accepted the tier's current terms."""
        return cls("key", capability, terms=terms)

    @classmethod
    def public(cls) -> Requires:
        """No credential (applications, terms): metered per client address, never audited as
        a request (the changes such a route makes are audited by the library)."""
        return cls("public")

    def describe(self) -> str:
        """One line for the docs: 'roles admin, reviewer', 'key', 'public'."""
        if self.kind == "staff":
            return "role " + " | ".join(sorted(self.roles))
        if self.kind == "public":
            return "public (per client address)"
        return f"key, tier capability `{self.capability}`" if self.capability else "key"


@dataclass(frozen=True, slots=True)
class RateLimit:
    """How a route is metered: the calling key's tier quota (rpm, tpm, daily tokens, lowered by
    the key's own limits), or a fixed requests-per-minute per caller.

    Build it with `RateLimit.tier()` or `RateLimit.per_minute(n)`.
    """

    rpm: int | None = None
    per_minute_tokens: bool = True

    @classmethod
    def tier(cls) -> RateLimit:
        """The key's quota, as its tier and its own limits set it."""
        return cls(None)

    @classmethod
    def training(cls) -> RateLimit:
        """The key's quota without its tokens-per-minute limit: a fine-tuning job's training
        tokens are reserved at once and count against the daily quota (and requests against
        rpm), not against a per-minute rate no training file would fit in."""
        return cls(None, per_minute_tokens=False)

    @classmethod
    def per_minute(cls, rpm: int) -> RateLimit:
        """A fixed number of requests per minute per caller (admin routes)."""
        return cls(rpm)

    def quota(self, principal: Principal) -> Quota:
        """The quota in force for `principal` on this route."""
        if self.rpm is None:
            q = principal.quota
            if self.per_minute_tokens:
                return q
            return Quota(rpm=q.rpm, tpm=None, daily_tokens=q.daily_tokens)
        return Quota(rpm=self.rpm, tpm=None, daily_tokens=None)

    def describe(self) -> str:
        """One line for the docs."""
        if self.rpm is None:
            return "tier quota" if self.per_minute_tokens else "tier quota (daily tokens, rpm)"
        return f"{self.rpm}/min"


@dataclass(frozen=True, slots=True)
class RouteRow(Generic[Ctx]):
    """One HTTP route.

    Args:
        method: the HTTP method.
        path: the path, with `{name}` parameters (strings).
        handler: builds the route's handler from the running gateway, once at startup.
        name: the route's name in audit records and metrics (`chat.completions`).
        request: the pydantic model of the JSON body (POST) or of the query string (GET);
            None when the route takes neither.
        response: the pydantic model of a JSON response (documentation and tests; the handler
            may build a plain dict on the hot path). None for a non-JSON response.
        requires: who may call it.
        rate_limit: how it is metered.
        summary: one line for `/docs`.
        media_type: the response's media type when it is not JSON.
        body_optional: an empty body stands for `{}` (every field has a default).
        tags: OpenAPI tags (grouping in `/docs`).
        body_format: "json", or "multipart" for a `multipart/form-data` body (file uploads):
            its parts, by name, are validated with `request` (a file part as bytes, its file
            name as `filename`).
    """

    method: Method
    path: str
    handler: Callable[[Ctx], Route]
    name: str
    request: type[BaseModel] | None
    response: type[BaseModel] | None
    requires: Requires
    rate_limit: RateLimit
    summary: str
    media_type: str = "application/json"
    body_optional: bool = False
    tags: tuple[str, ...] = ()
    body_format: Literal["json", "multipart"] = "json"
    _adapter: TypeAdapter[BaseModel] | None = field(
        default=None, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        # One TypeAdapter per row, built once: validation on the hot path reuses its core schema.
        if self.request is not None:
            object.__setattr__(self, "_adapter", TypeAdapter(self.request))

    @property
    def has_body(self) -> bool:
        """The request model is the JSON body (every method but GET)."""
        return self.request is not None and self.method != "GET"

    @property
    def has_query(self) -> bool:
        """The request model is the query string (GET)."""
        return self.request is not None and self.method == "GET"

    @property
    def path_params(self) -> list[str]:
        """The names of the path's `{parameters}`, in order."""
        return re.findall(r"{(\w+)}", self.path)

    def validate_json(self, body: bytes) -> BaseModel:
        """Validate a raw JSON body with the request model (raises pydantic's ValidationError)."""
        assert self._adapter is not None
        return self._adapter.validate_json(body)

    def validate_form(self, fields: dict[str, object]) -> BaseModel:
        """Validate the parts of a multipart body with the request model."""
        assert self._adapter is not None
        return self._adapter.validate_python(fields)

    def validate_query(self, params: dict[str, str]) -> BaseModel:
        """Validate query parameters with the request model."""
        assert self._adapter is not None
        return self._adapter.validate_python(params)


__all__ = ["RateLimit", "Requires", "RouteRow"]
