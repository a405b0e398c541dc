"""Errors in OpenAI's wire format: `{"error": {"message", "type", "param", "code"}}`.

Every refusal the gateway makes is an `ApiError`; the app turns it into that body with the
status code and headers it carries, so the `openai` SDK raises its matching exception class
(`AuthenticationError` for 401, `PermissionDeniedError` for 403, `RateLimitError` for 429...).
"""

from __future__ import annotations

from collections.abc import Mapping

import orjson


class ApiError(Exception):
    """A refusal with an HTTP status and an OpenAI-style error body.

    Args:
        status: HTTP status code.
        message: what went wrong and, where possible, what to do about it.
        type: OpenAI error type (`invalid_request_error`, `authentication_error`,
            `permission_error`, `rate_limit_error`, `server_error`...).
        code: a machine-readable code (`invalid_api_key`, `model_not_found`...).
        param: the request field at fault, when there is one.
        headers: extra response headers (e.g. `Retry-After`).
        extra: more fields of the error object (`terms_url`, `terms_version`...).
    """

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        headers: Mapping[str, str] | None = None,
        extra: Mapping[str, object] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.code = code
        self.param = param
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})

    def body(self, request_id: str | None = None) -> dict[str, dict[str, object]]:
        """The error as OpenAI's JSON object, with the request's id when it has one (the server
        log holds the details under the same id)."""
        error: dict[str, object] = {
            "message": self.message,
            "type": self.type,
            "param": self.param,
            "code": self.code,
            **self.extra,
        }
        if request_id is not None:
            error["request_id"] = request_id
        return {"error": error}

    def body_bytes(self, request_id: str | None = None) -> bytes:
        return orjson.dumps(self.body(request_id))


def bad_request(message: str, *, param: str | None = None, code: str | None = None) -> ApiError:
    return ApiError(400, message, param=param, code=code)


def unauthorized(message: str, *, code: str = "invalid_api_key") -> ApiError:
    return ApiError(
        401,
        message,
        type="authentication_error",
        code=code,
        headers={"WWW-Authenticate": "Bearer"},
    )


def forbidden(
    message: str, *, param: str | None = None, code: str = "tier_lacks_capability"
) -> ApiError:
    return ApiError(403, message, type="permission_error", code=code, param=param)


def unavailable(message: str, *, code: str = "safeguard_unavailable") -> ApiError:
    """503: a safeguard (guard, store, rate limiter) or the model cannot serve; fail closed."""
    return ApiError(503, message, type="server_error", code=code, headers={"Retry-After": "1"})


__all__ = ["ApiError", "bad_request", "forbidden", "unauthorized", "unavailable"]
