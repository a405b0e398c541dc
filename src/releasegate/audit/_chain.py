"""The chain arithmetic: canonical JSON, record hashes and HMACs, and the record types.

A record's hash is `sha256(prev_hash + canonical_json(body))` where the body holds its seq, time,
kind, actor and payload; its HMAC is `hmac_sha256(server_key, hash)`. The hash chain makes any
edit, deletion or reordering visible from the first changed record on; the HMAC stops someone
with write access to the database (but not the server key) from recomputing the whole chain.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

GENESIS_HASH = "0" * 64

JsonValue: TypeAlias = (
    bool | int | float | str | Sequence["JsonValue"] | Mapping[str, "JsonValue"] | None
)
"""A value JSON can hold: what audit payloads are made of (read-only containers, so a
`list[str]` or a `dict[str, int]` is one)."""


class StrictJsonError(ValueError):
    """Text that is not strict JSON (a duplicate key, NaN or an infinity, bad syntax)."""


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for key, value in pairs:
        if key in data:
            raise StrictJsonError(f"duplicate key {key!r}")
        data[key] = value
    return data


def _no_constant(name: str) -> Any:
    raise StrictJsonError(f"{name} is not JSON")


def strict_loads(text: str | bytes) -> Any:
    """Parse JSON strictly: a duplicate key in any object, NaN, Infinity, or nesting deeper
    than Python can follow is an error, never a value silently chosen.

    Raises:
        StrictJsonError: with the reason.
    """
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except StrictJsonError:
        raise
    except RecursionError:
        raise StrictJsonError("nested too deeply") from None
    except ValueError as exc:  # json.JSONDecodeError, bad UTF-8
        raise StrictJsonError(str(exc)) from None


# One encoder for every call: `json.dumps` with these options builds a new encoder each time,
# which costs more than encoding the short values of an audit record (six calls per request).
# The output is the same: `json.dumps` only constructs this encoder and calls `encode`.
_CANONICAL = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
)


def canonical_json(data: Any) -> str:
    """Compact JSON with sorted keys, non-ASCII kept as UTF-8; NaN and infinities refused.

    Raises:
        TypeError: a value JSON cannot represent (a datetime, bytes, a set...).
        ValueError: NaN or an infinity.
    """
    return _CANONICAL.encode(data)


def content_sha256(value: Any) -> str:
    """SHA-256 of a value's canonical JSON (what `store_content="hash"` keeps of content)."""
    return hashlib.sha256(canonical_json(value).encode()).hexdigest()


def record_hash(prev_hash: str, seq: int, time: str, kind: str, actor: str, payload: Any) -> str:
    """The chain hash of one record."""
    body = canonical_json(
        {"seq": seq, "time": time, "kind": kind, "actor": actor, "payload": payload}
    )
    return hashlib.sha256((prev_hash + body).encode()).hexdigest()


def record_hash_from_json(
    prev_hash: str, seq: int, time: str, kind: str, actor: str, payload_json: str
) -> str:
    """`record_hash` for a payload already in canonical JSON (the append path has it): the body
    is assembled around it, keys in canonical (sorted) order, instead of encoding it again."""
    body = (
        f'{{"actor":{canonical_json(actor)},"kind":{canonical_json(kind)},'
        f'"payload":{payload_json},"seq":{seq},"time":{canonical_json(time)}}}'
    )
    return hashlib.sha256((prev_hash + body).encode()).hexdigest()


