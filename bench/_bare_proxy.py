"""A bare pass-through HTTP/1.1 proxy: the least any Python gateway can add (diagnostic).

It forwards each request's bytes unchanged to the upstream and the response's bytes unchanged
back, one upstream connection per client connection, on uvloop: no HTTP framework, no JSON, no
authentication, no rate limits, no audit. Its added latency is the cost of the extra loopback
hop itself (two more socket writes and reads, and the scheduling of one more process), which
no gateway in front of an upstream avoids. `bench/gateway.py --floor` runs it beside the real
gateway. Only requests with a Content-Length and responses with a Content-Length are handled
(`bench/upstream.py` sends nothing else).

Usage: python bench/_bare_proxy.py --upstream-port P --port Q
"""

from __future__ import annotations

import argparse
import asyncio

import uvloop


def _message_end(buf: bytes | bytearray) -> int:
    """The length of the first complete HTTP message in `buf`, or 0 if it is not all there."""
    head_end = buf.find(b"\r\n\r\n")
    if head_end < 0:
        return 0
    head = bytes(buf[:head_end]).lower()
    at = head.find(b"content-length:")
    length = 0
    if at >= 0:
        line_end = head.find(b"\r\n", at)
        length = int(head[at + 15 : line_end if line_end >= 0 else None])
    end = head_end + 4 + length
    return end if len(buf) >= end else 0


class _Upstream(asyncio.Protocol):
    def __init__(self, client: _Client) -> None:
        self.client = client
        self.buf = bytearray()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while end := _message_end(self.buf):
            self.client.transport.write(bytes(self.buf[:end]))
            del self.buf[:end]

    def connection_lost(self, exc: Exception | None) -> None:
        self.client.transport.close()


class _Client(asyncio.Protocol):
    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.upstream: asyncio.Future[_Upstream] | None = None
        self.buf = bytearray()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        loop = asyncio.get_running_loop()
        self.upstream = asyncio.ensure_future(self._connect(loop))

    async def _connect(self, loop: asyncio.AbstractEventLoop) -> _Upstream:
        _, protocol = await loop.create_connection(
            lambda: _Upstream(self), "127.0.0.1", self.upstream_port
        )
        return protocol

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while end := _message_end(self.buf):
            message = bytes(self.buf[:end])
            del self.buf[:end]
            assert self.upstream is not None
            if self.upstream.done():
                self.upstream.result().transport.write(message)  # type: ignore[attr-defined]
            else:
                self.upstream.add_done_callback(
                    lambda f, m=message: f.result().transport.write(m)  # type: ignore[misc]
                )

    def connection_lost(self, exc: Exception | None) -> None:
        upstream = self.upstream
        if upstream is None:
            return
        if not upstream.done():
            upstream.cancel()  # still connecting: never open a connection nobody will use
        elif not upstream.cancelled() and upstream.exception() is None:
            upstream.result().transport.close()  # type: ignore[attr-defined]


async def serve(upstream_port: int, port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: _Client(upstream_port), "127.0.0.1", port)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--upstream-port", type=int, required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    uvloop.run(serve(args.upstream_port, args.port))


if __name__ == "__main__":
    main()
