"""A bare FastAPI pass-through proxy: the least a Python *framework* gateway can add (diagnostic).

One FastAPI route per OpenAI path, served by uvicorn (uvloop, httptools, one worker, no access
log), each forwarding the request body as it came to the upstream through one shared
`aiohttp.ClientSession` (the client the `openai:` backend uses) and returning the upstream's
status and bytes: no authentication, validation, limits, guards or audit. The issue's overhead
goal is stated against this floor: releasegate's added p50 ≤ this proxy's + 0.5 ms, same run.
`bench/gateway.py --floor` runs it beside the real gateway.

Usage: python bench/_fastapi_proxy.py --upstream-port P --port Q
"""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
import uvicorn
from fastapi import FastAPI, Request, Response


def create_proxy(upstream: str) -> FastAPI:
    session: aiohttp.ClientSession | None = None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        nonlocal session
        session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=100))
        yield
        await session.close()

    app = FastAPI(lifespan=lifespan)

    async def forward(method: str, path: str, body: bytes | None) -> Response:
        assert session is not None
        headers = {"Content-Type": "application/json"} if body is not None else None
        async with session.request(method, upstream + path, data=body, headers=headers) as r:
            content = await r.read()
            return Response(content, r.status, media_type=r.content_type)

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> Response:
        return await forward("POST", "/chat/completions", await request.body())

    @app.get("/v1/models")
    async def models() -> Response:
        return await forward("GET", "/models", None)

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--upstream-port", type=int, required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    app = create_proxy(f"http://127.0.0.1:{args.upstream_port}/v1")
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=args.port,
        loop="uvloop",
        http="httptools",
        log_level="warning",
        access_log=False,
    )


if __name__ == "__main__":
    main()
