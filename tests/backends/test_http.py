"""The `openai:` backend's HTTP/1.1 client against real sockets: scripted servers for the edge
cases (keep-alive, body framings, servers that close, stall or send garbage), and the fake
OpenAI upstream over https and through a real forwarding / CONNECT proxy."""

from __future__ import annotations

import asyncio
import base64
import gzip
import subprocess
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import pytest
import uvloop

from releasegate.backends import BackendError, ChatMessage, GenerationParams, OpenAIBackend
from releasegate.backends._http import (
    ConnectError,
    HTTPClient,
    Origin,
    ProtocolError,
    ReadTimeout,
    ServerDisconnected,
)
from tests.helpers.openai_server import FakeUpstream, serve_fake_upstream, unused_port

Reader = asyncio.StreamReader
Writer = asyncio.StreamWriter
Handler = Callable[[Reader, Writer, int, "Scripted"], Awaitable[None]]
T = TypeVar("T")


@dataclass
class Scripted:
    """A loopback server whose every connection runs `handler(reader, writer, n, self)`, n
    counting connections from 1."""

    port: int
    connections: int = 0
    open_now: int = 0
    most_open: int = 0
    requests: list[bytes] = field(default_factory=list)


async def scripted(handler: Handler) -> tuple[Scripted, asyncio.Server]:
    state = Scripted(port=0)

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        state.connections += 1
        state.open_now += 1
        state.most_open = max(state.most_open, state.open_now)
        try:
            await handler(reader, writer, state.connections, state)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            state.open_now -= 1
            writer.close()

    server = await asyncio.start_server(on_connect, "127.0.0.1", 0)
    state.port = server.sockets[0].getsockname()[1]
    return state, server


def against(
    handler: Handler, action: Callable[[HTTPClient, int], Awaitable[T]], **options: Any
) -> tuple[Scripted, T]:
    """Run `action(client, port)` with a new client (`options`) against a scripted server."""

    async def go() -> tuple[Scripted, T]:
        state, server = await scripted(handler)
        client = HTTPClient(**options)
        try:
            return state, await action(client, state.port)
        finally:
            await client.aclose()
            server.close()

    return asyncio.run(go())


async def read_request(reader: asyncio.StreamReader, state: Scripted) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    body = await reader.readexactly(length)
    state.requests.append(head + body)
    return body


def origin(port: int) -> Origin:
    return Origin.of(f"http://127.0.0.1:{port}", use_env_proxy=False)


async def get(client: HTTPClient, port: int, path: str = "/x") -> tuple[int, bytes]:
    response = await client.request("POST", origin(port), path, b"{}", content_type="x/y")
    return response.status, await response.read()


def ok(body: bytes, extra: bytes = b"") -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%s\r\n%s" % (len(body), extra, body)


def answer_once(answer: bytes, *, then: str = "hold") -> Handler:
    """A server that answers the first request with `answer`, then holds the connection open
    ("hold"), closes it ("close") or stalls for 5 s ("stall")."""

    async def handler(r: Reader, w: Writer, n: int, state: Scripted) -> None:
        await read_request(r, state)
        w.write(answer)
        await w.drain()
        if then == "hold":
            await r.read()
        elif then == "stall":
            await asyncio.sleep(5)

    return handler


def test_keep_alive_reuses_one_connection_and_sends_the_request_intact() -> None:
    async def handler(r: Reader, w: Writer, n: int, state: Scripted) -> None:
        while True:
            body = await read_request(r, state)
            w.write(ok(b"echo " + body))

    async def five(client: HTTPClient, port: int) -> list[tuple[int, bytes]]:
        return [await get(client, port, f"/v1/r{i}") for i in range(5)]

    state, answers = against(handler, five, headers={"Authorization": "Bearer k"})
    assert answers == [(200, b"echo {}")] * 5
    assert state.connections == 1
    head = state.requests[0].decode()
    assert head.startswith("POST /v1/r0 HTTP/1.1\r\n")
    assert f"Host: 127.0.0.1:{state.port}\r\n" in head
    assert "Authorization: Bearer k\r\n" in head
    assert "Content-Type: x/y\r\nContent-Length: 2\r\n\r\n{}" in head


