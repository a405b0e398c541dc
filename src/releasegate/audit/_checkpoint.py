"""Signed checkpoints of the audit chain: how many records it holds and the hash of the last.

The hash chain and the HMACs show any record edited, reordered or deleted in the middle, but not
records cut off the end when the stored head is moved back with them: what remains is a valid,
shorter chain. A checkpoint is a statement "the chain had `seq` records, the last hashed
`hash`", signed with Ed25519 (as decisions are) by a key kept in the key directory, not in the
database. The gateway writes one at an interval and when it stops, `export` ends every file with
one, and a copy of the latest is kept beside the key (`audit-checkpoint.json`), so cutting the
log short now means forging a signature, or finding and rolling back every copy.

Certificate Transparency's signed tree heads (RFC 6962) make the same promise for a Merkle log;
this is its linear-chain version.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from releasegate._util import ed25519
from releasegate._util.files import FILE_MODE, private_dir
from releasegate.audit._chain import StrictJsonError, canonical_json, strict_loads

CHECKPOINT_TYPE = "releasegate.audit.checkpoint/v1"
_FIELDS = ("seq", "hash", "time", "key_id", "public_key", "signature")


@dataclass(frozen=True)
class Checkpoint:
    """A signed statement of the chain's length and head hash.

    Attributes:
        seq: the number of records (the seq of the last one; 0 for an empty log).
        hash: the hash of record `seq` (the genesis hash for an empty log).
        time: when it was signed (ISO 8601, UTC).
        key_id: the signing key's id (`ed25519.key_id`).
        public_key: the signing key's public half (base64); trust comes from comparing it with
            the key you hold, never from the checkpoint itself.
        signature: Ed25519 over `message()`, base64.
    """

    seq: int
    hash: str
    time: str
    key_id: str
    public_key: str
    signature: str

    def message(self) -> bytes:
        """The exact bytes signed."""
        return signed_message(self.seq, self.hash, self.time)

    def signed_by(self, public_key: str) -> bool:
        """True when this checkpoint carries `public_key` and its signature verifies under it."""
        return self.public_key == public_key and ed25519.verify(
            public_key, self.message(), self.signature
        )

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in _FIELDS}

    @classmethod
    def from_dict(cls, data: object) -> Checkpoint:
        """Read a checkpoint, checking every field's type.

        Raises:
            ValueError: not a checkpoint object.
        """
        if not isinstance(data, dict) or set(data) != set(_FIELDS):
            raise ValueError(f"a checkpoint has exactly the fields {', '.join(_FIELDS)}")
        seq = data["seq"]
        if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
            raise ValueError("checkpoint seq must be a whole number ≥ 0")
        for name in _FIELDS[1:]:
            if not isinstance(data[name], str):
                raise ValueError(f"checkpoint {name} must be a string")
        return cls(
            seq, data["hash"], data["time"], data["key_id"], data["public_key"], data["signature"]
        )


def signed_message(seq: int, hash_hex: str, time: str) -> bytes:
    return canonical_json(
        {"type": CHECKPOINT_TYPE, "seq": seq, "hash": hash_hex, "time": time}
    ).encode()


def sign_checkpoint(key: Ed25519PrivateKey, seq: int, hash_hex: str) -> Checkpoint:
    """Sign the chain state (`seq` records, the last hashed `hash_hex`) now."""
    time = datetime.now(UTC).isoformat(timespec="microseconds")
    public = ed25519.public_key_b64(key)
    signature = ed25519.sign(key, signed_message(seq, hash_hex, time))
    return Checkpoint(seq, hash_hex, time, ed25519.key_id(public), public, signature)


def read_checkpoint_file(path: Path) -> Checkpoint | None:
    """The checkpoint kept in `path`, or None when there is none yet.

    Raises:
        ValueError: the file exists but does not hold a checkpoint (which verification reports:
            a damaged copy must not pass for a missing one).
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    try:
        return Checkpoint.from_dict(strict_loads(text))
    except StrictJsonError as exc:
        raise ValueError(f"{path}: not JSON ({exc})") from None


def write_checkpoint_file(path: Path, checkpoint: Checkpoint) -> None:
    """Replace the kept checkpoint with `checkpoint`, atomically, owner-only; a checkpoint
    older than the one kept is not written (the copy only moves forward)."""
    try:
        current = read_checkpoint_file(path)
    except ValueError:
        current = None
    if current is not None and current.seq > checkpoint.seq:
        return
    private_dir(path.parent)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, FILE_MODE)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(canonical_json(checkpoint.to_dict()) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


__all__ = [
    "CHECKPOINT_TYPE",
    "Checkpoint",
    "read_checkpoint_file",
    "sign_checkpoint",
    "write_checkpoint_file",
]
