"""A lean HTTP/1.1 keep-alive load generator (asyncio + uvloop), so the client's own overhead is
small and identical for every target: latency of sequential requests on one connection, and
throughput with N concurrent connections."""

from __future__ import annotations

import asyncio
import statistics
import time
from dataclasses import dataclass


@dataclass
class Target:
    name: str
    host: str
    port: int
    path: str
    body: bytes
    headers: dict[str, str]

    def request(self) -> bytes:
        lines = [f"POST {self.path} HTTP/1.1", f"host: {self.host}:{self.port}"]
        lines += [f"{k}: {v}" for k, v in self.headers.items()]
        lines += ["content-type: application/json", f"content-length: {len(self.body)}"]
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + self.body


class Conn:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, target: Target) -> Conn:
        reader, writer = await asyncio.open_connection(target.host, target.port)
        return cls(reader, writer)

    async def roundtrip(self, raw: bytes) -> tuple[int, bytes]:
        self.writer.write(raw)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = None
        chunked = False
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value.strip())
            elif name == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
        if length is not None:
            return status, await self.reader.readexactly(length)
        if chunked:
            parts = []
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).strip(), 16)
                data = await self.reader.readexactly(size + 2)
                if size == 0:
                    break
                parts.append(data[:-2])
            return status, b"".join(parts)
        raise RuntimeError("response without length")

    def close(self) -> None:
        self.writer.close()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[k]


async def interleaved_latencies(
    targets: list[Target], n: int, warmup: int = 200, chunk: int = 100, rewarm: int = 10
) -> dict[str, list[float]]:
    """Seconds per request for each target: sequential requests on one keep-alive connection
    per target, the targets taking turns in chunks of `chunk` requests (the first `rewarm` of
    each chunk not counted). Taking turns spreads a shared machine's quiet and busy minutes
    over every target alike; chunks keep each target warm, as a server under steady traffic
    is (request by request alternation measured every server cold, ≈3× slower here)."""
    conns = {t.name: await Conn.open(t) for t in targets}
    out: dict[str, list[float]] = {t.name: [] for t in targets}

    async def run(target: Target, count: int, skip: int) -> None:
        raw = target.request()
        # A server closes a keep-alive connection left idle while the others take their turns
        # (uvicorn after 5 s): open a new one, and let the chunk's re-warm absorb it.
        if conns[target.name].writer.is_closing() or conns[target.name].reader.at_eof():
            conns[target.name] = await Conn.open(target)
        for i in range(count):
            t0 = time.perf_counter()
            try:
                status, body = await conns[target.name].roundtrip(raw)
            except (asyncio.IncompleteReadError, ConnectionError):
                if i >= skip:
                    raise
                conns[target.name].close()
                conns[target.name] = await Conn.open(target)
                status, body = await conns[target.name].roundtrip(raw)
            dt = time.perf_counter() - t0
            if status != 200:
                raise RuntimeError(f"{target.name}: HTTP {status}: {body[:300]!r}")
            if i >= skip:
                out[target.name].append(dt)

    try:
        for target in targets:
            await run(target, warmup, warmup)
        while len(out[targets[0].name]) < n:
            take = min(chunk, n - len(out[targets[0].name]))
            for target in targets:
                await run(target, rewarm + take, rewarm)
    finally:
        for conn in conns.values():
            conn.close()
    return out


async def throughput(target: Target, concurrency: int, seconds: float) -> tuple[float, int, int]:
    """(requests per second, errors, requests done) with `concurrency` connections."""
    raw = target.request()
    conns = [await Conn.open(target) for _ in range(concurrency)]
    done = 0
    errors = 0
    stop = time.perf_counter() + seconds

    async def worker(conn: Conn) -> None:
        nonlocal done, errors
        while time.perf_counter() < stop:
            status, _ = await conn.roundtrip(raw)
            if status == 200:
                done += 1
            else:
                errors += 1

    t0 = time.perf_counter()
    await asyncio.gather(*(worker(c) for c in conns))
    elapsed = time.perf_counter() - t0
    for c in conns:
        c.close()
    return done / elapsed, errors, done


def summary(values: list[float]) -> dict[str, float]:
    return {
        "p50_ms": statistics.median(values) * 1000,
        "p99_ms": percentile(values, 99) * 1000,
        "mean_ms": statistics.fmean(values) * 1000,
    }