@pytest.mark.parametrize(
    ("answer", "then", "expected"),
    [
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
         b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", "hold", b"hello world"),
        (b"HTTP/1.0 200 OK\r\n\r\nuntil the end", "close", b"until the end"),
        (ok(gzip.compress(b"squeezed"), b"Content-Encoding: gzip\r\n"), "hold", b"squeezed"),
    ],
    ids=["chunked", "close-delimited", "gzip"],
)  # fmt: skip
def test_body_framings(answer: bytes, then: str, expected: bytes) -> None:
    _, got = against(answer_once(answer, then=then), get)
    assert got == (200, expected)


def test_a_kept_alive_connection_closed_by_the_server_is_retried_on_a_new_one() -> None:
    async def handler(r: Reader, w: Writer, n: int, state: Scripted) -> None:
        await read_request(r, state)
        w.write(ok(b"first" if n == 1 else b"again"))
        if n == 1:
            # Read the next request but close without answering: what a server whose idle
            # timeout fired at that moment does.
            await read_request(r, state)
            return
        while True:
            await read_request(r, state)
            w.write(ok(b"again"))

    async def three(client: HTTPClient, port: int) -> list[tuple[int, bytes]]:
        return [await get(client, port) for _ in range(3)]

    state, answers = against(handler, three)
    assert answers == [(200, b"first"), (200, b"again"), (200, b"again")]
    assert state.connections == 2


def test_a_new_connection_closed_without_an_answer_is_server_disconnected() -> None:
    async def handler(r: Reader, w: Writer, n: int, state: Scripted) -> None:
        await read_request(r, state)

    with pytest.raises(ServerDisconnected):
        against(handler, get)


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort", "mid-answer"),
        (b"SMTP ready\r\n\r\n", "malformed"),
        (ok(b"not gzip", b"Content-Encoding: gzip\r\n"), "corrupt gzip"),
    ],
    ids=["cut-short", "not-http", "corrupt-gzip"],
)
def test_broken_answers_are_protocol_errors(answer: bytes, message: str) -> None:
    with pytest.raises(ProtocolError, match=message):
        against(answer_once(answer, then="close"), get)


