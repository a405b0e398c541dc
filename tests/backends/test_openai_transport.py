"""The `openai:` backend's transport (aiohttp) against real sockets: scripted servers for the edge
cases (keep-alive, body framings, servers that close, stall or send garbage, long and abandoned
streams), and the fake OpenAI upstream over https and through a real forwarding / CONNECT proxy.

These pin the behaviour the gateway relies on, whatever the HTTP library: one pool of kept-alive
connections reused across requests, timeouts that bound every wait, failures that become
`BackendError`s (retried only where the upstream cannot have started), the certificate checked,
and the environment's proxy honoured."""

from __future__ import annotations

import asyncio
import base64
import gzip
import json
import ssl
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
from tests.helpers.openai_server import FakeUpstream, serve_fake_upstream

Reader = asyncio.StreamReader
Writer = asyncio.StreamWriter
Handler = Callable[[Reader, Writer, int, "Scripted"], Awaitable[None]]
T = TypeVar("T")

HELLO = [ChatMessage(role="user", content="hello")]
PARAMS = GenerationParams(max_tokens=8)


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
    handler: Handler,
    action: Callable[[OpenAIBackend], Awaitable[T]],
    **options: Any,
) -> tuple[Scripted, T]:
    """Run `action(backend)` with a new backend (`options`) against a scripted server."""
    options.setdefault("backoff_s", 0.01)

    async def go() -> tuple[Scripted, T]:
        state, server = await scripted(handler)
        backend = OpenAIBackend(f"http://127.0.0.1:{state.port}/v1", "m", **options)
        try:
            return state, await action(backend)
        finally:
            await backend.aclose()
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


def completion(text: str) -> bytes:
    return json.dumps(
        {
            "choices": [
                {"index": 0, "message": {"content": text}, "finish_reason": "stop"},
            ],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1},
        }
    ).encode()


def ok(body: bytes, extra: bytes = b"") -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%s\r\n%s" % (len(body), extra, body)


def chunked(*parts: bytes) -> bytes:
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts) + b"0\r\n\r\n"


def sse(*events: Any) -> list[bytes]:
    out = []
    for event in events:
        payload = event if isinstance(event, str) else json.dumps(event)
        out.append(f"data: {payload}\n\n".encode())
    return out


def delta(text: str) -> dict[str, Any]:
    return {"choices": [{"index": 0, "delta": {"content": text}}]}


END = {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
SSE_HEAD = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
)


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


async def chat(backend: OpenAIBackend) -> str:
    return (await backend.chat(HELLO, PARAMS)).text


async def stream(backend: OpenAIBackend) -> list[str]:
    return [c.text async for c in backend.stream_chat(HELLO, PARAMS)]


def test_keep_alive_reuses_one_connection_and_sends_the_request_intact() -> None:
    async def handler(r: Reader, w: Writer, n: int, state: Scripted) -> None:
        while True:
            body = await read_request(r, state)
            w.write(ok(completion("echo " + json.loads(body)["messages"][0]["content"])))

    async def five(backend: OpenAIBackend) -> list[str]:
        return [await chat(backend) for _ in range(5)]

    state, answers = against(handler, five, api_key="k")
    assert answers == ["echo hello"] * 5
    assert state.connections == 1
    head, _, body = state.requests[0].decode().partition("\r\n\r\n")
    lines = {
        line.split(": ", 1)[0].lower(): line.split(": ", 1)[1] for line in head.split("\r\n")[1:]
    }
    assert head.startswith("POST /v1/chat/completions HTTP/1.1\r\n")
    assert lines["host"] == f"127.0.0.1:{state.port}"
    assert lines["authorization"] == "Bearer k"
    assert lines["content-type"] == "application/json"
    assert lines["user-agent"] == "releasegate"
    assert json.loads(body)["messages"] == [{"role": "user", "content": "hello"}]


def test_concurrent_requests_share_one_pool() -> None:
    async def handler(r: Reader, w: Writer, n: int, state: Scripted) -> None:
        while True:
            await read_request(r, state)
            await asyncio.sleep(0.05)
            w.write(ok(completion("done")))

    async def twice_eight(backend: OpenAIBackend) -> list[str]:
        first = await asyncio.gather(*(chat(backend) for _ in range(8)))
        again = await asyncio.gather(*(chat(backend) for _ in range(8)))
        return [*first, *again]

    state, answers = against(handler, twice_eight)
    assert answers == ["done"] * 16
    # Eight in flight at once need eight connections; the second eight reuse them.
    assert state.connections == 8
    assert state.most_open == 8


