"""A small HTTP/1.1 client for OpenAI-compatible upstreams: the `openai:` backend's transport.

It sits on the gateway's hot path, once per request. In front of a fast upstream on these
machines aiohttp's `ClientSession` added ≈0.12 ms per sequential request and ≈0.06 ms of CPU;
this client, a keep-alive connection per request in flight with httptools (the C parser uvicorn
already uses) reading the answer, ≈0.07 ms and ≈0.02 ms (`bench/http_clients.py`). Most of the
difference is generality this backend never needs: cookies, redirects, tracing hooks,
multipart, per-request header objects.

What it does: keep-alive pools per origin (idle connections expire after `keepalive_s`), http
and https (TLS through asyncio, certificates checked against the system's store), proxies from
`HTTP_PROXY` / `HTTPS_PROXY` / `NO_PROXY` (an http:// upstream through a forwarding request, an
https:// one through a `CONNECT` tunnel; `user:password@` in the proxy URL becomes
`Proxy-Authorization`), Content-Length, chunked and close-delimited bodies, streamed bodies
with back-pressure, a connect timeout and a read timeout that bounds every wait for the next
bytes (headers included). It asks for no compression, but decodes a gzip or deflate body that
arrives anyway. It does not follow redirects: an API that redirects a POST is misconfigured,
and the 3xx is reported as it came.

Failures are `HTTPClientError`s; `ConnectError` and `ServerDisconnected` (closed before any
byte of the answer) mean the upstream cannot have started on the request, so the backend may
retry them. A kept-alive connection that the server closed while idle is retried once on a
fresh one, here, since the server never read the request.
"""

from __future__ import annotations

import asyncio
import base64
import ssl
import urllib.request
import zlib
from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import cast
from urllib.parse import unquote, urlsplit

import httptools

USER_AGENT = b"releasegate"
_MAX_BUFFERED = 256 * 1024  # a streamed body's unread bytes before reading from the socket pauses


class HTTPClientError(Exception):
    """The request failed before a complete answer arrived."""


class ConnectError(HTTPClientError):
    """No connection to the upstream (or its proxy): refused, unresolvable, timed out, TLS."""


class ServerDisconnected(HTTPClientError):
    """The connection closed before any byte of the answer: the request was not answered."""


class ReadTimeout(HTTPClientError, TimeoutError):
    """No bytes arrived within the read timeout."""


class ProtocolError(HTTPClientError):
    """The answer was malformed or cut short."""


@dataclass(frozen=True, slots=True)
class Origin:
    """Where to connect and what to send: one upstream URL's routing, resolved once."""

    scheme: str  # of the upstream: http or https
    host: str
    port: int
    host_header: bytes
    connect_host: str  # the upstream, or the proxy when there is one
    connect_port: int
    connect_tls: bool  # TLS to connect_host (an https upstream, or an https proxy)
    tunnel: bool  # CONNECT through the proxy, then TLS to the upstream inside it
    absolute_form: bool  # forward through an http proxy: request line with the full URL
    proxy_headers: bytes  # Proxy-Authorization line(s), or b""

    @classmethod
    def of(cls, url: str, *, use_env_proxy: bool = True) -> Origin:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {url!r}")
        host = parts.hostname
        port = parts.port or (443 if parts.scheme == "https" else 80)
        default_port = port == (443 if parts.scheme == "https" else 80)
        shown = f"[{host}]" if ":" in host else host
        host_header = (shown if default_port else f"{shown}:{port}").encode("idna")
        proxy = _env_proxy(parts.scheme, host) if use_env_proxy else None
        if proxy is None:
            return cls(
                parts.scheme, host, port, host_header, host, port,
                parts.scheme == "https", False, False, b"",
            )  # fmt: skip
        proxy_parts = urlsplit(proxy)
        if proxy_parts.scheme not in ("http", "https") or not proxy_parts.hostname:
            raise ValueError(f"unsupported proxy URL {proxy!r} (expected http:// or https://)")
        auth = b""
        if proxy_parts.username is not None:
            user_pass = f"{unquote(proxy_parts.username)}:{unquote(proxy_parts.password or '')}"
            auth = b"Proxy-Authorization: Basic " + base64.b64encode(user_pass.encode()) + b"\r\n"
        return cls(
            scheme=parts.scheme,
            host=host,
            port=port,
            host_header=host_header,
            connect_host=proxy_parts.hostname,
            connect_port=proxy_parts.port or (443 if proxy_parts.scheme == "https" else 80),
            connect_tls=proxy_parts.scheme == "https",
            tunnel=parts.scheme == "https",
            absolute_form=parts.scheme == "http",
            proxy_headers=auth,
        )

    @property
    def key(self) -> tuple[str, str, int, str, int]:
        return (self.scheme, self.host, self.port, self.connect_host, self.connect_port)


