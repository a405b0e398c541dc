"""The one request pipeline that every gateway route goes through.

    authenticate from the headers (401/429/503) → is the key's tier open now (403/503)
    → read the body, capped and timed (413/408) → invisible characters stripped or refused,
    per tier (400) → validate with the row's model (400)
    → the route's own checks (400/404) → authorize: the row's capability, then the tier's
    limits (403) → the row's rate limit and quota (429/503)
    → input guards (413 guard_input_too_large / 400 content_filter / 503)
    → execute (backend, admin action...)
    → output guards → settle the token reservation → audit (503 if it cannot be written)
    → observers (misuse monitoring counts flagged requests: 503 if it cannot; metrics)
    → response

Each route is a row of the route table (`RouteRow`): the row names its request model, who may
call it and how it is metered, so the pipeline validates, authorizes and meters before the
route's handler sees anything. A handler only says what its tier must allow, what to reserve, which
texts to guard and how to execute; it cannot skip or reorder a step. Streaming routes run the
same steps, with output guards scanning windows of the stream and the audit record written
before the final `data: [DONE]`.

Every authenticated request ends with exactly one audit record, refusals included; requests
that fail before authentication (no key, bad key) leave none, so anonymous clients cannot fill
the log. The body is read only once the caller is known: an anonymous client cannot make the
gateway buffer a megabyte or hold a body read open. Failed admin authentication is the
exception that is recorded: each failure is an `auth_failure` record, and a client address that
fails `admin_failures_per_minute` times is refused with 429 before its token is even compared
(so the log grows by at most that many records per address and minute).

Every response carries `X-Request-ID`; an error body carries the same id and a code, never an
internal host, port or path (those go to the server log with the id).
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import os
import time
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import orjson
from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from releasegate.access._keys import KeyRecord
from releasegate.access._principals import TOKEN_PREFIX as PRINCIPAL_PREFIX
from releasegate.access._principals import PrincipalRecord
from releasegate.access._tiers import TierSpec
from releasegate.audit._sink import AuditSink
from releasegate.backends._base import ChatMessage
from releasegate.gateway._authz import require
from releasegate.gateway._call import Call, Observer, Principal, Route, Streamed
from releasegate.gateway._errors import (
    ApiError,
    bad_request,
    forbidden,
    unauthorized,
    unavailable,
)
from releasegate.gateway._gate import Gate
from releasegate.gateway._inflight import InFlight
from releasegate.gateway._keys import KeyCache
from releasegate.gateway._protocol import error_event
from releasegate.gateway._ratelimit import Quota, RateLimiter
from releasegate.gateway._row import Requires, RouteRow
from releasegate.gateway._validation import empty_body, multipart_fields, validation_error
from releasegate.gateway._visible import visible_body
from releasegate.guards._base import GuardError, GuardInputTooLarge, GuardVerdict
from releasegate.guards._chain import GuardChain
from releasegate.guards._stream import StreamScanner

log = logging.getLogger("releasegate.gateway")

KEY_PREFIX = "rg-"
# Admin actions are metered too (no route bypasses the pipeline), generously.
ADMIN_QUOTA = Quota(rpm=600, tpm=None, daily_tokens=None)


class Pipeline:
    """Runs routes through the fixed sequence of steps.

    Args:
        tiers: the tiers offered, by name.
        guards: each tier's guard chain, by tier name.
        keys: cached key lookups (`KeyStore.authenticate`).
        limiter: rate limits and quotas.
        audit: where each request's record is appended (committed before the response).
        admin_token: the admin bearer token; None disables the admin API.
        max_body_bytes: bodies above this get 413.
        body_timeout_s: a body not received in full within this many seconds gets 408.
        admin_failures_per_minute: failed admin authentications per client address and minute
            before that address is refused with 429.
        stream_window, stream_overlap: output guarding windows while streaming.
        gate: what is open now (`approvals.open_now`, kept fresh); None: every offered tier.
        inflight: where open streams are recorded, so that a killed process's streams get an
            `aborted` record; None: not recorded.
        principals: cached principal-token lookups (`PrincipalStore.authenticate`); None:
            only the admin token opens staff routes.
    """

    def __init__(
        self,
        *,
        tiers: dict[str, TierSpec],
        guards: dict[str, GuardChain],
        keys: KeyCache[KeyRecord],
        limiter: RateLimiter,
        audit: AuditSink,
        admin_token: str | None,
        max_body_bytes: int,
        body_timeout_s: float = 30.0,
        admin_failures_per_minute: int = 10,
        stream_window: int = 400,
        stream_overlap: int = 100,
        gate: Gate | None = None,
        inflight: InFlight | None = None,
        principals: KeyCache[PrincipalRecord] | None = None,
    ) -> None:
        self.tiers = tiers
        self.principals = principals
        self.gate = gate
        self.inflight = inflight
        self.guards = guards
        self.keys = keys
        self.limiter = limiter
        self._audit_sink = audit
        self._admin_token = admin_token.encode() if admin_token else None
        self.max_body_bytes = max_body_bytes
        self.body_timeout_s = body_timeout_s
        self.admin_failures = Quota(rpm=admin_failures_per_minute, tpm=None, daily_tokens=None)
        self.stream_window = stream_window
        self.stream_overlap = stream_overlap
        self.observers: list[Observer] = []  # misuse monitoring and metrics plug in here
        self._detached: set[asyncio.Task[None]] = set()  # ends of streams cut by the client
        # Told (synchronously) of requests refused before authentication: metrics only.
        self.anonymous_observers: list[Callable[[Call], None]] = []

    # -- steps -------------------------------------------------------------------------------

    async def read_body(self, request: Request) -> bytes:
        """The request body, refused with 413 above the cap and 408 when it is not received in
        full within `body_timeout_s` (a slow client cannot hold the request open)."""
        try:
            async with asyncio.timeout(self.body_timeout_s):
                return await self._read_capped(request)
        except TimeoutError:
            raise ApiError(
                408,
                f"the request body was not received within {self.body_timeout_s:g} s",
                code="request_timeout",
            ) from None

    async def _read_capped(self, request: Request) -> bytes:
        length = request.headers.get("content-length")
        if length is not None:
            try:
                declared = int(length)
            except ValueError:
                raise bad_request("Content-Length is not a number") from None
            if declared > self.max_body_bytes:
                raise _too_large(declared, self.max_body_bytes)
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > self.max_body_bytes:
                raise _too_large(size, self.max_body_bytes)
            chunks.append(chunk)
        return b"".join(chunks)

    async def authenticate(self, call: Call, requires: Requires) -> Principal:
        """Who is calling, from the request's headers alone (the body is not read yet)."""
        request = call.request
        if requires.kind == "public":
            host = request.client.host if request.client is not None else "unknown"
            return Principal(
                id=f"ip:{host}", owner=host, tier=None, quota=ADMIN_QUOTA, guards=None,
                anonymous=True,
            )  # fmt: skip
        if requires.kind == "staff":
            return await self._authenticate_staff(call, requires.roles)
        token = _bearer(request.headers.get("authorization"))
        if not token.startswith(KEY_PREFIX) or len(token) > 200:
            raise unauthorized("malformed API key: releasegate keys start with 'rg-'")
        try:
            record = await self.keys.get(token)
        except Exception as exc:
            log.warning("key store unreachable: %s", exc)
            raise unavailable(
                "the key store is unreachable; refusing rather than serving unauthenticated",
                code="store_unavailable",
            ) from exc
        if record is None:
            raise unauthorized("invalid API key (unknown, revoked, suspended or expired)")
        tier = self.tiers.get(record.tier)
        if tier is None:
            raise ApiError(
                403,
                f"this key's tier {record.tier!r} is not offered by this gateway",
                type="permission_error",
                code="tier_not_offered",
            )
        lim = record.limits
        quota = Quota(
            rpm=_lower(lim.rpm, tier.rpm),
            tpm=_lower(lim.tpm, tier.tpm),
            daily_tokens=_lower(lim.daily_tokens, tier.daily_tokens),
        )
        return Principal(
            id=record.id,
            owner=record.owner,
            tier=tier,
            quota=quota,
            guards=self.guards[tier.name],
            record=record,
        )

    async def _authenticate_staff(self, call: Call, roles: frozenset[str]) -> Principal:
        """A staff route's caller. A client address that failed `admin_failures` times in the
        last minute is refused with 429 before its credential is compared; each failure (a
        missing, malformed or wrong admin or principal token) is counted and audited."""
        if self._admin_token is None and self.principals is None:
            raise ApiError(
                403, "the admin API is disabled (no admin token set)", type="permission_error"
            )
        client = call.request.client
        address = client.host if client is not None else "unknown"
        await self.limiter.refuse_if_exhausted(
            "admin-auth", address, self.admin_failures, "admin_auth_throttled"
        )
        try:
            token = _bearer(call.request.headers.get("authorization"))
            principal = await self._staff(token)
        except ApiError as exc:
            if exc.status == 401:
                await self._admin_failure(call, address, exc)
            raise
        if not principal.roles & roles:
            held = ", ".join(sorted(principal.roles)) or "none"
            raise forbidden(
                f"this route needs one of the roles {', '.join(sorted(roles))}; "
                f"{principal.owner} holds {held}",
                code="role_required",
            )
        return principal

    async def _staff(self, token: str) -> Principal:
        """A principal token, or the bootstrap admin token (role `admin`)."""
        if self._admin_token is not None and hmac.compare_digest(token.encode(), self._admin_token):
            return Principal(
                id="admin", owner="admin", tier=None, quota=ADMIN_QUOTA, guards=None, admin=True,
                roles=frozenset({"admin"}),
            )  # fmt: skip
        if token.startswith(PRINCIPAL_PREFIX) and self.principals is not None:
            try:
                person = await self.principals.get(token)
            except Exception as exc:
                log.warning("principal store unreachable: %s", exc)
                raise unavailable(
                    "the principal store is unreachable; refusing rather than acting unchecked",
                    code="store_unavailable",
                ) from exc
            if person is None:
                raise unauthorized(
                    "invalid principal token (unknown, revoked, or its principal is suspended)",
                    code="invalid_token",
                )
            return Principal(
                id=person.id, owner=person.name, tier=None, quota=ADMIN_QUOTA, guards=None,
                roles=frozenset(r.value for r in person.roles), person=person,
            )  # fmt: skip
        raise unauthorized(
            "invalid admin credential: send a principal token (rgp-...) or the admin token",
            code="invalid_admin_token",
        )

    async def _admin_failure(self, call: Call, address: str, exc: ApiError) -> None:
        """Count a failed staff authentication against its address and audit it (fail closed:
        a failure that cannot be counted or recorded is a 503)."""
        await self.limiter.count_attempt("admin-auth", address, self.admin_failures)
        try:
            await self._audit_sink.append_async(
                "auth_failure",
                f"client:{address}"[:200],
                {
                    "request_id": call.request_id,
                    "route": call.route,
                    "reason": exc.code or exc.type,
                },
            )
        except Exception as audit_exc:
            log.error("audit append failed (auth failure): %s", audit_exc)
            raise unavailable(
                "the audit log cannot be written; the request is refused",
                code="audit_unavailable",
            ) from audit_exc

    async def _guard_input(self, call: Call, route: Route) -> None:
        principal = call.principal
        assert principal is not None
        messages = route.input_messages(call.parsed)
        if principal.guards is None or not messages or not len(principal.guards):
            return
        cap = principal.tier.guard_max_chars if principal.tier is not None else None
        if cap is not None and (size := sum(len(m.content) for m in messages)) > cap:
            raise _guard_too_large(
                f"the input guards score at most {cap} characters per request on this tier; "
                f"this request has {size}"
            )
        try:
            verdict = await principal.guards.check_input(messages)
        except GuardInputTooLarge as exc:
            raise _guard_too_large(f"input guard: {exc}") from exc
        except GuardError as exc:
            log.warning("input guard failed: %s", exc)
            raise unavailable(
                "input guard unavailable; refusing rather than serving unguarded",
                code="guard_unavailable",
            ) from exc
        call.input_verdict = verdict
        if verdict.flagged:
            cats = ", ".join(c.value for c in verdict.categories) or "unspecified"
            raise ApiError(
                400,
                f"the request was blocked by the input guard ({cats}) under this gateway's "
                "usage policy",
                code="content_filter",
            )

    async def _guard_outputs(self, call: Call, outputs: list[str]) -> list[GuardVerdict | None]:
        principal = call.principal
        assert principal is not None
        chain = principal.guards
        if chain is None or not len(chain):
            return [None] * len(outputs)
        messages = route_messages(call)
        verdicts: list[GuardVerdict | None] = []
        for text in outputs:
            try:
                verdict = await chain.check_output(text, messages)
            except GuardError as exc:
                log.warning("output guard failed: %s", exc)
                raise unavailable(
                    "output guard unavailable; the answer is withheld",
                    code="guard_unavailable",
                ) from exc
            call.output_verdicts.append(verdict)
            verdicts.append(verdict)
        return verdicts

    async def _audit(self, call: Call) -> None:
        principal = call.principal
        if principal is None or principal.anonymous:
            return
        payload: dict[str, Any] = {
            "request_id": call.request_id,
            "route": call.route,
            "status": call.status,
            "latency_ms": round((time.perf_counter() - call.started) * 1000, 3),
        }
        if principal.tier is not None:
            payload["tier"] = principal.tier.name
        if call.error_code is not None:
            payload["error"] = call.error_code
        if call.used_tokens:
            payload["tokens"] = call.used_tokens
        if call.input_verdict is not None and call.input_verdict.flagged:
            payload["input_flag"] = _verdict_json(call.input_verdict)
        flagged = [_verdict_json(v) for v in call.output_verdicts if v.flagged]
        if flagged:
            payload["output_flags"] = flagged
        payload.update(call.audit_extra)
        if principal.person is not None:
            payload["principal"] = principal.person.name
        record = await self._audit_sink.append_async(
            "admin" if principal.roles else "request",
            principal.actor,
            payload,
            call.content or None,
        )
        call.audit_seqs.append(record.seq)

    async def _audit_or_503(self, call: Call) -> ApiError | None:
        try:
            await self._audit(call)
        except Exception as exc:
            log.error("audit append failed: %s", exc)
            return unavailable(
                "the audit log cannot be written; the response is withheld",
                code="audit_unavailable",
            )
        return None

    async def _settle(self, call: Call) -> None:
        if call.reservation is not None:
            await self.limiter.settle(call.reservation, call.used_tokens)

    async def _notify(self, call: Call) -> ApiError | None:
        """Tell every observer; an `ApiError` from one (misuse monitoring that cannot count a
        flagged request) replaces the response: safeguards fail closed."""
        failure: ApiError | None = None
        for observer in self.observers:
            try:
                await observer(call)
            except ApiError as exc:
                failure = failure or exc
            except Exception:  # any other observer error must never break a request
                log.exception("pipeline observer failed")
        return failure

    # -- the pipeline ------------------------------------------------------------------------

    async def run(self, request: Request, row: RouteRow[Any], route: Route) -> Response:
        """Take one request to `row` (handled by `route`) through every step; always returns a
        response."""
        call = Call(
            route=row.name,
            request=request,
            request_id=os.urandom(16).hex(),
            started=time.perf_counter(),
        )
        body_read = not row.has_body
        try:
            call.principal = await self.authenticate(call, row.requires)
            if row.requires.terms and call.principal.record is not None:
                _check_terms(call.principal.record)
            if self.gate is not None and call.principal.tier is not None:
                self.gate.check(call.principal.tier.name)  # a halt or a trigger closes tiers
            body = await self.read_body(request) if row.has_body else b""
            body_read = True
            if call.principal.tier is not None and body:
                # the guards judge, and the model gets, the same visible text (_visible.py)
                body = visible_body(body, call.principal.tier.invisible_text)
            call.parsed = route.parse(validate(row, request, body), call)
            if row.requires.capability is not None:
                _require_capability(call.principal, row.requires.capability)
            route.authorize(call.principal, call.parsed)
            # An anonymous client is metered per address and route (reading a status never
            # uses up the allowance for filing an application).
            who = call.principal.id
            call.reservation = await self.limiter.admit(
                f"{who}|{row.name}" if call.principal.anonymous else who,
                row.rate_limit.quota(call.principal),
                route.reserve_tokens(call.parsed),
            )
            await self._guard_input(call, route)
            result = await route.execute(call)
            if isinstance(result, Streamed):
                # A stream's text leaves before its end is known, so its opening is audited
                # first: an answered request always has its record. Its end is a second one.
                call.audit_extra["phase"] = "open"
                failure = await self._mark_open(call)
                if failure is None:
                    failure = await self._audit_or_503(call)
                if failure is not None:
                    await self._close_stream(result)
                    await self._settle_quietly(call)
                    return _error_response(failure, call.request_id)
                call.audit_extra["phase"] = "end"
                return self._stream(call, result)
            call.used_tokens = result.used_tokens  # used even if the answer is withheld
            verdicts = await self._guard_outputs(call, result.outputs)
            body_obj = result.render(verdicts)
        except ApiError as exc:
            response = await self._refuse(call, exc)
            if not body_read:
                # Refused before its body was read (unknown caller, closed tier, timeout): close
                # the connection, so the unread body cannot hold it open.
                response.headers["Connection"] = "close"
            return response
        except Exception as exc:  # a bug: refuse with 500, still audited, never half-served
            log.exception("gateway error in %s", row.name)
            return await self._refuse(
                call, ApiError(500, f"internal error: {type(exc).__name__}", type="server_error")
            )
        await self._settle(call)
        failure = await self._audit_or_503(call)
        if failure is not None:
            return _error_response(failure, call.request_id)
        if (failure := await self._notify(call)) is not None:
            return _error_response(failure, call.request_id)
        if isinstance(body_obj, Response):  # a route with its own format (/metrics)
            body_obj.headers["X-Request-ID"] = call.request_id
            return body_obj
        return Response(
            orjson.dumps(body_obj),
            media_type="application/json",
            headers={"X-Request-ID": call.request_id},
        )

    async def _refuse(self, call: Call, exc: ApiError) -> Response:
        if exc.status >= 500:
            log.warning("request %s: %s %s", call.request_id, exc.status, exc.code or exc.type)
        call.status = exc.status
        call.error_code = exc.code or exc.type
        await self._settle_quietly(call)
        if call.principal is not None:
            failure = await self._audit_or_503(call)
            if failure is None:
                failure = await self._notify(call)
            if failure is not None:
                return _error_response(failure, call.request_id)
        else:
            for count in self.anonymous_observers:
                try:
                    count(call)
                except Exception:
                    log.exception("pipeline observer failed")
        return _error_response(exc, call.request_id)

    async def _settle_quietly(self, call: Call) -> None:
        try:
            await self._settle(call)
        except Exception:
            log.warning("could not settle the token reservation of %s", call.request_id)

    def _stream(self, call: Call, result: Streamed) -> Response:
        return StreamingResponse(
            self._stream_events(call, result),
            media_type="text/event-stream",
            headers={
                "Cache-Control": "no-cache",
                "X-Accel-Buffering": "no",
                "X-Request-ID": call.request_id,
            },
        )

    async def _stream_events(self, call: Call, result: Streamed) -> AsyncIterator[bytes]:
        principal = call.principal
        assert principal is not None
        chain = principal.guards
        scanner = (
            StreamScanner(
                chain,
                window=self.stream_window,
                overlap=self.stream_overlap,
                context=route_messages(call),
            )
            if chain is not None and len(chain)
            else None
        )
        first = True
        finish: str | None = None
        prompt_tokens = completion_tokens = 0
        sent: list[str] = []
        error: ApiError | None = None
        try:
            yield result.frame("", None, True)
            first = False
            async for chunk in result.chunks:
                if chunk.prompt_tokens is not None:
                    prompt_tokens = chunk.prompt_tokens
                if chunk.completion_tokens is not None:
                    completion_tokens = chunk.completion_tokens
                if chunk.finish_reason is not None:
                    finish = chunk.finish_reason
                text = chunk.text
                if scanner is not None and text:
                    step = await scanner.feed(text)
                    if step.release:
                        sent.append(step.release)
                        yield result.frame(step.release, None, first)
                    if step.cut:
                        assert step.verdict is not None
                        call.output_verdicts.append(step.verdict)
                        error = _policy_cut(step.verdict)
                        break
                elif text:
                    sent.append(text)
                    yield result.frame(text, None, first)
            if error is None and scanner is not None:
                step = await scanner.finish()
                if step.release:
                    sent.append(step.release)
                    yield result.frame(step.release, None, first)
                if step.cut:
                    assert step.verdict is not None
                    call.output_verdicts.append(step.verdict)
                    error = _policy_cut(step.verdict)
        except (asyncio.CancelledError, GeneratorExit):
            # The client went away mid-stream (the server cancels this generator): the end is
            # still settled and audited, on a task of its own since this one is cancelled.
            call.used_tokens = prompt_tokens + completion_tokens
            call.content.setdefault("output", "".join(sent))
            call.status, call.error_code = 499, "client_closed_request"
            self._finish_detached(call)
            raise
        except GuardError as exc:
            log.warning("output guard failed mid-stream: %s", exc)
            error = unavailable(
                "output guard unavailable; the stream is cut", code="guard_unavailable"
            )
        except ApiError as exc:
            error = exc
        except Exception as exc:
            log.exception("stream failed in %s", call.route)
            error = unavailable(
                f"the model failed mid-stream ({type(exc).__name__})", code="backend_error"
            )
        finally:
            await self._close_stream(result)
        call.used_tokens = prompt_tokens + completion_tokens
        call.content.setdefault("output", "".join(sent))
        if error is not None:
            call.status = error.status if error.status != 400 else 200
            call.error_code = error.code or error.type
        await self._settle_quietly(call)
        failure = await self._audit_or_503(call)
        if failure is not None:
            yield error_event(failure, call.request_id)
            return
        if self.inflight is not None:
            await self.inflight.closed(call.request_id)
        if (failure := await self._notify(call)) is not None:
            yield error_event(failure, call.request_id)
            return
        if error is not None:
            yield error_event(error, call.request_id)
            return
        yield result.frame(None, finish or "stop", False)
        tail = result.usage(prompt_tokens, completion_tokens)
        if tail is not None:
            yield tail
        yield b"data: [DONE]\n\n"

    async def _mark_open(self, call: Call) -> ApiError | None:
        """Record a stream as open before its opening record (fail closed: a stream that could
        not be marked could lose its end unseen)."""
        if self.inflight is None or call.principal is None:
            return None
        try:
            await self.inflight.opened(call.request_id, call.principal.id, call.route)
        except Exception as exc:
            log.error("could not record an open stream: %s", exc)
            return unavailable(
                "the audit log cannot be written; the response is withheld",
                code="audit_unavailable",
            )
        return None

    def _finish_detached(self, call: Call) -> None:
        async def finish() -> None:
            await self._settle_quietly(call)
            if await self._audit_or_503(call) is None:
                if self.inflight is not None:
                    await self.inflight.closed(call.request_id)
                await self._notify(call)

        task = asyncio.get_running_loop().create_task(finish())
        self._detached.add(task)  # keep a reference until it is done
        task.add_done_callback(self._detached.discard)

    @staticmethod
    async def _close_stream(result: Streamed) -> None:
        aclose = getattr(result.chunks, "aclose", None)
        if aclose is not None:
            try:
                await aclose()
            except Exception:
                log.warning("closing the backend stream failed")