@pytest.mark.parametrize(
    ("answer", "then"),
    [
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
         + chunked(completion("in parts")[:20], completion("in parts")[20:]), "hold"),
        (b"HTTP/1.0 200 OK\r\n\r\n" + completion("in parts"), "close"),
        (ok(gzip.compress(completion("in parts")), b"Content-Encoding: gzip\r\n"), "hold"),
    ],
    ids=["chunked", "close-delimited", "gzip"],
)  # fmt: skip
def test_body_framings(answer: bytes, then: str) -> None:
    _, text = against(answer_once(answer, then=then), chat)
    assert text == "in parts"


def test_a_kept_alive_connection_closed_by_the_server_is_retried_on_a_new_one() -> None:
    async def handler(r: Reader, w: Writer, n: int, state: Scripted) -> None:
        await read_request(r, state)
        w.write(ok(completion("first" if n == 1 else "again")))
        if n == 1:
            # Read the next request but close without answering: what a server whose idle
            # timeout fired at that moment does.
            await read_request(r, state)
            return
        while True:
            await read_request(r, state)
            w.write(ok(completion("again")))

    async def three(backend: OpenAIBackend) -> list[str]:
        return [await chat(backend) for _ in range(3)]

    # Even with no retries configured: the server never answered that request.
    state, answers = against(handler, three, max_retries=0)
    assert answers == ["first", "again", "again"]
    assert state.connections == 2


def test_a_server_that_never_answers_is_unreachable_after_the_retries() -> None:
    async def handler(r: Reader, w: Writer, n: int, state: Scripted) -> None:
        await read_request(r, state)

    with pytest.raises(BackendError, match=r"cannot reach .*ServerDisconnected.*after 2 attempt"):
        against(handler, chat, max_retries=1)


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort", "request to .* failed"),
        (b"SMTP ready\r\n\r\n", "request to .* failed"),
        (ok(b"not gzip", b"Content-Encoding: gzip\r\n"), "request to .* failed"),
        (ok(b"<html>"), "invalid JSON"),
    ],
    ids=["cut-short", "not-http", "corrupt-gzip", "not-json"],
)
def test_broken_answers_are_backend_errors(answer: bytes, message: str) -> None:
    with pytest.raises(BackendError, match=message):
        against(answer_once(answer, then="close"), chat, max_retries=0)


