"""Handlers of the access programme's routes: principals (admin), applications (public, with a
claim token), review (reviewers), terms (admin publishes, key holders accept).

The handlers are thin: they read the validated body, ask the release gate whether the tier is
open now, call `releasegate.access` (which writes each change and its audit record in one
transaction) and render. The library's errors become HTTP errors here, in one place.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from pydantic import BaseModel

from releasegate.access import (
    ApplicationError,
    DenialCategory,
    InvalidApplicationError,
    LastAdminError,
    PrincipalExistsError,
    PrincipalNotFoundError,
    PrincipalRecord,
)
from releasegate.access._applications import CLAIM_PREFIX
from releasegate.gateway._access_models import (
    AcceptTermsRequest,
    ApplicationQuery,
    ApplicationRequest,
    ApproveRequest,
    CommentRequest,
    CreatePrincipalRequest,
    DenyRequest,
    PublishTermsRequest,
    RenewRequest,
    SetRolesRequest,
    SuspendPrincipalRequest,
)
from releasegate.gateway._call import Call, NoInput, Principal, Unary
from releasegate.gateway._errors import ApiError, bad_request, unauthorized
from releasegate.gateway._state import Gateway

Outcome = tuple[object, dict[str, object]]  # (response body, details for the request's record)
Action = Callable[[Call], Awaitable[Outcome]]


class AccessRoute(NoInput):
    """One access-programme action; the library's errors become 404 / 409 / 410 / 400."""

    def __init__(self, action: Action) -> None:
        self._action = action

    def parse(self, body: BaseModel | None, call: Call) -> BaseModel | None:
        return body

    async def execute(self, call: Call) -> Unary:
        try:
            body, details = await self._action(call)
        except InvalidApplicationError as exc:
            first = exc.problems[0]
            errors = [{"param": p.path, "message": p.message} for p in exc.problems]
            raise ApiError(
                400,
                "; ".join(f"{p.path}: {p.message}" for p in exc.problems),
                param=first.path or None,
                code="invalid_application",
                extra={"errors": errors},
            ) from exc
        except ApplicationError as exc:
            raise ApiError(
                exc.status,
                str(exc),
                code=exc.code,
                type="permission_error" if exc.status == 403 else "invalid_request_error",
            ) from exc
        except PrincipalNotFoundError as exc:
            raise ApiError(404, str(exc), code="principal_not_found") from exc
        except PrincipalExistsError as exc:
            raise ApiError(409, str(exc), code="principal_exists") from exc
        except LastAdminError as exc:
            raise ApiError(409, str(exc), code="last_admin") from exc
        except ValueError as exc:
            raise bad_request(str(exc)) from exc
        call.audit_extra["action"] = call.route
        call.audit_extra.update(details)
        return Unary(outputs=[], render=lambda _v: body)


def tier_open(g: Gateway, tier: str) -> bool:
    """Is `tier` open now (the release gate's answer; every offered tier without a gate)."""
    if g.gate is None:
        return tier in g.tiers
    return g.gate.snapshot.tier(tier).open


def _person(call: Call) -> PrincipalRecord:
    principal = call.principal
    assert principal is not None
    if principal.person is None:  # the bootstrap admin token is nobody
        raise ApiError(
            403,
            "reviewing needs a person: use your own principal token (rgp-...), not the admin token",
            type="permission_error",
            code="person_required",
        )
    return principal.person


def _actor(call: Call) -> str:
    assert call.principal is not None
    return call.principal.actor


def _claim_token(call: Call) -> str:
    header = call.request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token.startswith(CLAIM_PREFIX):
        raise unauthorized(
            "send the application's claim token: 'Authorization: Bearer rgc-...'",
            code="missing_claim_token",
        )
    return token


# -- principals ----------------------------------------------------------------------------------


def list_principals_route(g: Gateway) -> AccessRoute:
    async def run(call: Call) -> Outcome:
        found = await asyncio.to_thread(g.principals.list)
        return {"object": "list", "data": [p.to_json() for p in found]}, {"count": len(found)}

    return AccessRoute(run)


def create_principal_route(g: Gateway) -> AccessRoute:
    async def run(call: Call) -> Outcome:
        req = call.parsed
        assert isinstance(req, CreatePrincipalRequest)
        made, token = await asyncio.to_thread(
            lambda: g.principals.create(
                req.name, req.roles, actor=_actor(call), kind=req.kind, email=req.email
            )
        )
        return {**made.to_json(), "token": token}, {"principal_id": made.id, "roles": req.roles}

    return AccessRoute(run)


def principal_token_route(g: Gateway) -> AccessRoute:
    async def run(call: Call) -> Outcome:
        ref = call.path_params["principal_id"]
        issued = await asyncio.to_thread(lambda: g.principals.issue_token(ref, actor=_actor(call)))
        body = {
            **issued.principal.to_json(),
            "token": issued.plaintext,
            "token_id": issued.token_id,
        }
        return body, {"principal_id": issued.principal.id, "token_id": issued.token_id}

    return AccessRoute(run)