def validate(row: RouteRow[Any], request: Request, body: bytes) -> BaseModel | None:
    """The row's request model, validated from the raw body or the query string.

    Raises:
        ApiError: 400 naming the field at fault (OpenAI's error shape).
    """
    if row.has_body:
        if row.body_format == "multipart":
            try:
                return row.validate_form(multipart_fields(request, body))
            except ValidationError as exc:
                raise validation_error(exc) from None
        if not body:
            if not row.body_optional:
                raise empty_body()
            body = b"{}"
        try:
            return row.validate_json(body)
        except ValidationError as exc:
            raise validation_error(exc, body) from None
    if row.has_query:
        try:
            return row.validate_query(dict(request.query_params))
        except ValidationError as exc:
            raise validation_error(exc) from None
    return None


def _check_terms(record: KeyRecord) -> None:
    """403 `terms_not_accepted` (with where to read and accept them) for a key whose holder has
    not accepted the current version of its tier's terms."""
    due = record.terms_due
    if due is None:
        return
    version, url = due
    raise ApiError(
        403,
        f"tier {record.tier!r} has new terms (version {version}, {url}); accept them with "
        f"POST /v1/access/terms/{record.tier}/accept before this key works again",
        type="permission_error",
        code="terms_not_accepted",
        extra={"terms_url": url, "terms_version": version},
    )


