"""An OpenAI-compatible upstream that answers every well-formed request with a fixed reply and
records what reached it: the "backend" the reliability harness counts (a request the gateway
should have refused must never appear here).

Unlike `openai_server`'s scripted fake, it accepts whatever message shapes the gateway forwards
(no user message, any model name), so that an answer it gives is never a 5xx of its own.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import StreamingResponse

REPLY = "counted"


@dataclass
class Counted:
    """What reached the upstream, in order; `base_url` is its `/v1` root."""

    base_url: str = ""
    bodies: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def snapshot(self) -> list[dict[str, Any]]:
        with self.lock:
            return list(self.bodies)


def _app(counted: Counted) -> FastAPI:
    app = FastAPI()
    usage = {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}

    @app.get("/v1/models")
    async def models() -> Any:
        return {"object": "list", "data": [{"id": "counted-model", "object": "model"}]}

    async def record(request: Request) -> dict[str, Any]:
        body: dict[str, Any] = json.loads(await request.body())
        with counted.lock:
            counted.bodies.append(body)
        return body

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> Any:
        body = await record(request)
        if not body.get("stream"):
            message = {"role": "assistant", "content": REPLY}
            choice = {"index": 0, "message": message, "finish_reason": "stop"}
            return {"id": "c", "object": "chat.completion", "choices": [choice], "usage": usage}

        async def events() -> AsyncIterator[str]:
            for delta, finish in (({"content": REPLY}, None), ({}, "stop")):
                chunk = {"choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
                yield f"data: {json.dumps(chunk)}\n\n"
            yield f"data: {json.dumps({'choices': [], 'usage': usage})}\n\n"
            yield "data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    @app.post("/v1/completions")
    async def completions(request: Request) -> Any:
        await record(request)
        choice = {"index": 0, "text": REPLY, "finish_reason": "stop"}
        return {"id": "p", "object": "text_completion", "choices": [choice], "usage": usage}

    return app


@contextmanager
def serve_counting_upstream() -> Iterator[Counted]:
    """Run it on a free loopback port in a background thread (uvicorn)."""
    import uvicorn

    counted = Counted()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(_app(counted), log_level="warning", lifespan="off", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("counting upstream did not start")
        time.sleep(0.02)
    counted.base_url = f"http://127.0.0.1:{port}/v1"
    try:
        yield counted
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