def test_an_answer_that_stalls_mid_body_is_a_read_timeout() -> None:
    stalls = answer_once(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf", then="stall")
    t0 = time.monotonic()
    with pytest.raises(ReadTimeout, match=r"0\.3 s") as caught:
        against(stalls, get, read_timeout_s=0.3)
    assert isinstance(caught.value, TimeoutError)
    assert 0.25 < time.monotonic() - t0 < 2.0


def test_a_steady_slow_answer_is_not_a_timeout() -> None:
    async def handler(r: Reader, w: Writer, n: int, state: Scripted) -> None:
        await read_request(r, state)
        w.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        for _ in range(6):  # 0.6 s in all, never 0.3 s without a byte
            await asyncio.sleep(0.1)
            w.write(b"1\r\n.\r\n")
        w.write(b"0\r\n\r\n")
        await r.read()

    _, got = against(handler, get, read_timeout_s=0.3)
    assert got == (200, b"......")


def test_a_large_streamed_body_arrives_whole_to_a_slow_reader() -> None:
    size = 3 * 1024 * 1024  # beyond the client's buffer: reading pauses and resumes

    async def handler(r: Reader, w: Writer, n: int, state: Scripted) -> None:
        while True:
            await read_request(r, state)
            w.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % size)
            for i in range(size // 65536):
                w.write(bytes([i % 256]) * 65536)
                await w.drain()

    async def slowly(client: HTTPClient, port: int) -> tuple[int, tuple[int, int]]:
        response = await client.request("GET", origin(port), "/big")
        total = 0
        async for chunk in response.iter_chunks():
            total += len(chunk)
            await asyncio.sleep(0.001)
        response.release()
        # The connection went back to the pool and serves the next request.
        status, body = await get(client, port)
        return total, (status, len(body))

    state, (total, again) = against(handler, slowly, read_timeout_s=2)
    assert total == size
    assert again == (200, size)
    assert state.connections == 1


def test_max_connections_caps_connections_in_flight() -> None:
    async def handler(r: Reader, w: Writer, n: int, state: Scripted) -> None:
        while True:
            await read_request(r, state)
            await asyncio.sleep(0.05)
            w.write(ok(b"done"))

    async def eight(client: HTTPClient, port: int) -> list[tuple[int, bytes]]:
        return list(await asyncio.gather(*(get(client, port) for _ in range(8))))

    state, answers = against(handler, eight, max_connections=2)
    assert answers == [(200, b"done")] * 8
    assert state.most_open == 2
    assert state.connections == 2


def test_refused_connection_is_connect_error() -> None:
    async def go() -> None:
        client = HTTPClient()
        try:
            await get(client, unused_port())
        finally:
            await client.aclose()

    with pytest.raises(ConnectError, match=r"cannot connect to 127\.0\.0\.1"):
        asyncio.run(go())


def test_cancelling_a_request_closes_its_connection_and_frees_its_slot() -> None:
    async def handler(r: Reader, w: Writer, n: int, state: Scripted) -> None:
        while True:
            await read_request(r, state)
            if n == 1:
                await asyncio.sleep(10)
            w.write(ok(b"fine"))

    async def cancel_then_get(client: HTTPClient, port: int) -> tuple[int, bytes]:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(get(client, port), 0.2)
        return await get(client, port)

    state, answer = against(handler, cancel_then_get, max_connections=1)
    assert answer == (200, b"fine")
    assert state.connections == 2


def test_an_answer_read_after_the_client_closed_does_not_keep_its_connection() -> None:
    async def read_late(client: HTTPClient, port: int) -> bytes:
        response = await client.request("GET", origin(port), "/")
        await client.aclose()  # while the answer is still unread
        return await response.read()

    async def go() -> tuple[bytes, bool]:
        state, server = await scripted(answer_once(ok(b"late")))
        try:
            body = await read_late(HTTPClient(), state.port)
            for _ in range(100):  # the server sees the connection close
                if state.open_now == 0:
                    return body, True
                await asyncio.sleep(0.01)
            return body, False
        finally:
            server.close()

    assert asyncio.run(go()) == (b"late", True)


# -- https and proxies, with the fake OpenAI upstream -------------------------------------------


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (openssl, as on every machine of this kind)."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


@pytest.fixture(scope="module")
def tls_upstream(certificate: tuple[Path, Path]) -> Iterator[FakeUpstream]:
    cert, key = certificate
    with serve_fake_upstream(ssl_certfile=str(cert), ssl_keyfile=str(key)) as upstream:
        yield upstream


@pytest.fixture(scope="module")
def plain_upstream() -> Iterator[FakeUpstream]:
    with serve_fake_upstream() as upstream:
        yield upstream


@dataclass
class Proxy:
    port: int
    heads: list[str] = field(default_factory=list)


async def start_proxy() -> tuple[Proxy, asyncio.Server]:
    """A forwarding and CONNECT proxy: the first request of each connection decides where its
    bytes go; after that it pipes both ways."""
    proxy = Proxy(port=0)

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        proxy.heads.append(head.decode())
        method, target, _ = head.split(b"\r\n")[0].decode().split(" ")
        if method == "CONNECT":
            host, port = target.rsplit(":", 1)
            up_reader, up_writer = await asyncio.open_connection(host, int(port))
            writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        else:
            url = urlsplit(target)
            up_reader, up_writer = await asyncio.open_connection(url.hostname, url.port)
            up_writer.write(head)  # the upstream takes the absolute form too
        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    server = await asyncio.start_server(on_connect, "127.0.0.1", 0)
    proxy.port = server.sockets[0].getsockname()[1]
    return proxy, server


HELLO = [ChatMessage(role="user", content="hello over tls")]


def _no_proxy_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


async def _chat(base_url: str) -> str:
    backend = OpenAIBackend(base_url, "fake-model", max_retries=0)
    try:
        return (await backend.chat(HELLO, GenerationParams(max_tokens=8))).text
    finally:
        await backend.aclose()


def _trust(certificate: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    # What an operator does for a fleet with a private CA: OpenSSL's default verify paths.
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))


