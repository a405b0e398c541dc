"""`/openapi.json`, generated from the route table.

FastAPI's generator is given one schema-only `APIRoute` per row (its path parameters, its
request model as the body or the query string, its response model), so the document lists
every row with its schemas. The routes that serve requests are the rows' own thin endpoints,
which hand the raw request to the pipeline: no dependency solving or response validation on
the hot path.
"""

from __future__ import annotations

import inspect
from typing import Annotated, Any

from fastapi import Body, Path, Query
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, PlainTextResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field

from releasegate.gateway._row import RouteRow


class ErrorDetail(BaseModel):
    message: str
    type: str
    param: str | None
    code: str | None
    request_id: str | None = Field(
        default=None,
        description="the request's id (also the X-Request-ID header); the server log has the "
        "details under it",
    )


class ErrorResponse(BaseModel):
    """Every refusal, in OpenAI's shape; `param` is the field path at fault (`messages[0].role`)."""

    error: ErrorDetail


_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorResponse, "description": "invalid request (the field path in `param`)"},
    401: {"model": ErrorResponse, "description": "missing or invalid key or admin token"},
    403: {"model": ErrorResponse, "description": "the key's tier does not grant this"},
    404: {"model": ErrorResponse, "description": "no such model or resource (key, incident...)"},
    409: {"model": ErrorResponse, "description": "conflicts with the current state (exists, gate)"},
    410: {"model": ErrorResponse, "description": "no longer available (already claimed)"},
    413: {"model": ErrorResponse, "description": "the body or the text to guard is too large"},
    429: {"model": ErrorResponse, "description": "rate limit or quota exceeded (Retry-After)"},
    502: {"model": ErrorResponse, "description": "the model backend failed"},
    503: {"model": ErrorResponse, "description": "a safeguard is unavailable (fail closed)"},
}


async def _never_called(**_kwargs: object) -> None:  # pragma: no cover - schema only
    raise AssertionError("schema-only route")


def _schema_route(row: RouteRow[Any]) -> APIRoute:
    params = [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=Annotated[str, Path()])
        for name in row.path_params
    ]
    if row.has_body:
        default = None if row.body_optional else inspect.Parameter.empty
        params.append(
            inspect.Parameter(
                "body",
                inspect.Parameter.KEYWORD_ONLY,
                annotation=Annotated[
                    row.request,
                    Body(media_type="multipart/form-data")
                    if row.body_format == "multipart"
                    else Body(),
                ],
                default=default,
            )
        )
    elif row.has_query:
        params.append(
            inspect.Parameter(
                "query", inspect.Parameter.KEYWORD_ONLY, annotation=Annotated[row.request, Query()]
            )
        )

    async def endpoint(**kwargs: object) -> None:  # pragma: no cover - schema only
        await _never_called(**kwargs)

    endpoint.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    json = row.media_type == "application/json"
    return APIRoute(
        row.path,
        endpoint,
        methods=[row.method],
        name=row.name,
        operation_id=row.name,
        summary=row.summary,
        tags=list(row.tags) or None,
        response_model=row.response if json else None,
        response_class=JSONResponse if json else PlainTextResponse,
        responses=dict(_ERRORS),
        openapi_extra={
            "x-releasegate-requires": row.requires.describe(),
            "x-releasegate-rate-limit": row.rate_limit.describe(),
        },
    )


def openapi_schema(
    rows: tuple[RouteRow[Any], ...], *, title: str, version: str, description: str
) -> dict[str, Any]:
    """The OpenAPI 3.1 document of `rows`.

    Args:
        rows: the route table.
        title, version, description: the document's info.

    Returns:
        The document as a JSON-ready dict.
    """
    schema = get_openapi(
        title=title,
        version=version,
        description=description,
        routes=[_schema_route(row) for row in rows],
    )
    _finish(schema, rows)
    return schema


def _finish(schema: dict[str, Any], rows: tuple[RouteRow[Any], ...]) -> None:
    """Our refusals are 400 in OpenAI's shape, not FastAPI's 422; every row needs a bearer
    token; streaming rows also answer `text/event-stream`."""
    components = schema.setdefault("components", {})
    components.setdefault("securitySchemes", {})["bearer"] = {
        "type": "http",
        "scheme": "bearer",
        "description": "a key (rg-...); for admin routes a principal token (rgp-...) or the "
        "bootstrap admin token",
    }
    error_ref = {"$ref": "#/components/schemas/ErrorResponse"}
    for row in rows:
        op = schema["paths"][row.path][row.method.lower()]
        op["responses"].pop("422", None)
        for status in _ERRORS:  # refusals are JSON even where the answer is not (/metrics)
            op["responses"][str(status)]["content"] = {"application/json": {"schema": error_ref}}
        op["security"] = [] if row.requires.kind == "public" else [{"bearer": []}]
        fields = row.request.model_fields if row.request is not None else {}
        if "stream" in fields:
            op["responses"]["200"]["content"]["text/event-stream"] = {
                "schema": {"type": "string", "description": "server-sent events, then [DONE]"}
            }
    for unused in ("HTTPValidationError", "ValidationError"):
        components.get("schemas", {}).pop(unused, None)


__all__ = ["ErrorResponse", "openapi_schema"]
