"""Upstream HTTP clients compared in front of bench/upstream.py: latency of sequential requests and
CPU per request with 32 concurrent requests, for httpx and aiohttp used bare (one client, pooled
keep-alive connections), and `OpenAIBackend.chat` itself (aiohttp underneath, plus the request
body, the answer's parsing and the retry loop). Explains where the gateway's time goes in front
of an `openai:` upstream and why the backend uses aiohttp (docs/benchmarks.md).

    python bench/http_clients.py [--requests 2000] [--concurrency 32]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
import httpx

from releasegate.backends import ChatMessage, GenerationParams, OpenAIBackend

HERE = Path(__file__).resolve().parent
BODY = json.dumps(
    {"model": "bench-model", "messages": [{"role": "user", "content": "Say hello."}]}
).encode()
HEADERS = {"content-type": "application/json"}


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _measure(
    name: str, post: Callable[[], Awaitable[None]], n: int, concurrency: int
) -> dict[str, float]:
    for _ in range(200):
        await post()
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        await post()
        times.append(time.perf_counter() - t0)
    sem = asyncio.Semaphore(concurrency)

    async def one() -> None:
        async with sem:
            await post()

    c0, t0 = _cpu(), time.perf_counter()
    await asyncio.gather(*(one() for _ in range(n)))
    wall = time.perf_counter() - t0
    return {
        "p50_ms": statistics.median(times) * 1000,
        "cpu_ms_per_request": (_cpu() - c0) / n * 1000,
        "rps": n / wall,
    }


async def run(url: str, n: int, concurrency: int) -> dict[str, dict[str, float]]:
    out = {}
    async with httpx.AsyncClient(limits=httpx.Limits(max_keepalive_connections=32)) as client:

        async def httpx_post() -> None:
            (await client.post(url + "/chat/completions", content=BODY, headers=HEADERS)).json()

        out["httpx.AsyncClient"] = await _measure("httpx", httpx_post, n, concurrency)
    async with aiohttp.ClientSession() as session:

        async def aiohttp_post() -> None:
            async with session.post(url + "/chat/completions", data=BODY, headers=HEADERS) as r:
                json.loads(await r.read())

        out["aiohttp.ClientSession"] = await _measure("aiohttp", aiohttp_post, n, concurrency)
    backend = OpenAIBackend(url, "bench-model", max_retries=0)
    messages = [ChatMessage(role="user", content="Say hello.")]
    params = GenerationParams(max_tokens=16)

    async def backend_chat() -> None:
        await backend.chat(messages, params)

    out["OpenAIBackend.chat (aiohttp)"] = await _measure("backend", backend_chat, n, concurrency)
    await backend.aclose()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    up = subprocess.Popen([sys.executable, str(HERE / "upstream.py"), "--port", str(port)])
    try:
        time.sleep(1.0)
        import uvloop

        results = uvloop.run(run(f"http://127.0.0.1:{port}/v1", args.requests, args.concurrency))
    finally:
        up.terminate()
        up.wait()
    print(
        f"| client | sequential p50 ms | CPU ms/request at {args.concurrency} concurrent | req/s |"
    )
    print("|---|---:|---:|---:|")
    for name, r in results.items():
        print(f"| {name} | {r['p50_ms']:.3f} | {r['cpu_ms_per_request']:.3f} | {r['rps']:.0f} |")


if __name__ == "__main__":
    main()