def _chat_through_proxy(
    run: Callable[[Any], Any],
    base_url: str,
    variable: str,
    credentials: str,
    monkeypatch: pytest.MonkeyPatch,
) -> tuple[str, str]:
    """Chat with the upstream through a real proxy named by `variable`; (the answer, the head of
    the proxy's one connection)."""

    async def go() -> tuple[Proxy, str]:
        proxy, server = await start_proxy()
        monkeypatch.setenv(variable, f"http://{credentials}@127.0.0.1:{proxy.port}")
        try:
            return proxy, await _chat(base_url)
        finally:
            server.close()

    proxy, text = run(go())
    assert len(proxy.heads) == 1
    return text, proxy.heads[0]


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_https_upstream_directly_and_through_a_connect_tunnel(
    loop: str,
    tls_upstream: FakeUpstream,
    certificate: tuple[Path, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _no_proxy_env(monkeypatch)
    _trust(certificate, monkeypatch)
    run: Any = asyncio.run if loop == "asyncio" else uvloop.run
    assert run(_chat(tls_upstream.base_url)) == "echo: hello over tls"

    text, head = _chat_through_proxy(
        run, tls_upstream.base_url, "HTTPS_PROXY", "user:p%40ss", monkeypatch
    )
    assert text == "echo: hello over tls"
    port = urlsplit(tls_upstream.base_url).port
    assert head.startswith(f"CONNECT 127.0.0.1:{port} HTTP/1.1\r\n")
    assert f"Proxy-Authorization: Basic {base64.b64encode(b'user:p@ss').decode()}\r\n" in head


def test_an_untrusted_certificate_is_refused(
    tls_upstream: FakeUpstream, monkeypatch: pytest.MonkeyPatch
) -> None:
    _no_proxy_env(monkeypatch)
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    with pytest.raises(BackendError, match=r"cannot reach .*CERTIFICATE_VERIFY_FAILED"):
        asyncio.run(_chat(tls_upstream.base_url))


def test_http_upstream_through_a_forwarding_proxy(
    plain_upstream: FakeUpstream, monkeypatch: pytest.MonkeyPatch
) -> None:
    _no_proxy_env(monkeypatch)
    text, head = _chat_through_proxy(
        asyncio.run, plain_upstream.base_url, "HTTP_PROXY", "agent:secret", monkeypatch
    )
    assert text == "echo: hello over tls"
    port = urlsplit(plain_upstream.base_url).port
    assert head.startswith(f"POST http://127.0.0.1:{port}/v1/chat/completions HTTP/1.1\r\n")
    assert f"Proxy-Authorization: Basic {base64.b64encode(b'agent:secret').decode()}" in head


def test_an_unsupported_proxy_is_a_clear_backend_error(
    plain_upstream: FakeUpstream, monkeypatch: pytest.MonkeyPatch
) -> None:
    _no_proxy_env(monkeypatch)
    monkeypatch.setenv("HTTP_PROXY", "socks5://127.0.0.1:1080")
    with pytest.raises(BackendError, match=r"unsupported proxy URL 'socks5://127\.0\.0\.1:1080'"):
        asyncio.run(_chat(plain_upstream.base_url))