def _require_capability(principal: Principal, capability: str) -> None:
    if principal.tier is None:  # staff credentials carry no tier and so no capability
        raise ApiError(
            403,
            f"a staff credential has no {capability} access; use a key of a tier that has it",
            type="permission_error",
            code="tier_lacks_capability",
        )
    require(principal.tier, capability)


def route_messages(call: Call) -> Sequence[ChatMessage]:
    messages = getattr(call.parsed, "messages", None)
    return messages if messages is not None else ()


def _lower(override: int | None, tier_value: int | None) -> int | None:
    if override is None:
        return tier_value
    if tier_value is None:
        return override
    return min(override, tier_value)


def _too_large(size: int, cap: int) -> ApiError:
    return ApiError(
        413,
        f"request body of {size} bytes exceeds this gateway's limit of {cap} bytes",
        code="request_too_large",
    )


def _guard_too_large(why: str) -> ApiError:
    return ApiError(413, f"{why}. Send less text", code="guard_input_too_large")


def _policy_cut(verdict: GuardVerdict) -> ApiError:
    cats = ", ".join(c.value for c in verdict.categories) or "unspecified"
    return ApiError(
        400,
        f"the answer was cut by the output guard ({cats}) under this gateway's usage policy",
        code="content_filter",
    )


def _verdict_json(verdict: GuardVerdict) -> dict[str, Any]:
    return {
        "guard": verdict.guard,
        "score": round(verdict.score, 4),
        "categories": [c.value for c in verdict.categories],
    }


def _error_response(exc: ApiError, request_id: str) -> Response:
    return Response(
        exc.body_bytes(request_id),
        status_code=exc.status,
        media_type="application/json",
        headers={**exc.headers, "X-Request-ID": request_id},
    )


def _bearer(header: str | None) -> str:
    """The token of an `Authorization: Bearer ...` header.

    Raises:
        ApiError: 401 when the header is missing or malformed.
    """
    if not header:
        raise unauthorized(
            "missing API key: send 'Authorization: Bearer rg-...'", code="missing_api_key"
        )
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise unauthorized("malformed Authorization header: expected 'Bearer <key>'")
    return token


__all__ = ["ADMIN_QUOTA", "Pipeline", "validate"]