def list_tokens_route(g: Gateway) -> AccessRoute:
    async def run(call: Call) -> Outcome:
        ref = call.path_params["principal_id"]
        found = await asyncio.to_thread(g.principals.tokens, ref)
        return {"object": "list", "data": found}, {"principal_id": ref}

    return AccessRoute(run)


def revoke_token_route(g: Gateway) -> AccessRoute:
    async def run(call: Call) -> Outcome:
        ref, token_id = call.path_params["principal_id"], call.path_params["token_id"]
        done = await asyncio.to_thread(
            lambda: g.principals.revoke_token(ref, token_id, actor=_actor(call))
        )
        if g.pipeline.principals is not None:
            g.pipeline.principals.invalidate()  # this process at once; others within the TTL
        return done, {"principal_id": ref, "token_id": token_id}

    return AccessRoute(run)


def suspend_principal_route(g: Gateway) -> AccessRoute:
    async def run(call: Call) -> Outcome:
        req = call.parsed
        assert isinstance(req, SuspendPrincipalRequest)
        ref = call.path_params["principal_id"]
        done = await asyncio.to_thread(
            lambda: g.principals.suspend(ref, req.reason, actor=_actor(call))
        )
        g.key_cache.invalidate()  # this process refuses the keys at once; others within the TTL
        if g.pipeline.principals is not None:
            g.pipeline.principals.invalidate()
        return done.to_json(), {"principal_id": done.id, "reason": req.reason}

    return AccessRoute(run)


def set_roles_route(g: Gateway) -> AccessRoute:
    async def run(call: Call) -> Outcome:
        req = call.parsed
        assert isinstance(req, SetRolesRequest)
        ref = call.path_params["principal_id"]
        done = await asyncio.to_thread(
            lambda: g.principals.set_roles(ref, req.roles, actor=_actor(call))
        )
        if g.pipeline.principals is not None:
            g.pipeline.principals.invalidate()
        return done.to_json(), {"principal_id": done.id, "roles": req.roles}

    return AccessRoute(run)


def unsuspend_principal_route(g: Gateway) -> AccessRoute:
    async def run(call: Call) -> Outcome:
        ref = call.path_params["principal_id"]
        done = await asyncio.to_thread(lambda: g.principals.unsuspend(ref, actor=_actor(call)))
        g.key_cache.invalidate()
        return done.to_json(), {"principal_id": done.id}

    return AccessRoute(run)


# -- applying (public, claim token) --------------------------------------------------------------


def tiers_route(g: Gateway) -> AccessRoute:
    async def run(call: Call) -> Outcome:
        data = []
        for name, tier in g.tiers.items():
            if tier.application is None:
                continue
            terms = await asyncio.to_thread(g.programme.current_terms, name)
            data.append(
                {
                    "name": name,
                    "description": tier.description,
                    "open": tier_open(g, name),
                    "fields": [f.model_dump() for f in tier.application.fields],
                    "reviewers": tier.application.review.reviewers,
                    "key_days": tier.application.key_days,
                    "terms": terms.to_json() if terms is not None else None,
                }
            )
        return {"object": "list", "data": data}, {}

    return AccessRoute(run)


def apply_route(g: Gateway) -> AccessRoute:
    async def run(call: Call) -> Outcome:
        req = call.parsed
        assert isinstance(req, ApplicationRequest)
        done = await asyncio.to_thread(
            lambda: g.programme.submit(
                req.tier,
                req.name,
                req.email,
                req.answers,
                req.accept_terms_version,
                is_open=tier_open(g, req.tier),
            )
        )
        body = {**done.application.applicant_json(), "claim_token": done.claim_token}
        return body, {"application_id": done.application.id}

    return AccessRoute(run)


def application_status_route(g: Gateway) -> AccessRoute:
    async def run(call: Call) -> Outcome:
        app_id, token = call.path_params["application_id"], _claim_token(call)
        found = await asyncio.to_thread(g.programme.for_applicant, app_id, token)
        return found.applicant_json(), {}

    return AccessRoute(run)


def claim_route(g: Gateway) -> AccessRoute:
    async def run(call: Call) -> Outcome:
        app_id, token = call.path_params["application_id"], _claim_token(call)
        tier = (await asyncio.to_thread(g.programme.for_applicant, app_id, token)).tier
        claimed = await asyncio.to_thread(
            lambda: g.programme.claim(app_id, token, is_open=tier_open(g, tier))
        )
        rec = claimed.key.record
        body = {
            "key": claimed.key.plaintext,
            "key_id": rec.id,
            "tier": rec.tier,
            "expires_at": rec.expires_at.isoformat() if rec.expires_at else None,
            "principal_id": claimed.principal.id,
            "application_id": app_id,
        }
        return body, {"application_id": app_id, "key_id": rec.id}

    return AccessRoute(run)


