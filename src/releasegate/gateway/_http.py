"""Serve an app with uvicorn, with the connection timeouts a public gateway needs.

uvicorn (httptools) closes idle keep-alive connections, but it waits for a request's headers for
as long as the client likes: a client that opens connections and sends a header line every few
seconds (slowloris) holds each one open forever. `GuardedHttpToolsProtocol` gives every request
`header_timeout_s` from its first byte (or from the connection opening) to finish its headers,
and closes the connection otherwise. The body is the pipeline's to time (`Pipeline.read_body`),
since only an authenticated request's body is read at all; a refusal sent before the body was
read closes the connection (`Connection: close`), so an unread body cannot keep it open either.

`run_app` is the one place the gateway's server is configured: `releasegate serve`, the test
helpers' gateway processes and the benchmark all start through it.
"""

from __future__ import annotations

import asyncio
import math
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from releasegate.settings import Settings


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a deadline for each request's headers."""

    header_timeout_s: float = 10.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_timer: asyncio.TimerHandle | None = None

    def _arm_header_timer(self) -> None:
        if self._header_timer is None:
            self._header_timer = self.loop.call_later(self.header_timeout_s, self._headers_late)

    def _disarm_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_late(self) -> None:
        self._header_timer = None
        if not self.transport.is_closing():
            self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_timer()  # a connection that never sends a byte is closed too

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm_header_timer()

    def on_headers_complete(self) -> None:
        self._disarm_header_timer()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_timer()
        super().connection_lost(exc)


def protocol_class(header_timeout_s: float) -> type[GuardedHttpToolsProtocol]:
    """A `GuardedHttpToolsProtocol` with this header deadline (uvicorn takes a class)."""
    return type(
        "GuardedHttpToolsProtocol",
        (GuardedHttpToolsProtocol,),
        {"header_timeout_s": header_timeout_s},
    )


def run_app(
    app: Any,
    settings: Settings,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    log_level: str = "warning",
) -> None:
    """Run `app` with uvicorn (uvloop, httptools) until interrupted, with the header, body and
    keep-alive timeouts from `settings`."""
    import uvicorn

    uvicorn.run(
        app,
        host=host,
        port=port,
        loop="uvloop",
        http=protocol_class(settings.header_timeout_s),
        timeout_keep_alive=max(1, math.ceil(settings.keep_alive_timeout_s)),
        log_level=log_level,
        access_log=False,  # the audit log records every request; a second log costs latency
        lifespan="on",
    )


__all__ = ["GuardedHttpToolsProtocol", "protocol_class", "run_app"]
