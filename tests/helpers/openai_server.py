"""A tiny OpenAI-compatible HTTP server for tests, served by a real uvicorn on 127.0.0.1.

The "model" is deterministic text arithmetic so tests can predict every answer:
chat answers `echo: <last user message>` one word per token (each token's logprob -0.5);
completions echo the prompt when asked, one character per token, with logprob
`-(ord(char) % 7) / 10` (the first prompt token has none, as real servers do).

A test may script the chat answer itself with `state.reply` (last user message -> answer text).
Faults are scripted through `FakeUpstream.state`: `fail_statuses` (answered in order before
success, with `retry_after`), `delay_s` (sleep before answering), `no_echo` (completions refuse
`echo`), `stream_error` (a stream sends an error event after its first token).
`max_in_flight` counts the most requests inside their `delay_s` at once.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

# Module level, not inside the factory: FastAPI resolves the (string) annotations of the routes
# against this module's globals.
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse


def char_logprob(char: str) -> float:
    """The fake model's logprob of a completion character."""
    return -(ord(char) % 7) / 10


@dataclass
class UpstreamState:
    reply: Callable[[str], str] | None = None
    fail_statuses: list[int] = field(default_factory=list)
    retry_after: str | None = None
    delay_s: float = 0.0
    no_echo: bool = False
    stream_error: bool = False
    requests: list[dict[str, Any]] = field(default_factory=list)
    request_times: list[float] = field(default_factory=list)
    auth_headers: list[str | None] = field(default_factory=list)
    in_flight: int = 0  # requests inside their `delay_s` right now
    max_in_flight: int = 0  # the most there ever were at once


def _words(text: str, limit: int) -> tuple[list[str], str]:
    words = text.split(" ")
    tokens = [w if i == 0 else " " + w for i, w in enumerate(words)]
    if len(tokens) > limit:
        return tokens[:limit], "length"
    return tokens, "stop"


def create_fake_upstream(state: UpstreamState) -> Any:
    app = FastAPI()

    async def gate(request: Request) -> JSONResponse | None:
        body = await request.json() if request.method == "POST" else {}
        state.requests.append({"path": request.url.path, "body": body})
        state.request_times.append(time.monotonic())
        state.auth_headers.append(request.headers.get("authorization"))
        if state.delay_s:
            state.in_flight += 1
            state.max_in_flight = max(state.max_in_flight, state.in_flight)
            try:
                await asyncio.sleep(state.delay_s)
            finally:
                state.in_flight -= 1
        if state.fail_statuses:
            status = state.fail_statuses.pop(0)
            headers = {"Retry-After": state.retry_after} if state.retry_after else {}
            return JSONResponse(
                {"error": {"message": f"scripted failure {status}", "type": "server_error"}},
                status_code=status,
                headers=headers,
            )
        return None

    @app.get("/v1/models")
    async def models(request: Request) -> Any:
        failed = await gate(request)
        if failed is not None:
            return failed
        return {"object": "list", "data": [{"id": "fake-model", "object": "model"}]}

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> Any:
        failed = await gate(request)
        if failed is not None:
            return failed
        body = state.requests[-1]["body"]
        if body.get("model") != "fake-model":
            return JSONResponse(
                {"error": {"message": f"model {body.get('model')!r} not found"}}, status_code=404
            )
        last = [m for m in body["messages"] if m["role"] == "user"][-1]["content"]
        answer = state.reply(last) if state.reply is not None else f"echo: {last}"
        tokens, finish = _words(answer, int(body.get("max_tokens") or 16))
        usage = {
            "prompt_tokens": sum(len(m["content"].split()) for m in body["messages"]),
            "completion_tokens": len(tokens),
        }
        top_k = int(body.get("top_logprobs") or 0)

        def logprob_entry(token: str) -> dict[str, Any]:
            return {
                "token": token,
                "logprob": -0.5,
                "top_logprobs": [
                    {"token": token, "logprob": -0.5},
                    {"token": "<alt>", "logprob": -1.5},
                ][:top_k],
            }

        if not body.get("stream"):
            choice: dict[str, Any] = {
                "index": 0,
                "message": {"role": "assistant", "content": "".join(tokens)},
                "finish_reason": finish,
            }
            if body.get("logprobs"):
                choice["logprobs"] = {"content": [logprob_entry(t) for t in tokens]}
            return {"id": "c1", "object": "chat.completion", "choices": [choice], "usage": usage}

        async def events() -> AsyncIterator[str]:
            for i, token in enumerate(tokens):
                chunk = {"choices": [{"index": 0, "delta": {"content": token}}]}
                yield f"data: {json.dumps(chunk)}\n\n"
                if state.stream_error and i == 0:
                    yield 'data: {"error": {"message": "policy violation"}}\n\n'
                    return
            end = {"choices": [{"index": 0, "delta": {}, "finish_reason": finish}]}
            yield f"data: {json.dumps(end)}\n\n"
            yield f"data: {json.dumps({'choices': [], 'usage': usage})}\n\n"
            yield "data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    @app.post("/v1/completions")
    async def completions(request: Request) -> Any:
        failed = await gate(request)
        if failed is not None:
            return failed
        body = state.requests[-1]["body"]
        prompt = str(body["prompt"])
        if body.get("echo") and state.no_echo:
            return JSONResponse(
                {"error": {"message": "echo is not supported", "type": "invalid_request_error"}},
                status_code=400,
            )
        generated = "!" * int(body.get("max_tokens") or 1)
        text = (prompt + generated) if body.get("echo") else generated
        offset0 = 0 if body.get("echo") else len(prompt)
        choice: dict[str, Any] = {"index": 0, "text": text, "finish_reason": "length"}
        if body.get("logprobs") is not None:
            values: list[float | None] = [char_logprob(c) for c in text]
            if body.get("echo") and values:
                values[0] = None
            k = int(body["logprobs"])
            choice["logprobs"] = {
                "tokens": list(text),
                "token_logprobs": values,
                "top_logprobs": [{c: char_logprob(c), "?": -9.0} if k else None for c in text],
                "text_offset": [offset0 + i for i in range(len(text))],
            }
        return {
            "id": "p1",
            "object": "text_completion",
            "choices": [choice],
            "usage": {"prompt_tokens": len(prompt), "completion_tokens": len(generated)},
        }

    return app


@dataclass
class FakeUpstream:
    state: UpstreamState
    base_url: str


@contextmanager
def serve_fake_upstream(
    ssl_certfile: str | None = None, ssl_keyfile: str | None = None
) -> Iterator[FakeUpstream]:
    """Run the fake upstream on a free loopback port in a background thread (https when given
    a certificate and its key)."""
    import uvicorn

    state = UpstreamState()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        create_fake_upstream(state),
        log_level="warning",
        lifespan="off",
        access_log=False,
        ssl_certfile=ssl_certfile,
        ssl_keyfile=ssl_keyfile,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("fake upstream did not start")
        time.sleep(0.02)
    try:
        scheme = "https" if ssl_certfile else "http"
        yield FakeUpstream(state=state, base_url=f"{scheme}://127.0.0.1:{port}/v1")
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def unused_port() -> int:
    """A loopback port with nothing listening (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
