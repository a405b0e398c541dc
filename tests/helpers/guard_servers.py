"""A tiny real HTTP server (FastAPI on uvicorn, 127.0.0.1) answering like Llama Guard behind an
OpenAI-compatible `/v1/completions`, and like a hosted `/v1/moderations` API.

Its "model" is a rule: the last turn of the conversation (the one Llama Guard is asked about)
is unsafe when it contains one of `UNSAFE_WORDS`. Faults are scripted through `state.mode`:
"ok", "garbage" (unparsable answer), "error" (HTTP 500), "slow" (sleeps 2 s, past the
tests' timeouts),
"badjson" (a 200 that is not JSON).
"""

from __future__ import annotations

import asyncio
import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse

UNSAFE_WORDS = {"bomb": "S9", "launder": "S2"}


@dataclass
class GuardServerState:
    mode: str = "ok"
    requests: list[dict[str, Any]] = field(default_factory=list)
    auth: list[str | None] = field(default_factory=list)


def _last_turn(prompt: str) -> tuple[str, str]:
    """(role asked about, content of the last turn) of a Llama Guard prompt."""
    role = re.search(r"for ONLY THE LAST (User|Agent) message", prompt)
    convo = re.search(r"<BEGIN CONVERSATION>\n\n(.*)\n\n<END CONVERSATION>", prompt, re.S)
    if not role or not convo:
        raise ValueError("not a Llama Guard prompt")
    turns = re.split(r"\n\n(?=(?:User|Agent): )", convo.group(1))
    return role.group(1), turns[-1]


def create_guard_server(state: GuardServerState) -> FastAPI:
    app = FastAPI()

    async def fault() -> Any:
        if state.mode == "error":
            return JSONResponse({"error": {"message": "boom"}}, status_code=500)
        if state.mode == "slow":
            await asyncio.sleep(2)  # past the 0.5 s timeout the tests use
        if state.mode == "badjson":
            return PlainTextResponse("not json")
        return None

    @app.post("/v1/completions")
    async def completions(request: Request) -> Any:
        body = await request.json()
        state.requests.append(body)
        state.auth.append(request.headers.get("authorization"))
        failed = await fault()
        if failed is not None:
            return failed
        if state.mode == "garbage":
            text = "I think this is probably fine."
        else:
            _, last = _last_turn(body["prompt"])
            cats = sorted({c for w, c in UNSAFE_WORDS.items() if w in last.lower()})
            text = f"unsafe\n{','.join(cats)}" if cats else "safe"
        return {"id": "x", "object": "text_completion", "choices": [{"index": 0, "text": text}]}

    @app.post("/v1/moderations")
    async def moderations(request: Request) -> Any:
        body = await request.json()
        state.requests.append(body)
        state.auth.append(request.headers.get("authorization"))
        failed = await fault()
        if failed is not None:
            return failed
        if state.mode == "garbage":
            return {"id": "m", "results": "none"}
        results = []
        for text in body["input"]:
            bomb = "bomb" in text.lower()
            results.append(
                {
                    "flagged": bomb,
                    "categories": {"violence": bomb, "illicit/violent": bomb, "hate": False},
                    "category_scores": {"violence": 0.91 if bomb else 0.02, "hate": 0.01},
                }
            )
        return {"id": "m", "model": body["model"], "results": results}

    return app


@dataclass
class GuardServer:
    state: GuardServerState
    base_url: str


@contextmanager
def serve_guard_server() -> Iterator[GuardServer]:
    """Run the server on a free loopback port in a background thread."""
    import uvicorn

    state = GuardServerState()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        create_guard_server(state),
        log_level="warning",
        lifespan="off",
        access_log=False,
        timeout_graceful_shutdown=1,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("guard server did not start")
        time.sleep(0.02)
    try:
        yield GuardServer(state=state, base_url=f"http://127.0.0.1:{port}/v1")
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
