"""An `openai:` upstream's failures as a gateway client sees them (the real app over ASGI, the
aiohttp backend, scripted upstream sockets): refused, stalled, cut mid-stream, or answering
4xx/5xx. Each is a clear OpenAI-style error, audited, and none names the upstream's URL, host
or port."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from releasegate.backends import OpenAIBackend
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
from tests.helpers.openai_server import unused_port

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def _read_request(reader: asyncio.StreamReader) -> None:
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        (
            int(line.split(b":")[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        ),
        0,
    )
    await reader.readexactly(length)


def _answer(status: int, body: dict[str, Any]) -> bytes:
    raw = json.dumps(body).encode()
    return b"HTTP/1.1 %d X\r\nContent-Length: %d\r\n\r\n%s" % (status, len(raw), raw)


def _stalls_mid_stream() -> Handler:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        event = json.dumps({"choices": [{"index": 0, "delta": {"content": "partial"}}]})
        data = f"data: {event}\n\n".encode()
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n" % (len(data), data)
        )
        await writer.drain()
        await asyncio.sleep(5)

    return handler


def _answers(status: int, body: dict[str, Any], delay_s: float = 0.0) -> Handler:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            await _read_request(reader)
            await asyncio.sleep(delay_s)
            writer.write(_answer(status, body))
            await writer.drain()

    return handler


async def _through_gateway(
    tmp_path: Path, handler: Handler | None, body: dict[str, Any]
) -> tuple[int, str, list[Any], str]:
    """POST `body` through a gateway whose upstream runs `handler` (None: nothing listens);
    (status, response text, the last audit record's payload, the upstream's host:port)."""
    server = None
    port = unused_port()
    if handler is not None:

        async def on_connect(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            try:
                await handler(r, w)
            except (ConnectionError, asyncio.IncompleteReadError):
                pass
            finally:
                w.close()

        server = await asyncio.start_server(on_connect, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
    backend = OpenAIBackend(
        f"http://127.0.0.1:{port}/v1", MODEL, timeout_s=0.5, max_retries=1, backoff_s=0.01
    )
    app = create_app(
        gateway_settings(tmp_path),
        backend=backend,
        decision=decision_at(AccessLevel.RESEARCH_API),
        tiers=keyword_tiers(),
    )
    try:
        async with running(app) as client:
            key = await new_key(client, "public")
            r = await client.post("/v1/chat/completions", json=body, headers=bearer(key))
            records = list(app.state.gateway.audit_log.records())
            return r.status_code, r.text, [records[-1].payload], f"127.0.0.1:{port}"
    finally:
        await backend.aclose()  # a backend passed in is the caller's to close
        if server is not None:
            server.close()


@pytest.mark.parametrize(
    "handler",
    [None, _answers(200, {"ok": True}, delay_s=2.0), _answers(503, {"error": {"message": "x"}})],
    ids=["refused", "read-timeout", "5xx-after-retries"],
)
def test_upstream_failures_are_502_audited_and_name_no_address(
    tmp_path: Path, handler: Handler | None
) -> None:
    got, text, (audit,), address = asyncio.run(_through_gateway(tmp_path, handler, chat_body()))
    assert got == 502, text
    assert json.loads(text)["error"]["code"] == "backend_error"
    assert audit["status"] == 502
    assert address not in text and "127.0.0.1" not in text and "/v1/chat" not in text


def _stream_error(text: str) -> dict[str, Any]:
    events = [b[len("data: ") :] for b in text.split("\n\n") if b.startswith("data: ")]
    error: dict[str, Any] = json.loads(events[-1])["error"]
    return error


def test_a_refused_stream_ends_with_an_error_event(tmp_path: Path) -> None:
    got, text, (audit,), address = asyncio.run(
        _through_gateway(tmp_path, None, chat_body(stream=True))
    )
    assert got == 200  # the stream's head goes out before the backend is asked
    assert _stream_error(text)["code"] == "backend_error"
    assert audit["status"] == 502
    assert address not in text and "127.0.0.1" not in text


def test_an_upstream_4xx_is_a_400_with_only_the_upstream_message(tmp_path: Path) -> None:
    handler = _answers(400, {"error": {"message": "max_tokens is too large"}})
    got, text, (audit,), address = asyncio.run(_through_gateway(tmp_path, handler, chat_body()))
    assert got == 400
    error = json.loads(text)["error"]
    assert error["code"] == "upstream_rejected"
    assert error["message"] == "the model rejected the request: max_tokens is too large"
    assert audit["status"] == 400
    assert address not in text


def test_a_stream_that_stalls_upstream_ends_with_an_error_event(tmp_path: Path) -> None:
    got, text, (audit,), address = asyncio.run(
        _through_gateway(tmp_path, _stalls_mid_stream(), chat_body(stream=True))
    )
    assert got == 200  # the head went out with the first text
    assert _stream_error(text)["code"] == "backend_error"
    assert address not in text and "127.0.0.1" not in text
    assert audit["status"] == 502
