"""The OpenAI-compatible routes through the real app (httpx over ASGI), on a real SQLite store."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import orjson

from releasegate.backends import EchoBackend
from releasegate.gateway import create_app
from releasegate.vocab import AccessLevel
from tests.helpers.gateway import (
    ADMIN,
    MODEL,
    bearer,
    chat_body,
    decision_at,
    gateway_settings,
    keyword_tiers,
    new_key,
    running,
)


def _app(tmp_path: Path, **tier_changes: Any) -> Any:
    return create_app(
        gateway_settings(tmp_path),
        backend=EchoBackend(),
        decision=decision_at(AccessLevel.RESEARCH_API),
        tiers=keyword_tiers(**tier_changes),
    )


def _events(text: str) -> list[Any]:
    out = []
    for block in text.split("\n\n"):
        if block.startswith("data: "):
            data = block[len("data: ") :]
            out.append(data if data == "[DONE]" else orjson.loads(data))
    return out


def test_chat_completions_and_audit(tmp_path: Path) -> None:
    app = _app(tmp_path)

    async def go() -> None:
        async with running(app) as client:
            key = await new_key(client, "public")
            r = await client.post(
                "/v1/chat/completions", json=chat_body("hello there"), headers=bearer(key)
            )
            assert r.status_code == 200, r.text
            body = r.json()
            assert body["object"] == "chat.completion"
            assert body["model"] == MODEL
            assert body["choices"][0]["message"] == {
                "role": "assistant",
                "content": "echo: hello there",
            }
            assert body["choices"][0]["finish_reason"] == "stop"
            assert body["usage"] == {"prompt_tokens": 2, "completion_tokens": 3, "total_tokens": 5}
            gateway = app.state.gateway
            records = list(gateway.audit_log.records())
            # the admin action that created the key, then the request
            assert [r.kind for r in records] == ["admin", "request"]
            request = records[-1]
            assert request.payload["status"] == 200
            assert request.payload["tier"] == "public"
            assert request.payload["tokens"] == 5
            assert request.payload["content"]["output"] == ["echo: hello there"]
            assert gateway.audit_log.verify().ok

    asyncio.run(go())


def test_completions_models_and_logprobs(tmp_path: Path) -> None:
    app = _app(tmp_path)

    async def go() -> None:
        async with running(app) as client:
            key = await new_key(client, "researcher")
            r = await client.post(
                "/v1/completions",
                json={"model": MODEL, "prompt": "one two", "max_tokens": 2, "logprobs": 2},
                headers=bearer(key),
            )
            assert r.status_code == 200, r.text
            choice = r.json()["choices"][0]
            assert r.json()["object"] == "text_completion"
            assert choice["text"] == "echo: one"
            assert choice["finish_reason"] == "length"
            assert choice["logprobs"]["tokens"] == ["echo:", " one"]
            assert choice["logprobs"]["token_logprobs"] == [-0.5, -0.5]
            r = await client.post(
                "/v1/chat/completions",
                json=chat_body("hi", logprobs=True, top_logprobs=3),
                headers=bearer(key),
            )
            assert r.status_code == 200, r.text
            content = r.json()["choices"][0]["logprobs"]["content"]
            assert content[0]["token"] == "echo:"
            assert len(content[0]["top_logprobs"]) == 3
            r = await client.get("/v1/models", headers=bearer(key))
            assert r.status_code == 200
            assert [m["id"] for m in r.json()["data"]] == [MODEL]

    asyncio.run(go())


def test_streaming_sse_with_usage(tmp_path: Path) -> None:
    app = _app(tmp_path)

    async def go() -> None:
        async with running(app) as client:
            key = await new_key(client, "developer")
            r = await client.post(
                "/v1/chat/completions",
                json=chat_body(
                    "stream me please", stream=True, stream_options={"include_usage": True}
                ),
                headers=bearer(key),
            )
            assert r.status_code == 200
            assert r.headers["content-type"].startswith("text/event-stream")
            events = _events(r.text)
            assert events[-1] == "[DONE]"
            chunks = events[:-1]
            text = "".join(
                c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"]
            )
            assert text == "echo: stream me please"
            assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
            assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
            assert chunks[-1]["choices"] == []
            assert chunks[-1]["usage"]["total_tokens"] == 3 + 4
            records = list(app.state.gateway.audit_log.records())
            phases = [r.payload.get("phase") for r in records if r.kind == "request"]
            assert phases == ["open", "end"]  # the stream's opening is recorded before any text
            assert records[-1].payload["content"]["output"] == "echo: stream me please"

    asyncio.run(go())


def test_output_guard_withholds_answer(tmp_path: Path) -> None:
    app = _app(tmp_path, public={"guards": ["test-marker"]})

    async def go() -> None:
        async with running(app) as client:
            key = await new_key(client, "public")
            r = await client.post(
                "/v1/chat/completions", json=chat_body("say FORBIDDEN"), headers=bearer(key)
            )
            assert r.status_code == 200
            choice = r.json()["choices"][0]
            assert choice["finish_reason"] == "content_filter"
            assert "FORBIDDEN" not in choice["message"]["content"]
            record = list(app.state.gateway.audit_log.records())[-1]
            assert record.payload["output_flags"][0]["categories"] == ["S9"]

    asyncio.run(go())


def test_stream_cut_by_output_guard(tmp_path: Path) -> None:
    app = _app(tmp_path, public={"guards": ["test-marker"]})

    async def go() -> None:
        async with running(app) as client:
            key = await new_key(client, "public")
            r = await client.post(
                "/v1/chat/completions",
                json=chat_body("say FORBIDDEN now", stream=True),
                headers=bearer(key),
            )
            events = _events(r.text)
            assert "[DONE]" not in events
            assert events[-1]["error"]["code"] == "content_filter"
            streamed = "".join(
                e["choices"][0]["delta"].get("content", "") for e in events if "choices" in e
            )
            assert "FORBIDDEN" not in streamed

    asyncio.run(go())


def test_input_guard_blocks_with_content_filter(tmp_path: Path) -> None:
    app = _app(tmp_path)

    async def go() -> None:
        async with running(app) as client:
            key = await new_key(client, "public")
            backend = app.state.gateway.backend
            r = await client.post(
                "/v1/chat/completions",
                json=chat_body("tell me how to make a bomb"),
                headers=bearer(key),
            )
            assert r.status_code == 400
            assert r.json()["error"]["code"] == "content_filter"
            assert backend.calls == 0  # the model never saw it
            record = list(app.state.gateway.audit_log.records())[-1]
            assert record.payload["status"] == 400
            assert record.payload["input_flag"]["categories"] == ["S9"]

    asyncio.run(go())


def test_backend_failure_is_502_and_audited(tmp_path: Path) -> None:
    app = _app(tmp_path)

    async def go() -> None:
        async with running(app) as client:
            key = await new_key(client, "public")
            app.state.gateway.backend.fail = True
            r = await client.post("/v1/chat/completions", json=chat_body(), headers=bearer(key))
            assert r.status_code == 502
            assert r.json()["error"]["code"] == "backend_error"
            assert list(app.state.gateway.audit_log.records())[-1].payload["status"] == 502

    asyncio.run(go())


def test_admin_api(tmp_path: Path) -> None:
    app = _app(tmp_path)

    async def go() -> None:
        async with running(app) as client:
            r = await client.post("/admin/keys", json={"tier": "public", "owner": "x"})
            assert r.status_code == 401
            r = await client.post(
                "/admin/keys", json={"tier": "public", "owner": "x"}, headers=bearer("rg-nope")
            )
            assert r.status_code == 401
            assert r.json()["error"]["code"] == "invalid_admin_token"
            r = await client.post(
                "/admin/keys",
                json={"tier": "public", "owner": "x", "limits": {"rpm": 10_000}},
                headers=ADMIN,
            )
            assert r.status_code == 400
            assert "exceeds the rpm of tier 'public'" in r.json()["error"]["message"]
            r = await client.post("/admin/keys", json={"tier": "gold", "owner": "x"}, headers=ADMIN)
            assert r.status_code == 400 and r.json()["error"]["param"] == "tier"

            key = await new_key(client, "public", owner="alice", rpm=5)
            listing = (await client.get("/admin/keys", headers=ADMIN)).json()["data"]
            assert [(k["owner"], k["limits"]["rpm"]) for k in listing] == [("alice", 5)]
            key_id = listing[0]["id"]
            assert key not in str(listing)  # plaintext never listed
            ok = await client.post("/v1/chat/completions", json=chat_body(), headers=bearer(key))
            assert ok.status_code == 200

            rotated = await client.post(f"/admin/keys/{key_id}/rotate", headers=ADMIN)
            assert rotated.status_code == 200
            new = rotated.json()["key"]
            old = await client.post("/v1/chat/completions", json=chat_body(), headers=bearer(key))
            assert old.status_code == 401  # this process forgets a rotated key at once
            r = await client.post("/v1/chat/completions", json=chat_body(), headers=bearer(new))
            assert r.status_code == 200
            new_id = rotated.json()["id"]
            r = await client.post(f"/admin/keys/{new_id}/suspend", headers=ADMIN)
            assert r.json()["status"] == "suspended"
            r = await client.post("/v1/chat/completions", json=chat_body(), headers=bearer(new))
            assert r.status_code == 401
            r = await client.post(f"/admin/keys/{new_id}/revoke", headers=ADMIN)
            assert r.json()["status"] == "revoked"
            r = await client.post("/admin/keys/key_missing/revoke", headers=ADMIN)
            assert r.status_code == 404

            audit = app.state.gateway.audit_log
            actions = [r.payload["route"] for r in audit.records() if r.kind == "admin"]
            assert actions == [
                "keys.create",  # refused: limits above the tier
                "keys.create",  # refused: unknown tier
                "keys.create",
                "keys.list",
                "keys.rotate",
                "keys.suspend",
                "keys.revoke",
                "keys.revoke",
            ]
            assert audit.verify().ok

    asyncio.run(go())


def test_observers_see_every_finished_request(tmp_path: Path) -> None:
    seen: list[tuple[str, int, str | None, list[int]]] = []

    async def observer(call: Any) -> None:
        tier = call.principal.tier.name if call.principal.tier else None
        seen.append((call.route, call.status, tier, call.audit_seqs))

    app = create_app(
        gateway_settings(tmp_path),
        backend=EchoBackend(),
        decision=decision_at(AccessLevel.RESEARCH_API),
        tiers=keyword_tiers(),
        observers=[observer],
    )

    async def go() -> None:
        async with running(app) as client:
            key = await new_key(client, "public")
            await client.post("/v1/chat/completions", json=chat_body(), headers=bearer(key))
            await client.post(
                "/v1/chat/completions", json=chat_body("how to make a bomb"), headers=bearer(key)
            )

    asyncio.run(go())
    # each call knows the seq of its audit record (incidents cite them)
    assert seen == [
        ("keys.create", 200, None, [1]),
        ("chat.completions", 200, "public", [2]),
        ("chat.completions", 400, "public", [3]),
    ]


def test_client_disconnect_mid_stream_is_still_audited(tmp_path: Path) -> None:
    app = create_app(
        gateway_settings(tmp_path),
        backend=EchoBackend(token_delay_s=0.05),
        decision=decision_at(AccessLevel.RESEARCH_API),
        tiers=keyword_tiers(),
    )

    async def go() -> None:
        async with running(app) as client:
            key = await new_key(client, "developer")
            body = orjson.dumps(chat_body("one two three four five six seven eight", stream=True))
            first_body = asyncio.Event()
            scope = {
                "type": "http",
                "asgi": {"version": "3.0"},
                "http_version": "1.1",
                "method": "POST",
                "scheme": "http",
                "path": "/v1/chat/completions",
                "raw_path": b"/v1/chat/completions",
                "query_string": b"",
                "root_path": "",
                "headers": [
                    (b"authorization", f"Bearer {key}".encode()),
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
                "client": ("127.0.0.1", 1),
                "server": ("127.0.0.1", 80),
                "state": {},
            }
            messages: list[dict[str, Any]] = [{"type": "http.request", "body": body}]

            async def receive() -> dict[str, Any]:
                if messages:
                    return messages.pop()
                await first_body.wait()  # the client hangs up once the stream has begun
                return {"type": "http.disconnect"}

            async def send(message: dict[str, Any]) -> None:
                if message["type"] == "http.response.body" and message.get("body"):
                    first_body.set()

            await asyncio.wait_for(app(scope, receive, send), timeout=10)
            audit = app.state.gateway.audit_log
            for _ in range(100):  # the end is written by a task of its own
                records = [r for r in audit.records() if r.kind == "request"]
                if len(records) == 2:
                    break
                await asyncio.sleep(0.02)
            assert [r.payload["phase"] for r in records] == ["open", "end"]
            assert records[-1].payload["status"] == 499
            assert records[-1].payload["error"] == "client_closed_request"
            assert audit.verify().ok

    asyncio.run(go())
