"""`openai:BASE_URL#MODEL` — any OpenAI-compatible server (vLLM, Ollama, llama.cpp server,
releasegate's own gateway) over one `aiohttp.ClientSession` with a keep-alive connection pool.

The HTTP client is aiohttp, not httpx: on the gateway's hot path, in front of a fast upstream on
these machines, httpx.AsyncClient costs about ten times aiohttp's CPU per request
(`bench/http_clients.py`, docs/benchmarks.md). What the backend adds around the library is only
what keeps it off the per-request path: one session per event loop, created lazily inside the
running loop (its connections belong to that loop; `aclose` closes it), the request URLs and
the proxy (`HTTP_PROXY` / `HTTPS_PROXY` / `NO_PROXY`, resolved once rather than on every
request as `trust_env` would) built once, and the request body serialised with orjson.

Connection errors, 5xx and 429 are retried with exponential backoff (and the server's
`Retry-After` when it sends one); a read timeout is not retried, since the upstream may still be
generating. Streams are retried only until the response headers arrive: once text has reached
the caller, replaying would duplicate it.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import json
import random
import ssl
import time
import urllib.request
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any, Literal
from urllib.parse import urlsplit

import aiohttp
import orjson
from yarl import URL

from releasegate.backends._base import (
    BackendError,
    ChatMessage,
    Generation,
    GenerationParams,
    StreamChunk,
    TokenLogprob,
)
from releasegate.errors import InputError, Problem
from releasegate.settings import Settings

API_KEY_ENV = "RELEASEGATE_UPSTREAM_API_KEY"
FALLBACK_API_KEY_ENV = "OPENAI_API_KEY"


class UpstreamHTTPError(BackendError):
    """The upstream answered with an HTTP error (after any retries)."""

    def __init__(self, url: str, status_code: int, message: str, code: str | None = None) -> None:
        self.url = url
        self.status_code = status_code
        self.upstream_message = message
        self.code = code  # the error body's `code` (e.g. a gateway's `content_filter`)
        super().__init__(f"{url} answered HTTP {status_code}: {message}")


def _finish(value: Any) -> Literal["stop", "length"]:
    # Servers also send "content_filter", "tool_calls", "eos"...: all of them ended the text.
    return "length" if value == "length" else "stop"


class OpenAIBackend:
    """A model behind an OpenAI-compatible HTTP API.

    Args:
        base_url: the API root including its version path, e.g. `http://127.0.0.1:8000/v1`.
        model: the model name to request; when None, the first of `GET /models` is used.
        api_key: sent as a bearer token; None sends no Authorization header.
        timeout_s: read/write timeout per request.
        connect_timeout_s: connect timeout.
        max_retries: retries after a connection error, a 5xx or a 429.
        max_connections: requests in flight at once (connections in the pool); more wait.
        backoff_s: first backoff delay; doubles per retry (with jitter), capped at
            `max_backoff_s`, which also caps a server's Retry-After.
    """

    def __init__(
        self,
        base_url: str,
        model: str | None = None,
        *,
        api_key: str | None = None,
        timeout_s: float = 60.0,
        connect_timeout_s: float = 5.0,
        max_retries: int = 3,
        backoff_s: float = 0.5,
        max_backoff_s: float = 30.0,
        max_connections: int = 32,
        name: str | None = None,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._model = model or None
        self._name = name or f"openai:{self._base_url}" + (f"#{model}" if model else "")
        self._timeout_s = timeout_s
        self._max_retries = max_retries
        self._backoff_s = backoff_s
        self._max_backoff_s = max_backoff_s
        if max_connections < 1:
            raise ValueError(f"max_connections must be at least 1, got {max_connections}")
        self._max_connections = max_connections
        # Session-wide, so that no request merges headers of its own: a GET (the model list) sends
        # the Content-Type too, harmlessly.
        self._headers = {"User-Agent": USER_AGENT, "Content-Type": "application/json"}
        if api_key:
            self._headers["Authorization"] = f"Bearer {api_key}"
        self._connect_timeout_s = connect_timeout_s
        self._session: aiohttp.ClientSession | None = None
        self._session_loop: asyncio.AbstractEventLoop | None = None
        self._urls: dict[str, URL] = {}
        self._proxy: _Proxy | None = None
        self._tls = urlsplit(self._base_url).scheme == "https"

    @classmethod
    def from_spec(cls, spec: str, settings: Settings) -> OpenAIBackend:
        """Build from `openai:BASE_URL#MODEL` with the upstream settings and API key.

        The key is the setting `upstream_api_key` (`RELEASEGATE_UPSTREAM_API_KEY`, else
        `OPENAI_API_KEY`), else none.
        """
        rest = spec.removeprefix("openai:")
        url, _, model = rest.partition("#")
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise InputError(
                spec,
                [
                    Problem(
                        "expected openai:BASE_URL#MODEL with an http(s) base URL, "
                        "e.g. openai:http://127.0.0.1:8000/v1#my-model"
                    )
                ],
            )
        key = (
            settings.upstream_api_key.get_secret_value()
            if settings.upstream_api_key is not None
            else None
        )
        return cls(
            url,
            model or None,
            api_key=key or None,
            timeout_s=settings.upstream_timeout_s,
            connect_timeout_s=settings.upstream_connect_timeout_s,
            max_retries=settings.upstream_max_retries,
            max_connections=settings.upstream_max_connections,
            name=spec,
        )

    @property
    def name(self) -> str:
        return self._name

    @property
    def base_url(self) -> str:
        return self._base_url

    @property
    def max_connections(self) -> int:
        """Requests this backend keeps in flight at once."""
        return self._max_connections

    # -- ModelBackend ---------------------------------------------------------------------------

    async def chat(self, messages: Sequence[ChatMessage], params: GenerationParams) -> Generation:
        body = await self._chat_body(messages, params, stream=False)
        data = await self._post_json("chat/completions", body)
        choice = self._first_choice(data)
        message = choice.get("message") or {}
        logprobs = None
        if params.logprobs or params.top_logprobs:
            content = (choice.get("logprobs") or {}).get("content") or []
            logprobs = [
                TokenLogprob(
                    token=str(item.get("token", "")),
                    logprob=float(item.get("logprob", 0.0)),
                    top={
                        str(t.get("token", "")): float(t.get("logprob", 0.0))
                        for t in item.get("top_logprobs") or []
                    },
                )
                for item in content
            ]
        usage = data.get("usage") or {}
        return Generation(
            text=str(message.get("content") or ""),
            finish_reason=_finish(choice.get("finish_reason")),
            prompt_tokens=int(usage.get("prompt_tokens") or 0),
            completion_tokens=int(usage.get("completion_tokens") or 0),
            logprobs=logprobs,
        )

    async def stream_chat(
        self, messages: Sequence[ChatMessage], params: GenerationParams
    ) -> AsyncIterator[StreamChunk]:
        body = await self._chat_body(messages, params, stream=True)
        response, _ = await self._send("chat/completions", body, stream=True)
        assert response is not None
        finish: Literal["stop", "length"] | None = None
        usage: dict[str, Any] = {}
        done = False
        try:
            async for line in _sse_lines(response):
                if not line.startswith(b"data:"):
                    continue  # blank separators, comments, event names
                payload = line[5:].strip()
                if payload == b"[DONE]":
                    done = True
                    break
                try:
                    event = _loads(payload)
                except ValueError as exc:
                    raise BackendError(
                        f"{self._base_url} sent a malformed stream event: "
                        f"{payload[:200].decode(errors='replace')}"
                    ) from exc
                if not isinstance(event, dict):
                    raise BackendError(
                        f"{self._base_url} sent a stream event that is not an object"
                    )
                if "error" in event:
                    raise UpstreamHTTPError(
                        self._url("chat/completions"),
                        response.status,
                        _error_message(event),
                    )
                usage = event.get("usage") or usage
                for choice in event.get("choices") or []:
                    text = (choice.get("delta") or {}).get("content")
                    if text:
                        yield StreamChunk(text=str(text))
                    if choice.get("finish_reason"):
                        finish = _finish(choice["finish_reason"])
        except TimeoutError as exc:  # aiohttp's SocketTimeoutError: no bytes within timeout_s
            raise BackendError(
                f"{self._url('chat/completions')} timed out after {self._timeout_s:g} s "
                "while streaming"
            ) from exc
        except aiohttp.ClientError as exc:
            raise BackendError(f"stream from {self._base_url} broke: {_describe(exc)}") from exc
        finally:
            # Back to the pool when the body was read to its end; closed otherwise (an early
            # [DONE], an error, or the caller stopped iterating).
            response.release()
        if finish is None and not done:
            raise BackendError(f"stream from {self._base_url} ended before it finished")
        yield StreamChunk(
            text="",
            finish_reason=finish or "stop",
            prompt_tokens=int(usage.get("prompt_tokens") or 0),
            completion_tokens=int(usage.get("completion_tokens") or 0),
        )

    async def complete(self, prompt: str, params: GenerationParams) -> Generation:
        body = await self._sampling_body(params)
        body["prompt"] = prompt
        want = params.logprobs or params.top_logprobs > 0
        if want:
            # Legacy completions take the number of alternatives; some servers treat 0 as "off".
            body["logprobs"] = max(1, params.top_logprobs)
        data = await self._post_json("completions", body)
        choice = self._first_choice(data)
        logprobs = None
        if want:
            raw = choice.get("logprobs") or {}
            tokens = raw.get("tokens") or []
            values = raw.get("token_logprobs") or []
            tops = raw.get("top_logprobs") or [None] * len(tokens)
            logprobs = []
            for token, value, top in zip(tokens, values, tops, strict=False):
                alternatives = dict(top or {})
                best = sorted(alternatives.items(), key=lambda kv: -float(kv[1]))
                logprobs.append(
                    TokenLogprob(
                        token=str(token),
                        logprob=float(value if value is not None else 0.0),
                        top={str(k): float(v) for k, v in best[: params.top_logprobs]},
                    )
                )
        usage = data.get("usage") or {}
        return Generation(
            text=str(choice.get("text") or ""),
            finish_reason=_finish(choice.get("finish_reason")),
            prompt_tokens=int(usage.get("prompt_tokens") or 0),
            completion_tokens=int(usage.get("completion_tokens") or 0),
            logprobs=logprobs,
        )

    async def choice_logprobs(self, prompt: str, choices: Sequence[str]) -> list[float]:
        """Score each choice by echoing `prompt + choice` through `/completions` with logprobs.

        Raises:
            BackendError: the server does not support `echo` with `logprobs` (chat-only APIs,
                OpenAI's current models): score by generation instead.
        """
        return list(await asyncio.gather(*(self._score(prompt, c) for c in choices)))

    async def aclose(self) -> None:
        """Close the connection pool (in the event loop that used it)."""
        session, self._session = self._session, None
        loop, self._session_loop = self._session_loop, None
        if session is None:
            return
        if loop is asyncio.get_running_loop():
            await session.close()
        else:
            _drop(session)

    # -- helpers ------------------------------------------------------------------------------

    async def _score(self, prompt: str, choice: str) -> float:
        full = prompt + choice
        body = {
            "model": await self.model_name(),
            "prompt": full,
            "max_tokens": 1,  # some servers refuse 0; the one generated token is ignored
            "temperature": 0.0,
            "echo": True,
            "logprobs": 1,
        }
        unsupported = BackendError(
            f"{self._url('completions')} cannot score given text: it does not support "
            "echo with logprobs on /completions; score multiple choice by generation instead"
        )
        try:
            data = await self._post_json("completions", body)
        except UpstreamHTTPError as exc:
            if 400 <= exc.status_code < 500 and exc.status_code != 429:
                raise unsupported from exc
            raise
        choice_data = self._first_choice(data)
        raw = choice_data.get("logprobs") or {}
        tokens = raw.get("tokens")
        values = raw.get("token_logprobs")
        offsets = raw.get("text_offset")
        if not tokens or not values or not offsets:
            raise unsupported
        if not str(choice_data.get("text") or "").startswith(full):
            raise unsupported  # echo ignored
        total = 0.0
        for token, value, offset in zip(tokens, values, offsets, strict=False):
            end = int(offset) + len(str(token))
            # Tokens of the echoed choice: they end after the prompt and start before the
            # generated text.
            if end > len(prompt) and int(offset) < len(full):
                if value is None:
                    raise unsupported
                total += float(value)
        return total

    async def model_name(self) -> str:
        """The model to request: the spec's, or the first one the server lists."""
        if self._model is None:
            data = await self._request_json("GET", "models", None)
            models = data.get("data") or []
            if not models or not isinstance(models[0], dict) or "id" not in models[0]:
                raise BackendError(
                    f"{self._url('models')} lists no model; name one: openai:URL#MODEL"
                )
            self._model = str(models[0]["id"])
        return self._model

    async def _sampling_body(self, params: GenerationParams) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": await self.model_name(),
            "max_tokens": params.max_tokens,
            "temperature": params.temperature,
            "top_p": params.top_p,
        }
        if params.stop:
            body["stop"] = params.stop
        if params.seed is not None:
            body["seed"] = params.seed
        return body

    async def _chat_body(
        self, messages: Sequence[ChatMessage], params: GenerationParams, *, stream: bool
    ) -> dict[str, Any]:
        body = await self._sampling_body(params)
        body["messages"] = [{"role": m.role, "content": m.content} for m in messages]
        if params.logprobs or params.top_logprobs:
            body["logprobs"] = True
            if params.top_logprobs:
                body["top_logprobs"] = params.top_logprobs
        if stream:
            body["stream"] = True
            body["stream_options"] = {"include_usage": True}
        return body

    def _url(self, path: str) -> str:
        return f"{self._base_url}/{path}"

    def _first_choice(self, data: dict[str, Any]) -> dict[str, Any]:
        choices = data.get("choices")
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            raise BackendError(f"{self._base_url} answered without choices: {str(data)[:200]}")
        return choices[0]

    async def _post_json(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        return await self._request_json("POST", path, body)

    async def _request_json(
        self, method: str, path: str, body: dict[str, Any] | None
    ) -> dict[str, Any]:
        _, raw = await self._send(path, body, stream=False, method=method)
        try:
            data = _loads(raw or b"")
        except ValueError as exc:
            raise BackendError(
                f"{self._url(path)} answered with invalid JSON: "
                f"{(raw or b'')[:200].decode(errors='replace')}"
            ) from exc
        if not isinstance(data, dict):
            raise BackendError(f"{self._url(path)} answered with {type(data).__name__}")
        return data

    def _client(self) -> aiohttp.ClientSession:
        """The session of the running event loop, created on first use."""
        loop = asyncio.get_running_loop()
        session = self._session
        if session is not None and self._session_loop is loop:
            return session
        if session is not None:
            # Used before from another loop (now finished): its connections belonged to that
            # loop and cannot be reused here.
            _drop(session)
        if self._proxy is None:
            self._proxy = _env_proxy(self._base_url)
        connector = aiohttp.TCPConnector(
            limit=self._max_connections,
            keepalive_timeout=30.0,
            # The system's certificate store, read now (not at import): SSL_CERT_FILE and
            # SSL_CERT_DIR as the process has them when the backend first connects.
            ssl=ssl.create_default_context() if self._tls else True,
        )
        headers = self._headers
        if self._proxy.headers and not self._tls:
            headers = {**headers, **self._proxy.headers}
        session = aiohttp.ClientSession(
            connector=connector,
            headers=headers,
            # An API upstream sets no cookies we need; not filtering and storing them on every
            # request is one of the few per-request costs of the library that can be left out.
            cookie_jar=aiohttp.DummyCookieJar(),
            timeout=aiohttp.ClientTimeout(
                total=None, sock_connect=self._connect_timeout_s, sock_read=self._timeout_s
            ),
            # The proxy is resolved once (`_env_proxy`) and passed with each request; with
            # trust_env aiohttp would re-read the environment on every request, and it skips
            # https:// proxies.
            trust_env=False,
            raise_for_status=False,
        )
        self._session, self._session_loop = session, loop
        return session

    def _target(self, path: str) -> URL:
        url = self._urls.get(path)
        if url is None:
            url = self._urls[path] = URL(self._url(path))
        return url

    async def _send(
        self,
        path: str,
        body: dict[str, Any] | None,
        *,
        stream: bool,
        method: str = "POST",
    ) -> tuple[aiohttp.ClientResponse | None, bytes | None]:
        """Send with retries; return a successful response and, unless streaming, its body
        (streaming: only the head is read, and the caller must `release()` the response;
        not streaming: the response is already released).
        """
        url = self._url(path)
        session = self._client()
        proxy = self._proxy
        assert proxy is not None
        target = self._target(path)
        data = None if body is None else orjson.dumps(body)
        attempt = 0
        stale_retried = False
        while True:
            try:
                response = await session.request(
                    method,
                    target,
                    data=data,
                    proxy=proxy.url,
                    proxy_headers=proxy.headers if self._tls else None,
                )
                status = response.status
                if stream and status < 400:
                    return response, None
                try:
                    raw = await response.read()
                finally:
                    response.release()
            except aiohttp.ServerDisconnectedError as exc:
                # Closed before any answer: most often a kept-alive connection the server
                # dropped while idle. Once, at once, on a fresh connection (the server never
                # answered); after that like any other connection failure.
                if not stale_retried:
                    stale_retried = True
                    continue
                if attempt >= self._max_retries:
                    raise self._unreachable(url, exc, attempt) from exc
                await asyncio.sleep(self._backoff(attempt))
                attempt += 1
                continue
            except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as exc:
                # Refused, unresolvable, TLS, proxy, or no connection within the connect
                # timeout: the upstream cannot have started on the request.
                if attempt >= self._max_retries:
                    raise self._unreachable(url, exc, attempt) from exc
                await asyncio.sleep(self._backoff(attempt))
                attempt += 1
                continue
            except TimeoutError as exc:  # aiohttp's SocketTimeoutError: no bytes in timeout_s
                raise BackendError(f"{url} timed out after {self._timeout_s:g} s") from exc
            except aiohttp.ClientError as exc:
                raise BackendError(f"request to {url} failed: {_describe(exc)}") from exc
            except ValueError as exc:  # aiohttp refuses a proxy URL it cannot use
                raise BackendError(f"cannot reach {url}: {exc}") from exc
            if status < 400:
                return None, raw
            if (status == 429 or status >= 500) and attempt < self._max_retries:
                delay = _retry_after(response.headers)
                await asyncio.sleep(
                    min(delay, self._max_backoff_s) if delay is not None else self._backoff(attempt)
                )
                attempt += 1
                continue
            body = _safe_json(raw)
            raise UpstreamHTTPError(url, status, _error_message(body), _error_code(body))

    def _unreachable(self, url: str, exc: BaseException, attempt: int) -> BackendError:
        return BackendError(
            f"cannot reach {url} ({type(exc).__name__}: {_describe(exc)}) "
            f"after {attempt + 1} attempt(s)"
        )

    def _backoff(self, attempt: int) -> float:
        delay = min(self._backoff_s * (2**attempt), self._max_backoff_s)
        return float(delay * random.uniform(0.5, 1.0))  # jitter: a fleet does not retry in lockstep


USER_AGENT = "releasegate"


class _Proxy:
    """The proxy the environment names for the upstream (`url` None: connect directly)."""

    __slots__ = ("headers", "url")

    def __init__(self, url: URL | None = None, headers: dict[str, str] | None = None) -> None:
        self.url = url
        # Proxy-Authorization, when the proxy URL has credentials. aiohttp sends `proxy_headers`
        # with a CONNECT (an https upstream); an http upstream's requests go to the proxy
        # whole, so the header travels with each of them (the session's headers).
        self.headers = headers


def _env_proxy(base_url: str) -> _Proxy:
    """`HTTP_PROXY` / `HTTPS_PROXY` (and lower case) for the upstream's scheme, unless
    `NO_PROXY` exempts its host; `user:password@` in the proxy URL becomes Basic proxy auth.

    Raises:
        BackendError: the proxy URL is not http:// or https:// (aiohttp speaks no other).
    """
    parts = urlsplit(base_url)
    proxy = urllib.request.getproxies_environment().get(parts.scheme)
    if not proxy or urllib.request.proxy_bypass(parts.hostname or ""):
        return _Proxy()
    url = URL(proxy if "://" in proxy else "http://" + proxy)
    if url.scheme not in ("http", "https") or not url.host:
        raise BackendError(
            f"cannot reach {base_url}: unsupported proxy URL {proxy!r} "
            "(expected http:// or https://)"
        )
    auth = aiohttp.BasicAuth.from_url(url)
    headers = {"Proxy-Authorization": auth.encode()} if auth is not None else None
    return _Proxy(url.with_user(None), headers)


def _describe(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


def _drop(session: aiohttp.ClientSession) -> None:
    """Forget a session whose event loop has finished: its sockets went with that loop."""
    connector = session.connector
    session.detach()
    if connector is not None:
        with contextlib.suppress(Exception):  # closing transports of a closed loop may raise
            connector._close()  # the synchronous part of close(), which needs the loop


def _loads(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        # orjson refuses NaN and ±Infinity, which some servers send as logprobs; json takes them.
        return json.loads(raw)


async def _sse_lines(response: aiohttp.ClientResponse) -> AsyncIterator[bytes]:
    """The lines of a server-sent event stream, as they arrive (CR, LF or CRLF endings).

    Split here rather than by aiohttp's line iterator, which refuses lines longer than its
    buffer (an event carrying a long completion is one line).
    """
    pending = b""
    async for chunk in response.content.iter_any():
        # A CRLF split across chunks becomes two line ends: the extra blank line is harmless,
        # since only `data:` lines are read.
        pending += chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        *lines, pending = pending.split(b"\n")
        for line in lines:
            yield line
    if pending:
        yield pending


def _safe_json(raw: bytes) -> Any:
    try:
        return _loads(raw)
    except ValueError:
        return raw[:300].decode(errors="replace")


def _error_code(body: Any) -> str | None:
    error = body.get("error") if isinstance(body, dict) else None
    code = error.get("code") if isinstance(error, dict) else None
    return code if isinstance(code, str) else None


def _error_message(data: Any) -> str:
    if isinstance(data, dict):
        error = data.get("error")
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
        if isinstance(error, str):
            return error
        if "detail" in data:
            return str(data["detail"])
    return str(data)[:300] or "no message"


def _retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds the server asked us to wait (`Retry-After`: seconds or an HTTP date)."""
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


__all__ = ["API_KEY_ENV", "FALLBACK_API_KEY_ENV", "OpenAIBackend", "UpstreamHTTPError"]