def _env_proxy(scheme: str, host: str) -> str | None:
    """The proxy the environment names for this scheme and host (None: go direct)."""
    proxies = urllib.request.getproxies_environment()
    proxy = proxies.get(scheme)
    if not proxy or urllib.request.proxy_bypass(host):
        return None
    return proxy if "://" in proxy else "http://" + proxy


class Response:
    """An answer whose head has arrived; read its body with `read` or `iter_chunks`.

    Every response must end with `release()` (after `read`, automatically): the connection goes
    back to the pool if the body was read to its end and the server keeps it alive, and is
    closed otherwise.
    """

    def __init__(
        self,
        connection: _Connection,
        status: int,
        headers: dict[str, str],
        on_release: Callable[[], None] | None = None,
    ) -> None:
        self.status = status
        self.headers = headers  # names in lower case
        self._connection: _Connection | None = connection
        self._on_release = on_release

    async def read(self) -> bytes:
        """The whole body; releases the connection."""
        connection = self._connection
        if connection is None:
            raise HTTPClientError("the response was already released")
        try:
            parts = [chunk async for chunk in connection.body()]
        finally:
            self.release()
        return _decoded(b"".join(parts), self.headers.get("content-encoding"))

    async def iter_chunks(self) -> AsyncIterator[bytes]:
        """The body as it arrives (not decompressed: a stream is asked for uncompressed)."""
        connection = self._connection
        if connection is None:
            raise HTTPClientError("the response was already released")
        async for chunk in connection.body():
            yield chunk

    def release(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.finish_response()
            if self._on_release is not None:
                self._on_release()


class _Connection(asyncio.Protocol):
    """One connection and the answer being read on it (HTTP/1.1: one at a time)."""

    def __init__(self, pool: _Pool, read_timeout_s: float) -> None:
        self._pool = pool
        self._loop = asyncio.get_running_loop()
        self._read_timeout_s = read_timeout_s
        self._parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.lost: asyncio.Future[None] = self._loop.create_future()  # set once fully closed
        self.idle_since = 0.0
        # The answer in progress.
        self._busy = False  # from `send` until `finish_response`
        self._head: asyncio.Future[int] | None = None  # its status, once the head is read
        self.headers: dict[str, str] = {}
        self._chunks: deque[bytes] = deque()
        self._buffered = 0
        self._paused = False
        self._complete = False
        self._failure: BaseException | None = None
        self._wakeup: asyncio.Future[None] | None = None
        self._got_bytes = False
        self._keep_alive = False
        self._last_read = 0.0
        self._timer: asyncio.TimerHandle | None = None

    # -- asyncio.Protocol ----------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A read-write stream transport (uvloop's TLS transport does not subclass the ABC).
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self._got_bytes = True
        self._last_read = self._loop.time()
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(ProtocolError(f"malformed HTTP answer: {exc}"))
            self.close()

    def eof_received(self) -> bool | None:
        return None  # close the transport; connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._cancel_timer()
        if not self.lost.done():
            self.lost.set_result(None)
        if not self._busy or self._complete:
            return
        if not self._got_bytes:
            self._fail(ServerDisconnected("the upstream closed the connection without answering"))
        elif self._head is None and self._length_unknown():
            # A body without a length ends when the connection does (HTTP/1.0 style).
            self._complete = True
            self._wake()
        else:
            self._fail(ProtocolError("the upstream closed the connection mid-answer"))

    def _length_unknown(self) -> bool:
        chunked = "chunked" in self.headers.get("transfer-encoding", "").lower()
        return not chunked and "content-length" not in self.headers

    # -- httptools callbacks -------------------------------------------------------------------

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_headers_complete(self) -> None:
        head, self._head = self._head, None
        self._keep_alive = self._parser.should_keep_alive()
        if head is not None and not head.done():
            head.set_result(self._parser.get_status_code())

    def on_body(self, body: bytes) -> None:
        self._chunks.append(body)
        self._buffered += len(body)
        if self._buffered > _MAX_BUFFERED and not self._paused and self.transport is not None:
            self._paused = True
            self.transport.pause_reading()
        self._wake()

    def on_message_complete(self) -> None:
        self._complete = True
        self._cancel_timer()
        self._wake()

    # -- the client's side ---------------------------------------------------------------------

    def send(self, request: bytes) -> asyncio.Future[int]:
        """Write a request; the future resolves to the status once the answer's head is read."""
        assert self.transport is not None
        self._busy = True
        self.headers = {}
        self._chunks.clear()
        self._buffered = 0
        self._complete = False
        self._failure = None
        self._got_bytes = False
        head = self._head = self._loop.create_future()
        self._last_read = self._loop.time()
        self._timer = self._loop.call_at(self._last_read + self._read_timeout_s, self._check_read)
        self.transport.write(request)
        return head

    async def body(self) -> AsyncIterator[bytes]:
        while True:
            while self._chunks:
                chunk = self._chunks.popleft()
                self._buffered -= len(chunk)
                if self._paused and self._buffered <= _MAX_BUFFERED // 2:
                    self._paused = False
                    if self.transport is not None:
                        self.transport.resume_reading()
                yield chunk
            if self._complete:
                return
            if self._failure is not None:
                raise self._failure
            self._wakeup = self._loop.create_future()
            try:
                await self._wakeup
            finally:
                self._wakeup = None

    def finish_response(self) -> None:
        """After the caller is done with the answer: back to the pool, or closed."""
        self._cancel_timer()
        self._busy = False
        if self._complete and self._keep_alive and not self.closed and not self._chunks:
            self.idle_since = self._loop.time()
            self._pool.give_back(self)
        else:
            self.close()

    def close(self) -> None:
        self._cancel_timer()
        if not self.closed:
            self.closed = True
            if self.transport is not None:
                self.transport.close()

    def _check_read(self) -> None:
        # One timer per answer, moved on lazily: cheaper than re-arming it for every read.
        self._timer = None
        if self._complete or self.closed:
            return
        deadline = self._last_read + self._read_timeout_s
        now = self._loop.time()
        if self._paused:  # the caller is slow to read, not the upstream to answer
            deadline = now + self._read_timeout_s
        if now < deadline:
            self._timer = self._loop.call_at(deadline, self._check_read)
            return
        self._fail(ReadTimeout(f"no answer within {self._read_timeout_s:g} s"))
        self.close()

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _fail(self, exc: BaseException) -> None:
        if self._failure is None:
            self._failure = exc
        head, self._head = self._head, None
        if head is not None and not head.done():
            head.set_exception(exc)
        self._wake()

    def _wake(self) -> None:
        wakeup = self._wakeup
        if wakeup is not None and not wakeup.done():
            wakeup.set_result(None)


class _Pool:
    """The idle connections of one origin (most recently used first)."""

    def __init__(self, keepalive_s: float) -> None:
        self._idle: list[_Connection] = []
        self._keepalive_s = keepalive_s
        self._closed = False

    def take(self, now: float) -> _Connection | None:
        while self._idle:
            connection = self._idle.pop()
            if connection.closed or now - connection.idle_since > self._keepalive_s:
                connection.close()
                continue
            return connection
        return None

    def give_back(self, connection: _Connection) -> None:
        if self._closed:  # the client was closed while this answer was being read
            connection.close()
        else:
            self._idle.append(connection)

    def close(self) -> list[_Connection]:
        self._closed = True
        closing, self._idle = self._idle, []
        for connection in closing:
            connection.close()
        return closing


class HTTPClient:
    """Keep-alive HTTP/1.1 requests to a few upstream origins, from one event loop.

    Args:
        headers: sent with every request (e.g. Authorization).
        connect_timeout_s: for opening a connection, TLS and proxy tunnel included.
        read_timeout_s: for each wait for the next bytes of an answer.
        max_connections: connections open at once, all origins together; more requests wait.
        keepalive_s: idle connections older than this are closed rather than reused.
        ssl_context: for https; default: the system's certificate store, hostnames checked.
    """

    def __init__(
        self,
        *,
        headers: Mapping[str, str] | None = None,
        connect_timeout_s: float = 5.0,
        read_timeout_s: float = 60.0,
        max_connections: int = 100,
        keepalive_s: float = 30.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self._headers = b"".join(
            f"{name}: {value}\r\n".encode("latin-1") for name, value in (headers or {}).items()
        )
        self._connect_timeout_s = connect_timeout_s
        self._read_timeout_s = read_timeout_s
        self._keepalive_s = keepalive_s
        self._slots = asyncio.Semaphore(max_connections)
        self._ssl_context = ssl_context
        self._pools: dict[tuple[str, str, int, str, int], _Pool] = {}
        self._closed = False

    async def request(
        self,
        method: str,
        origin: Origin,
        path: str,
        body: bytes | None = None,
        *,
        content_type: str | None = None,
    ) -> Response:
        """Send a request and wait for the answer's head (its body is read from the response).

        `path` is the request target on the origin, starting with '/'.
        """
        if self._closed:
            raise HTTPClientError("the HTTP client is closed")
        request = self._encode(method, origin, path, body, content_type)
        await self._slots.acquire()
        try:
            pool = self._pools.get(origin.key)
            if pool is None:
                pool = self._pools[origin.key] = _Pool(self._keepalive_s)
            loop = asyncio.get_running_loop()
            connection = pool.take(loop.time())
            if connection is not None:
                try:
                    return await self._exchange(connection, request)
                except ServerDisconnected:
                    pass  # closed by the server while idle: it never read the request
            connection = await self._connect(origin)
            return await self._exchange(connection, request)
        except BaseException:
            self._slots.release()
            raise

    async def _exchange(self, connection: _Connection, request: bytes) -> Response:
        try:
            status = await connection.send(request)
        except BaseException:
            connection.close()
            raise
        # The connection's slot is held until the caller releases the response.
        return Response(connection, status, connection.headers, self._slots.release)

    def _encode(
        self, method: str, origin: Origin, path: str, body: bytes | None, content_type: str | None
    ) -> bytes:
        target = path
        if origin.absolute_form:
            target = f"{origin.scheme}://{origin.host_header.decode()}{path}"
        head = [
            f"{method} {target} HTTP/1.1\r\n".encode(),
            b"Host: ", origin.host_header, b"\r\n",
            b"User-Agent: ", USER_AGENT, b"\r\nAccept: */*\r\n",
            self._headers,
            origin.proxy_headers if origin.absolute_form else b"",
        ]  # fmt: skip
        if body is not None:
            if content_type is not None:
                head.append(f"Content-Type: {content_type}\r\n".encode("latin-1"))
            head.append(b"Content-Length: %d\r\n" % len(body))
        head.append(b"\r\n")
        if body is not None:
            head.append(body)
        return b"".join(head)

    async def _connect(self, origin: Origin) -> _Connection:
        loop = asyncio.get_running_loop()
        try:
            return await asyncio.wait_for(self._open(loop, origin), self._connect_timeout_s)
        except TimeoutError as exc:
            raise ConnectError(
                f"connecting to {origin.connect_host}:{origin.connect_port} timed out after "
                f"{self._connect_timeout_s:g} s"
            ) from exc
        except (OSError, ssl.SSLError) as exc:
            raise ConnectError(
                f"cannot connect to {origin.connect_host}:{origin.connect_port}: {exc}"
            ) from exc

    async def _open(self, loop: asyncio.AbstractEventLoop, origin: Origin) -> _Connection:
        pool = self._pools[origin.key]
        connection = _Connection(pool, self._read_timeout_s)
        if not origin.tunnel:
            tls = self._tls() if origin.connect_tls else None
            await loop.create_connection(
                lambda: connection,
                origin.connect_host,
                origin.connect_port,
                ssl=tls,
                server_hostname=origin.connect_host if tls else None,
            )
            return connection
        # https through a proxy: CONNECT, then TLS with the upstream inside the tunnel.
        tunnel = _Tunnel()
        proxy_tls = self._tls() if origin.connect_tls else None
        transport, _ = await loop.create_connection(
            lambda: tunnel,
            origin.connect_host,
            origin.connect_port,
            ssl=proxy_tls,
            server_hostname=origin.connect_host if proxy_tls else None,
        )
        try:
            authority = origin.host_header.decode()
            if ":" not in authority.rpartition("]")[2]:
                authority = f"{authority}:{origin.port}"
            transport.write(
                f"CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n".encode()
                + origin.proxy_headers
                + b"\r\n"
            )
            status = await tunnel.established
            if not 200 <= status < 300:
                raise ConnectError(f"the proxy refused to tunnel to {authority}: HTTP {status}")
            tls_transport = await loop.start_tls(
                transport, connection, self._tls(), server_hostname=origin.host
            )
        except BaseException:
            transport.close()
            raise
        assert tls_transport is not None
        connection.connection_made(tls_transport)
        return connection

    def _tls(self) -> ssl.SSLContext:
        if self._ssl_context is None:
            self._ssl_context = ssl.create_default_context()
        return self._ssl_context

    async def aclose(self) -> None:
        """Close every idle connection; answers still being read close when released."""
        self._closed = True
        closing = [c for pool in self._pools.values() for c in pool.close()]
        self._pools.clear()
        # A TLS connection closes with a last exchange (close_notify): wait a little for it, so
        # that the event loop can be closed right after, then drop what is left.
        lost = [c.lost for c in closing if c.transport is not None and not c.lost.done()]
        if lost:
            await asyncio.wait(lost, timeout=1.0)
        for connection in closing:
            if not connection.lost.done() and connection.transport is not None:
                connection.transport.abort()


class _Tunnel(asyncio.Protocol):
    """Reads a proxy's answer to CONNECT: its status, once the head has arrived."""

    def __init__(self) -> None:
        self.established: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._buffer = b""

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        if b"\r\n\r\n" in self._buffer and not self.established.done():
            status_line = self._buffer.split(b"\r\n", 1)[0].split()
            try:
                self.established.set_result(int(status_line[1]))
            except (IndexError, ValueError):
                self.established.set_exception(ProtocolError("malformed answer to CONNECT"))
        elif len(self._buffer) > 65536 and not self.established.done():
            self.established.set_exception(ProtocolError("the proxy's answer has no end"))

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.established.done():
            self.established.set_exception(
                ConnectError("the proxy closed the connection before the tunnel was set up")
            )


def _decoded(body: bytes, encoding: str | None) -> bytes:
    if not encoding or encoding == "identity":
        return body
    try:
        if encoding == "gzip":
            return zlib.decompress(body, wbits=31)
        if encoding == "deflate":
            return zlib.decompress(body)
    except zlib.error as exc:
        raise ProtocolError(f"the upstream sent a corrupt {encoding} body: {exc}") from exc
    raise ProtocolError(f"the upstream sent a body in an encoding not asked for: {encoding}")


__all__ = [
    "ConnectError",
    "HTTPClient",
    "HTTPClientError",
    "Origin",
    "ProtocolError",
    "ReadTimeout",
    "Response",
    "ServerDisconnected",
]
