"""The route table is the app: every row is served, documented in /openapi.json with its schemas,
validated by its model (400 in OpenAI's shape, the field path in `param`) before anything else
runs, and nothing adds routes any other way."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.routing import Route

from releasegate.backends import EchoBackend
from releasegate.gateway import ROUTES, RouteRow, create_app
from releasegate.vocab import AccessLevel
from tests.helpers.gateway import (
    ADMIN,
    bearer,
    chat_body,
    decision_at,
    gateway_settings,
    keyword_tiers,
    new_key,
    running,
)

BODY_ROWS = [row for row in ROUTES if row.request is not None]


def _example(row: RouteRow[Any]) -> dict[str, Any]:
    assert row.request is not None
    examples = row.request.model_json_schema().get("examples")
    assert examples, f"{row.request.__name__} has no example (json_schema_extra)"
    example: dict[str, Any] = examples[0]
    return example


def _url(row: RouteRow[Any]) -> str:
    path = row.path
    for name in row.path_params:
        path = path.replace("{" + name + "}", "no-such-id")
    return path


def _app(tmp_path: Path, backend: EchoBackend) -> Any:
    tiers = keyword_tiers()
    return create_app(
        gateway_settings(tmp_path),
        backend=backend,
        decision=decision_at(AccessLevel.RESEARCH_API),
        tiers=tiers,
    )


def _leaves(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """(field path, string) for every string in a request example."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _leaves(v, f"{path}.{k}" if path else k)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _leaves(v, f"{path}[{i}]")


def _replace(value: Any, path: str, new: Any) -> Any:
    target = json.loads(json.dumps(value))
    parts = path.replace("[", ".[").split(".")
    node = target
    for part in parts[:-1]:
        node = node[int(part[1:-1])] if part.startswith("[") else node[part]
    last = parts[-1]
    if last.startswith("["):
        node[int(last[1:-1])] = new
    else:
        node[last] = new
    return target


def test_every_row_has_a_valid_example_and_a_unique_name() -> None:
    assert len({row.name for row in ROUTES}) == len(ROUTES)
    assert len({(row.method, row.path) for row in ROUTES}) == len(ROUTES)
    for row in BODY_ROWS:
        example = _example(row)
        if row.body_format == "multipart":
            row.validate_form(example)
        elif row.has_body:
            row.validate_json(json.dumps(example).encode())
        else:
            row.validate_query(example)


def test_the_app_serves_the_rows_and_nothing_else(tmp_path: Path) -> None:
    app = _app(tmp_path, EchoBackend())
    served = {
        (method, route.path)
        for route in app.routes
        if isinstance(route, Route)
        for method in (route.methods or set()) - {"HEAD"}
    }
    rows = {(row.method, row.path) for row in ROUTES}
    docs = {("GET", "/openapi.json"), ("GET", "/docs"), ("GET", "/docs/oauth2-redirect")}
    assert served == rows | docs


def test_openapi_lists_every_row_with_its_schemas(tmp_path: Path) -> None:
    app = _app(tmp_path, EchoBackend())

    async def go() -> tuple[dict[str, Any], str]:
        async with running(app) as client:
            spec = (await client.get("/openapi.json")).json()
            docs = await client.get("/docs")
            assert docs.status_code == 200
            return spec, docs.text

    spec, docs = asyncio.run(go())
    assert "/openapi.json" in docs and "swagger" in docs.lower()
    schemas = spec["components"]["schemas"]
    for row in ROUTES:
        op = spec["paths"][row.path][row.method.lower()]
        assert op["operationId"] == row.name
        assert op["x-releasegate-requires"] == row.requires.describe()
        assert op["x-releasegate-rate-limit"] == row.rate_limit.describe()
        assert op["security"] == ([] if row.requires.kind == "public" else [{"bearer": []}])
        responses = op["responses"]
        assert "422" not in responses
        assert responses["400"]["content"]["application/json"]["schema"]["$ref"].endswith(
            "/ErrorResponse"
        )
        params = {(p["in"], p["name"]) for p in op.get("parameters", [])}
        assert {("path", name) for name in row.path_params} <= params
        if row.has_body:
            assert row.request is not None
            media = "multipart/form-data" if row.body_format == "multipart" else "application/json"
            ref = op["requestBody"]["content"][media]["schema"]["$ref"]
            assert ref.endswith("/" + row.request.__name__)
            assert op["requestBody"].get("required", False) is not row.body_optional
            assert row.request.__name__ in schemas
        if row.has_query:
            assert row.request is not None
            assert {("query", f) for f in row.request.model_fields} <= params
        ok = responses["200"]["content"]
        if row.response is not None:
            assert ok["application/json"]["schema"]["$ref"].endswith("/" + row.response.__name__)
            assert row.response.__name__ in schemas
        else:
            assert row.media_type.split(";")[0] in ok
    assert "HTTPValidationError" not in schemas


