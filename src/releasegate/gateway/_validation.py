"""Turn pydantic's validation errors into OpenAI's error body: status 400, the field path in
`param` (`messages[0].content`), and a `code` a client can act on.

A request that fails its row's model is refused here, before the tier check, the guards or the
backend see it.
"""

from __future__ import annotations

from collections.abc import Sequence
from email import policy
from email.parser import BytesParser

from pydantic import ValidationError
from pydantic_core import ErrorDetails
from starlette.requests import Request

from releasegate.gateway._errors import ApiError, bad_request

# pydantic error type -> OpenAI-style code
_CODES = {
    "missing": "missing_required_parameter",
    "extra_forbidden": "unknown_parameter",
    "unsupported_parameter": "unsupported_parameter",
    "json_invalid": "invalid_json",
    "json_type": "invalid_json",
}


def field_path(loc: Sequence[int | str]) -> str:
    """`('messages', 0, 'content')` -> `messages[0].content`.

    Union members (pydantic adds their tags to the path, e.g. `as-text`) are left out: they are
    not fields a client wrote. Every field name in our models is a Python identifier.
    """
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part.isidentifier():
            out += f".{part}" if out else part
    return out


def _code(error: ErrorDetails) -> str:
    kind = error["type"]
    if kind in _CODES:
        return _CODES[kind]
    if kind.endswith(("_type", "_parsing")) or kind == "union_tag_not_found":
        return "invalid_type"
    return "invalid_value"


def _body_error(exc: ValidationError, body: bytes) -> ApiError | None:
    """Errors about the body as a whole (not JSON, not UTF-8, not an object)."""
    first = exc.errors(include_url=False)[0]
    if first["loc"] and first["type"] != "json_invalid":
        return None
    if first["type"] == "json_invalid":
        try:
            body.decode("utf-8")
        except UnicodeDecodeError as err:
            return bad_request(
                f"the request body is not valid UTF-8 (byte {err.start}: {err.reason})",
                code="invalid_utf8",
            )
        return bad_request(
            f"the request body is not valid JSON: {first['msg']}", code="invalid_json"
        )
    return bad_request(
        f"the request body must be a JSON object ({first['msg']})", code="invalid_json"
    )


def validation_error(exc: ValidationError, body: bytes = b"") -> ApiError:
    """The 400 for a request that fails its model, naming the first field at fault."""
    whole = _body_error(exc, body)
    if whole is not None:
        return whole
    error = exc.errors(include_url=False)[0]
    param = field_path(error["loc"])
    count = exc.error_count()
    more = f" (and {count - 1} more error{'s' if count > 2 else ''})" if count > 1 else ""
    return bad_request(f"{param}: {error['msg']}{more}", param=param or None, code=_code(error))


def multipart_fields(request: Request, body: bytes) -> dict[str, object]:
    """The parts of a `multipart/form-data` body by name: a file part as its bytes (and its
    file name under `filename`), any other part as text. Parsed by the standard library's MIME
    parser, which handles the boundary, the headers and the transfer encodings.

    Raises:
        ApiError: 400 when the body is not multipart/form-data.
    """
    ctype = request.headers.get("content-type", "")
    if not ctype.lower().startswith("multipart/form-data") or "boundary=" not in ctype:
        raise bad_request(
            "the request body must be multipart/form-data (with a boundary)",
            code="invalid_content_type",
        )
    message = BytesParser(policy=policy.HTTP).parsebytes(
        b"Content-Type: " + ctype.encode("latin-1") + b"\r\n\r\n" + body
    )
    if not message.is_multipart():
        raise bad_request("the multipart body has no parts", code="invalid_multipart")
    fields: dict[str, object] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        filename = part.get_filename()
        if filename is not None:
            fields[name] = data
            fields["filename"] = filename
        else:
            fields[name] = data.decode(part.get_content_charset() or "utf-8", errors="replace")
    return fields


def empty_body() -> ApiError:
    return bad_request("the request body is empty; send a JSON object", code="empty_body")


__all__ = ["empty_body", "field_path", "multipart_fields", "validation_error"]
