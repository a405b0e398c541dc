"""A minimal, fast OpenAI-compatible upstream for gateway benchmarks.

Plain asyncio (uvloop when available) with a hand-rolled HTTP/1.1 keep-alive parser: it answers
`POST /v1/chat/completions` (plain and `stream: true`), `POST /v1/completions` and
`GET /v1/models` with a fixed short answer, so that what a benchmark measures in front of it is
the proxy, not the model. Not a general HTTP server: no chunked request bodies, no pipelining
beyond what keep-alive needs.

    python bench/upstream.py --port 9100
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from typing import Any

MODEL = "bench-model"
ANSWER = "Hello from the bench upstream."


def _chat_body() -> bytes:
    return json.dumps(
        {
            "id": "chatcmpl-bench",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": MODEL,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": ANSWER},
                    "logprobs": None,
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 12, "completion_tokens": 7, "total_tokens": 19},
        }
    ).encode()


def _completion_body() -> bytes:
    return json.dumps(
        {
            "id": "cmpl-bench",
            "object": "text_completion",
            "created": int(time.time()),
            "model": MODEL,
            "choices": [{"index": 0, "text": ANSWER, "logprobs": None, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 12, "completion_tokens": 7, "total_tokens": 19},
        }
    ).encode()


def _stream_body() -> bytes:
    events = []
    words = ANSWER.split(" ")
    for i, word in enumerate(words):
        delta = {"role": "assistant", "content": word} if i == 0 else {"content": " " + word}
        chunk = {
            "id": "chatcmpl-bench",
            "object": "chat.completion.chunk",
            "created": 0,
            "model": MODEL,
            "choices": [{"index": 0, "delta": delta, "finish_reason": None}],
        }
        events.append(b"data: " + json.dumps(chunk).encode() + b"\n\n")
    last = {
        "id": "chatcmpl-bench",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": MODEL,
        "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 12, "completion_tokens": 7, "total_tokens": 19},
    }
    events.append(b"data: " + json.dumps(last).encode() + b"\n\n")
    events.append(b"data: [DONE]\n\n")
    return b"".join(events)


def _response(status: str, body: bytes, ctype: bytes = b"application/json") -> bytes:
    return (
        b"HTTP/1.1 "
        + status.encode()
        + b"\r\ncontent-type: "
        + ctype
        + b"\r\ncontent-length: "
        + str(len(body)).encode()
        + b"\r\n\r\n"
        + body
    )


CHAT = _response("200 OK", _chat_body())
COMPLETION = _response("200 OK", _completion_body())
STREAM = _response("200 OK", _stream_body(), b"text/event-stream")
MODELS = _response(
    "200 OK",
    json.dumps(
        {"object": "list", "data": [{"id": MODEL, "object": "model", "owned_by": "bench"}]}
    ).encode(),
)
NOT_FOUND = _response(
    "404 Not Found", b'{"error":{"message":"not found","type":"invalid_request_error"}}'
)


class _Http(asyncio.Protocol):
    def __init__(self) -> None:
        self.buf = b""
        self.transport: Any = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buf[:end]
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value.strip())
            total = end + 4 + length
            if len(self.buf) < total:
                return
            body = self.buf[end + 4 : total]
            self.buf = self.buf[total:]
            request_line = head.split(b"\r\n", 1)[0]
            assert self.transport is not None
            self.transport.write(self._answer(request_line, body))

    @staticmethod
    def _answer(request_line: bytes, body: bytes) -> bytes:
        parts = request_line.split(b" ")
        method, path = parts[0], parts[1] if len(parts) > 1 else b"/"
        if method == b"POST" and path.endswith(b"/chat/completions"):
            return STREAM if b'"stream":true' in body.replace(b" ", b"") else CHAT
        if method == b"POST" and path.endswith(b"/completions"):
            return COMPLETION
        if method == b"GET" and path.endswith(b"/models"):
            return MODELS
        return NOT_FOUND


async def serve(host: str, port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(_Http, host, port, backlog=1024)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9100)
    args = parser.parse_args()
    try:
        import uvloop
    except ImportError:
        asyncio.run(serve(args.host, args.port))
    else:
        uvloop.run(serve(args.host, args.port))


if __name__ == "__main__":
    main()