def renew_route(g: Gateway) -> AccessRoute:
    async def run(call: Call) -> Outcome:
        req = call.parsed
        assert isinstance(req, RenewRequest)
        app_id, token = call.path_params["application_id"], _claim_token(call)
        tier = (await asyncio.to_thread(g.programme.for_applicant, app_id, token)).tier
        done = await asyncio.to_thread(
            lambda: g.programme.renew(
                app_id, token, req.answers, req.accept_terms_version, is_open=tier_open(g, tier)
            )
        )
        body = {**done.application.applicant_json(), "claim_token": done.claim_token}
        return body, {"application_id": done.application.id, "renewal_of": app_id}

    return AccessRoute(run)


# -- reviewing -----------------------------------------------------------------------------------


def list_applications_route(g: Gateway) -> AccessRoute:
    async def run(call: Call) -> Outcome:
        q = call.parsed
        assert isinstance(q, ApplicationQuery)
        found = await asyncio.to_thread(g.programme.list, q.status, q.tier)
        return {"object": "list", "data": [a.to_json() for a in found]}, {"count": len(found)}

    return AccessRoute(run)


def show_application_route(g: Gateway) -> AccessRoute:
    async def run(call: Call) -> Outcome:
        app_id = call.path_params["application_id"]
        found = await asyncio.to_thread(g.programme.get, app_id)
        return found.to_json(), {"application_id": app_id}

    return AccessRoute(run)


def comment_route(g: Gateway) -> AccessRoute:
    async def run(call: Call) -> Outcome:
        req = call.parsed
        assert isinstance(req, CommentRequest)
        app_id, who = call.path_params["application_id"], _person(call)
        done = await asyncio.to_thread(g.programme.comment, app_id, who, req.text)
        return done.to_json(), {"application_id": app_id}

    return AccessRoute(run)


def approve_route(g: Gateway) -> AccessRoute:
    async def run(call: Call) -> Outcome:
        req = call.parsed
        assert isinstance(req, ApproveRequest)
        app_id, who = call.path_params["application_id"], _person(call)
        tier = (await asyncio.to_thread(g.programme.get, app_id)).tier
        done = await asyncio.to_thread(
            lambda: g.programme.approve(app_id, who, req.reason, is_open=tier_open(g, tier))
        )
        return done.to_json(), {"application_id": app_id, "status": done.status.value}

    return AccessRoute(run)


def deny_route(g: Gateway) -> AccessRoute:
    async def run(call: Call) -> Outcome:
        req = call.parsed
        assert isinstance(req, DenyRequest)
        app_id, who = call.path_params["application_id"], _person(call)
        done = await asyncio.to_thread(
            g.programme.deny, app_id, who, DenialCategory(req.category), req.reason
        )
        return done.to_json(), {"application_id": app_id, "category": req.category}

    return AccessRoute(run)


# -- terms ---------------------------------------------------------------------------------------


def show_terms_route(g: Gateway) -> AccessRoute:
    async def run(call: Call) -> Outcome:
        tier = call.path_params["tier"]
        terms = await asyncio.to_thread(g.programme.current_terms, tier)
        if terms is None:
            raise ApiError(404, f"tier {tier!r} has no published terms", code="no_terms")
        return terms.to_json(), {}

    return AccessRoute(run)


def publish_terms_route(g: Gateway) -> AccessRoute:
    async def run(call: Call) -> Outcome:
        req = call.parsed
        assert isinstance(req, PublishTermsRequest)
        tier = call.path_params["tier"]
        terms = await asyncio.to_thread(
            lambda: g.programme.publish_terms(
                tier, req.version, req.url, actor=_actor(call), text_sha256=req.text_sha256
            )
        )
        g.key_cache.invalidate()
        return terms.to_json(), {"tier": tier, "version": req.version}

    return AccessRoute(run)


def accept_terms_route(g: Gateway) -> AccessRoute:
    async def run(call: Call) -> Outcome:
        req = call.parsed
        assert isinstance(req, AcceptTermsRequest)
        tier = call.path_params["tier"]
        principal: Principal | None = call.principal
        assert principal is not None and principal.record is not None
        record = principal.record
        if record.tier != tier or record.principal_id is None:
            raise ApiError(
                403,
                f"this key is of tier {record.tier!r}"
                + ("" if record.principal_id else " and was not issued through an application")
                + f"; it cannot accept tier {tier!r}'s terms",
                type="permission_error",
                code="terms_not_yours",
            )
        holder = record.principal_id
        terms = await asyncio.to_thread(
            lambda: g.programme.accept_terms(holder, tier, req.version, actor=principal.actor)
        )
        g.key_cache.invalidate()
        return terms.to_json(), {"tier": tier, "version": req.version}

    return AccessRoute(run)


__all__ = [
    "AccessRoute",
    "accept_terms_route",
    "application_status_route",
    "apply_route",
    "approve_route",
    "claim_route",
    "comment_route",
    "create_principal_route",
    "deny_route",
    "list_applications_route",
    "list_principals_route",
    "list_tokens_route",
    "principal_token_route",
    "publish_terms_route",
    "renew_route",
    "revoke_token_route",
    "set_roles_route",
    "show_application_route",
    "show_terms_route",
    "suspend_principal_route",
    "tier_open",
    "tiers_route",
    "unsuspend_principal_route",
]