def test_a_request_that_violates_its_model_is_a_400_and_reaches_nothing(tmp_path: Path) -> None:
    backend = EchoBackend()
    app = _app(tmp_path, backend)

    async def go() -> None:
        async with running(app) as client:
            key = await new_key(client, "researcher")
            keys_before = (await client.get("/admin/keys", headers=ADMIN)).json()["data"]
            for row in BODY_ROWS:
                if row.body_format == "multipart":  # tests/finetune/test_files.py
                    continue
                headers = ADMIN if row.requires.kind == "staff" else bearer(key)
                example = _example(row)
                for path, _text in _leaves(example):
                    cases = [("x\x00y", "NUL")]
                    if row.has_body:  # a JSON body can carry the wrong type
                        cases.append(({"not": "a string"}, ""))
                    for value, phrase in cases:
                        bad = _replace(example, path, value)
                        if row.has_body:
                            r = await client.request(
                                row.method, _url(row), json=bad, headers=headers
                            )
                        else:
                            r = await client.request(
                                row.method, _url(row), params=bad, headers=headers
                            )
                        assert r.status_code == 400, (row.name, path, r.text)
                        error = r.json()["error"]
                        assert set(error) == {"message", "type", "param", "code", "request_id"}
                        assert error["param"] == path, (row.name, path, error)
                        assert error["type"] == "invalid_request_error"
                        # a literal or datetime field (role, expires_at) says what it expects
                        assert phrase in error["message"] or "Input should be" in error["message"]
            assert backend.calls == 0
            assert (await client.get("/admin/keys", headers=ADMIN)).json()["data"] == keys_before
            audit = app.state.gateway.audit_log
            assert all("\x00" not in json.dumps(r.payload) for r in audit.records())

    asyncio.run(go())


def test_responses_match_their_rows_response_models(tmp_path: Path) -> None:
    app = _app(tmp_path, EchoBackend())
    by_name = {row.name: row for row in ROUTES}

    def check(name: str, body: Any) -> None:
        model = by_name[name].response
        assert model is not None
        model.model_validate(body)

    async def go() -> None:
        async with running(app) as client:
            key = await new_key(client, "researcher")  # logprobs need research_api
            r = await client.post(
                "/v1/chat/completions",
                json=chat_body("hi there", logprobs=True, top_logprobs=2),
                headers=bearer(key),
            )
            check("chat.completions", r.json())
            r = await client.post(
                "/v1/completions",
                json={"model": "echo", "prompt": "hi", "logprobs": 2},
                headers=bearer(key),
            )
            check("completions", r.json())
            check("models", (await client.get("/v1/models", headers=bearer(key))).json())
            created = await client.post(
                "/admin/keys", json={"tier": "public", "owner": "bob"}, headers=ADMIN
            )
            check("keys.create", created.json())
            key_id = created.json()["id"]
            check("keys.list", (await client.get("/admin/keys", headers=ADMIN)).json())
            r = await client.post(f"/admin/keys/{key_id}/suspend", headers=ADMIN)
            assert r.json()["suspended_reason"] == "suspended by an admin"
            check("keys.suspend", r.json())
            rotated = await client.post(f"/admin/keys/{key_id}/rotate", headers=ADMIN)
            check("keys.rotate", rotated.json())
            r = await client.post(f"/admin/keys/{rotated.json()['id']}/revoke", headers=ADMIN)
            check("keys.revoke", r.json())
            r = await client.get("/admin/incidents", params={"status": "open"}, headers=ADMIN)
            check("incidents.list", r.json())
            r = await client.get("/metrics", headers=ADMIN)
            assert r.headers["content-type"].startswith("text/plain")

    asyncio.run(go())


@pytest.mark.parametrize(
    ("body", "param", "code"),
    [
        ({"tier": "public"}, "owner", "missing_required_parameter"),
        ({"tier": "public", "owner": "a", "teir": "x"}, "teir", "unknown_parameter"),
        ({"tier": "public", "owner": "a", "expires_at": "2027-01-01T00:00"}, "expires_at", None),
        ({"tier": "public", "owner": "a", "limits": {"rpm": "5"}}, "limits.rpm", "invalid_type"),
        ({"tier": "gold", "owner": "a"}, "tier", "invalid_value"),
    ],
)
def test_admin_bodies_are_strict(
    tmp_path: Path, body: dict[str, Any], param: str, code: str | None
) -> None:
    app = _app(tmp_path, EchoBackend())

    async def go() -> None:
        async with running(app) as client:
            r = await client.post("/admin/keys", json=body, headers=ADMIN)
            assert r.status_code == 400, r.text
            error = r.json()["error"]
            assert error["param"] == param
            if code is not None:
                assert error["code"] == code
            assert (await client.get("/admin/keys", headers=ADMIN)).json()["data"] == []

    asyncio.run(go())