def test_an_answer_that_stalls_mid_body_is_a_read_timeout() -> None:
    stalls = answer_once(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{", then="stall")
    t0 = time.monotonic()
    with pytest.raises(BackendError, match=r"timed out after 0\.3 s"):
        against(stalls, chat, timeout_s=0.3, max_retries=2)
    assert 0.25 < time.monotonic() - t0 < 2.0  # and not retried


def test_a_steady_slow_answer_is_not_a_timeout() -> None:
    body = completion("slowly")

    async def handler(r: Reader, w: Writer, n: int, state: Scripted) -> None:
        await read_request(r, state)
        w.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        step = len(body) // 6 + 1
        for i in range(0, len(body), step):  # ≈0.6 s in all, never 0.3 s without a byte
            await asyncio.sleep(0.1)
            w.write(chunked(body[i : i + step])[:-5])
        w.write(b"0\r\n\r\n")
        await r.read()

    _, text = against(handler, chat, timeout_s=0.3)
    assert text == "slowly"


def test_a_stream_arrives_as_it_is_sent_and_a_stalled_stream_times_out() -> None:
    async def handler(r: Reader, w: Writer, n: int, state: Scripted) -> None:
        await read_request(r, state)
        w.write(SSE_HEAD)
        for event in sse(delta("a"), delta("b")):
            w.write(chunked(event)[:-5])
            await w.drain()
            await asyncio.sleep(0.2)  # steady: under the 0.3 s read timeout
        await asyncio.sleep(5)  # then nothing

    t0 = time.monotonic()
    got: list[str] = []

    async def collect(backend: OpenAIBackend) -> None:
        async for chunk in backend.stream_chat(HELLO, PARAMS):
            got.append(chunk.text)

    with pytest.raises(BackendError, match=r"timed out after 0\.3 s while streaming"):
        against(handler, collect, timeout_s=0.3)
    assert got == ["a", "b"]
    assert time.monotonic() - t0 < 2.0


def test_a_long_stream_event_and_a_large_stream_arrive_whole_to_a_slow_reader() -> None:
    long_text = "x" * 300_000  # one event, one line, beyond aiohttp's line buffer
    many = [delta("y" * 1000) for _ in range(3000)]  # 3 MB: reading pauses and resumes

    async def handler(r: Reader, w: Writer, n: int, state: Scripted) -> None:
        while True:
            await read_request(r, state)
            w.write(SSE_HEAD)
            for event in sse(delta(long_text), *many, END, "[DONE]"):
                w.write(chunked(event)[:-5])
                await w.drain()
            w.write(b"0\r\n\r\n")

    async def slowly(backend: OpenAIBackend) -> tuple[list[int], int]:
        sizes = []
        async for chunk in backend.stream_chat(HELLO, PARAMS):
            sizes.append(len(chunk.text))
            if len(sizes) % 500 == 0:
                await asyncio.sleep(0.01)
        return sizes, len(await stream(backend))

    state, (sizes, again) = against(handler, slowly, timeout_s=5)
    assert sizes == [300_000, *[1000] * 3000, 0]
    assert again == 3002
    assert state.connections == 1  # read to its end, the connection served the second stream


def test_a_stream_the_caller_abandons_closes_its_connection() -> None:
    async def handler(r: Reader, w: Writer, n: int, state: Scripted) -> None:
        await read_request(r, state)
        if n == 1:
            w.write(SSE_HEAD)
            for event in sse(delta("a"), delta("b")):
                w.write(chunked(event)[:-5])
            await r.read()  # returns when the client closes the connection
            return
        w.write(ok(completion("fresh")))
        await r.read()

    async def abandon(backend: OpenAIBackend) -> tuple[str, str]:
        chunks = backend.stream_chat(HELLO, PARAMS)
        first = await anext(chunks)
        await chunks.aclose()  # what the gateway does when its client goes away
        return first.text, await chat(backend)

    state, (first, after) = against(handler, abandon)
    assert (first, after) == ("a", "fresh")
    assert state.connections == 2


def test_cancelling_a_request_closes_its_connection() -> None:
    async def handler(r: Reader, w: Writer, n: int, state: Scripted) -> None:
        while True:
            await read_request(r, state)
            if n == 1:
                await asyncio.sleep(10)
            w.write(ok(completion("fine")))

    async def cancel_then_chat(backend: OpenAIBackend) -> str:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(chat(backend), 0.2)
        return await chat(backend)

    state, answer = against(handler, cancel_then_chat)
    assert answer == "fine"
    assert state.connections == 2


def test_a_backend_closed_in_one_event_loop_serves_the_next() -> None:
    async def handler(r: Reader, w: Writer, n: int, state: Scripted) -> None:
        while True:
            await read_request(r, state)
            w.write(ok(completion(f"conn {n}")))

    async def serve() -> None:
        state, server = await scripted(handler)
        backend = OpenAIBackend(f"http://127.0.0.1:{state.port}/v1", "m")
        # Each asyncio.run is a new loop (as the CLI's separate commands are): a loop's
        # connections belong to it, so the next loop opens its own.
        answers = [await asyncio.to_thread(asyncio.run, _chat_twice(backend)) for _ in range(2)]
        server.close()
        assert answers == [["conn 1", "conn 1"], ["conn 2", "conn 2"]]

    asyncio.run(serve())


async def _chat_twice(backend: OpenAIBackend) -> list[str]:
    try:
        return [await chat(backend), await chat(backend)]
    finally:
        await backend.aclose()


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


async def start_proxy(tls: ssl.SSLContext | None = None) -> tuple[Proxy, asyncio.Server]:
    """A forwarding and CONNECT proxy (itself behind TLS when given a context): the first
    request of each connection decides where its bytes go; after that it pipes both ways."""
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

    server = await asyncio.start_server(on_connect, "127.0.0.1", 0, ssl=tls)
    proxy.port = server.sockets[0].getsockname()[1]
    return proxy, server


def _no_proxy_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


TLS_HELLO = [ChatMessage(role="user", content="hello over tls")]


async def _chat(base_url: str) -> str:
    backend = OpenAIBackend(base_url, "fake-model", max_retries=0)
    try:
        return (await backend.chat(TLS_HELLO, GenerationParams(max_tokens=8))).text
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
    proxy_tls: ssl.SSLContext | None = None,
) -> tuple[str, str]:
    """Chat with the upstream through a real proxy named by `variable`; (the answer, the head of
    the proxy's one connection)."""

    async def go() -> tuple[Proxy, str]:
        proxy, server = await start_proxy(proxy_tls)
        scheme = "https" if proxy_tls else "http"
        monkeypatch.setenv(variable, f"{scheme}://{credentials}@127.0.0.1:{proxy.port}")
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


def test_https_upstream_through_an_https_proxy(
    tls_upstream: FakeUpstream,
    certificate: tuple[Path, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # TLS to the proxy, then TLS to the upstream inside the tunnel (aiohttp skips an https://
    # proxy it finds in the environment itself; the backend passes it explicitly).
    _no_proxy_env(monkeypatch)
    _trust(certificate, monkeypatch)
    proxy_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    proxy_tls.load_cert_chain(*certificate)
    text, head = _chat_through_proxy(
        asyncio.run, tls_upstream.base_url, "HTTPS_PROXY", "user:pw", monkeypatch, proxy_tls
    )
    assert text == "echo: hello over tls"
    assert head.startswith(f"CONNECT 127.0.0.1:{urlsplit(tls_upstream.base_url).port} HTTP/1.1")
    assert f"Proxy-Authorization: Basic {base64.b64encode(b'user:pw').decode()}\r\n" in head


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
