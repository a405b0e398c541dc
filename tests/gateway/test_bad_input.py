"""Bad input (issue 4 §7): an OpenAI-style 4xx with a clear message, never a 500, and the audit
log stays a valid chain with no record for anything refused before authentication."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from releasegate.backends import EchoBackend
from releasegate.gateway import create_app
from releasegate.vocab import AccessLevel
from tests.helpers.gateway import (
    MODEL,
    bearer,
    chat_body,
    decision_at,
    gateway_settings,
    keyword_tiers,
    new_key,
    running,
)

# (raw body, status, error code, a phrase the message must contain)
BODIES: list[tuple[bytes, int, str, str]] = [
    (b"", 400, "empty_body", "empty"),
    (b'{"model": "echo", "messages": [', 400, "invalid_json", "not valid JSON"),
    (b"[1, 2]", 400, "invalid_json", "JSON object"),
    (
        b'{"model": "echo", "messages": [{"role": "user", "content": "\xff\xfe"}]}',
        400,
        "invalid_utf8",
        "UTF-8",
    ),
    (
        b'{"messages": [{"role": "user", "content": "hi"}]}',
        400,
        "missing_required_parameter",
        "model",
    ),
    (b'{"model": 5, "messages": []}', 400, "invalid_type", "model"),
    (b'{"model": "echo", "messages": "hi"}', 400, "invalid_type", "messages"),
    (b'{"model": "echo", "messages": []}', 400, "invalid_value", "messages"),
    (
        b'{"model": "echo", "messages": [{"role": "wizard", "content": "hi"}]}',
        400,
        "invalid_value",
        "messages[0].role",
    ),
    (
        b'{"model": "echo", "messages": [{"role": "user", "content": 3}]}',
        400,
        "invalid_type",
        "messages[0].content",
    ),
    (
        b'{"model": "echo", "messages": [{"role": "user"}]}',
        400,
        "missing_required_parameter",
        "messages[0].content",
    ),
    (
        b'{"model": "echo", "messages": [{"role": "user", "content": "hi"}], "max_tokens": "9"}',
        400,
        "invalid_type",
        "max_tokens",
    ),
    (
        b'{"model": "echo", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 0}',
        400,
        "invalid_value",
        "max_tokens",
    ),
    (
        b'{"model": "echo", "messages": [{"role": "user", "content": "hi"}], "temperature": "hot"}',
        400,
        "invalid_type",
        "temperature",
    ),
    (
        b'{"model": "echo", "messages": [{"role": "user", "content": "hi"}], "stream": "yes"}',
        400,
        "invalid_type",
        "stream",
    ),
    (
        b'{"model": "echo", "messages": [{"role": "user", "content": "hi"}], "stop": [1]}',
        400,
        "invalid_type",
        "stop",
    ),
    (
        b'{"model": "nope", "messages": [{"role": "user", "content": "hi"}]}',
        404,
        "model_not_found",
        "'nope' does not exist",
    ),
]


def _app(tmp_path: Path, **settings: Any) -> Any:
    return create_app(
        gateway_settings(tmp_path, **settings),
        backend=EchoBackend(),
        decision=decision_at(AccessLevel.RESEARCH_API),
        tiers=keyword_tiers(),
    )


def test_bad_bodies_are_clear_4xx(tmp_path: Path) -> None:
    app = _app(tmp_path)

    async def go() -> None:
        async with running(app) as client:
            key = await new_key(client, "public")
            for raw, status, code, phrase in BODIES:
                r = await client.post(
                    "/v1/chat/completions",
                    content=raw,
                    headers={**bearer(key), "content-type": "application/json"},
                )
                assert r.status_code == status, (raw, r.text)
                error = r.json()["error"]
                assert set(error) == {"message", "type", "param", "code", "request_id"}
                assert str(error["code"]) == code, (raw, error)
                assert phrase in error["message"], (raw, error)
            r = await client.post(
                "/v1/completions", json={"model": MODEL, "prompt": [1, 2]}, headers=bearer(key)
            )
            assert r.status_code == 400 and r.json()["error"]["param"] == "prompt"
            assert app.state.gateway.backend.calls == 0
            audit = app.state.gateway.audit_log
            # each authenticated bad request has exactly one complete record, and the chain holds
            records = [r for r in audit.records() if r.kind == "request"]
            assert len(records) == len(BODIES) + 1
            assert all(r.payload["status"] in (400, 404) for r in records)
            assert audit.verify().ok

    asyncio.run(go())


def test_bad_keys_leave_no_record_and_oversized_bodies_are_refused(tmp_path: Path) -> None:
    app = _app(tmp_path, max_body_bytes=2048)

    async def go() -> None:
        async with running(app) as client:
            audit = app.state.gateway.audit_log
            before = audit.head()[0]
            body = chat_body()
            cases: list[tuple[dict[str, str], int, str]] = [
                ({}, 401, "missing_api_key"),
                ({"Authorization": "Basic abc"}, 401, "invalid_api_key"),
                ({"Authorization": "Bearer sk-openai-style"}, 401, "invalid_api_key"),
                (bearer("rg-" + "x" * 43), 401, "invalid_api_key"),
            ]
            for headers, status, code in cases:
                r = await client.post("/v1/chat/completions", json=body, headers=headers)
                assert r.status_code == status, r.text
                assert r.json()["error"]["code"] == code
                assert r.json()["error"]["type"] == "authentication_error"
            key = await new_key(client, "public")
            after_key = audit.head()[0]
            assert after_key == before + 1  # only the admin action
            big = chat_body("x" * 4000)
            r = await client.post("/v1/chat/completions", json=big, headers=bearer(key))
            assert r.status_code == 413
            assert "exceeds this gateway's limit of 2048 bytes" in r.json()["error"]["message"]

            async def chunks() -> Any:  # no Content-Length: the cap is counted while reading
                for _ in range(10):
                    yield b"x" * 500

            r = await client.post("/v1/chat/completions", content=chunks(), headers=bearer(key))
            assert r.status_code == 413
            # The key is known before the body is read: its refusals are audited like any other.
            refusals = list(audit.records(after_seq=after_key))
            assert [r.payload["error"] for r in refusals] == ["request_too_large"] * 2
            after_key = audit.head()[0]
            r = await client.get("/v1/nothing-here", headers=bearer(key))
            assert r.status_code == 404 and "no route" in r.json()["error"]["message"]
            r = await client.get("/v1/chat/completions", headers=bearer(key))
            assert r.status_code == 405 and r.json()["error"]["code"] == "method_not_allowed"
            assert audit.verify().ok

    asyncio.run(go())