def record_hmac(key: bytes, hash_hex: str) -> str:
    """The HMAC-SHA256 of a record's hash under the server key."""
    return hmac.new(key, hash_hex.encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class AuditRecord:
    """One record of the audit log, as stored and exported."""

    seq: int
    time: str  # ISO 8601, UTC, microseconds: exactly the string that was hashed
    kind: str
    actor: str
    payload: dict[str, Any]
    prev_hash: str
    hash: str
    hmac: str

    def to_dict(self) -> dict[str, Any]:
        """The record as one JSON object (one line of `export`)."""
        return {
            "seq": self.seq,
            "time": self.time,
            "kind": self.kind,
            "actor": self.actor,
            "payload": self.payload,
            "prev_hash": self.prev_hash,
            "hash": self.hash,
            "hmac": self.hmac,
        }


@dataclass(frozen=True)
class VerifyResult:
    """The outcome of checking the chain.

    `first_bad_seq` names the first record that was edited, deleted or reordered (for a
    deletion: the seq of the missing record); `reason` says what did not match.
    """

    ok: bool
    checked: int
    first_bad_seq: int | None = None
    reason: str | None = None
    head_seq: int = 0


class ChainChecker:
    """Checks records one by one, in stored seq order; stops at the first bad one."""

    def __init__(self, key: bytes) -> None:
        self._key = key
        self.expected_seq = 1
        self.prev_hash = GENESIS_HASH
        self.checked = 0
        self.bad: tuple[int, str] | None = None

    def check(
        self,
        seq: int,
        time: str,
        kind: str,
        actor: str,
        payload: Any,
        prev_hash: str,
        hash_hex: str,
        hmac_hex: str,
    ) -> bool:
        """Check the next record; False (and `bad` set) at the first problem."""
        if self.bad is not None:
            return False
        if seq != self.expected_seq:
            if seq > self.expected_seq:
                missing = self.expected_seq if seq == self.expected_seq + 1 else None
                what = (
                    f"record {missing} is missing"
                    if missing is not None
                    else f"records {self.expected_seq}..{seq - 1} are missing"
                )
                self.bad = (self.expected_seq, f"{what} (deleted); next stored record is {seq}")
            else:
                self.bad = (
                    self.expected_seq,
                    f"record {self.expected_seq} is out of order (found seq {seq} in its place)",
                )
            return False
        if prev_hash != self.prev_hash:
            self.bad = (
                seq,
                f"record {seq}: prev_hash does not match the hash of record {seq - 1} "
                "(a record was deleted, reordered or edited here)",
            )
            return False
        try:
            digest = record_hash(prev_hash, seq, time, kind, actor, payload)
        except (TypeError, ValueError, RecursionError) as exc:
            self.bad = (seq, f"record {seq}: its payload is not JSON that can be hashed ({exc})")
            return False
        if digest != hash_hex:
            self.bad = (seq, f"record {seq}: content does not match its hash (edited)")
            return False
        if not _hmac_equal(record_hmac(self._key, hash_hex), hmac_hex):
            self.bad = (
                seq,
                f"record {seq}: HMAC does not match (rewritten without the server key, "
                "or verified with the wrong key)",
            )
            return False
        self.checked += 1
        self.expected_seq = seq + 1
        self.prev_hash = hash_hex
        return True

    def result(self, head_seq: int | None = None, head_hash: str | None = None) -> VerifyResult:
        """The verdict; with the stored chain head, also catches records deleted at the end."""
        last_seq = self.expected_seq - 1
        if self.bad is None and head_seq is not None:
            if head_seq > last_seq:
                self.bad = (
                    last_seq + 1,
                    f"records {last_seq + 1}..{head_seq} are missing (deleted at the end; "
                    f"the chain head says {head_seq})",
                )
            elif head_seq < last_seq:
                self.bad = (
                    head_seq + 1,
                    f"record {head_seq + 1} and later are not in the chain head (appended "
                    "outside the log)",
                )
            elif head_hash is not None and head_hash != self.prev_hash:
                self.bad = (last_seq, f"record {last_seq}: hash does not match the chain head")
        if self.bad is None:
            return VerifyResult(ok=True, checked=self.checked, head_seq=last_seq)
        seq, reason = self.bad
        return VerifyResult(
            ok=False,
            checked=self.checked,
            first_bad_seq=seq,
            reason=reason,
            head_seq=head_seq if head_seq is not None else last_seq,
        )


def _hmac_equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())
