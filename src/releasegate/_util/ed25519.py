"""Ed25519 keys and signatures, through the `cryptography` package.

One small vocabulary for every signature releasegate makes (decision sign-offs, audit
checkpoints, release bundles): private keys live in PEM files created 0600, public keys travel as
base64 of their 32 raw bytes, a key is named by its id (the first 16 hex digits of the SHA-256 of
those bytes), and a signature is base64 of its 64 bytes. Verification never raises on bad input:
a malformed key or signature simply does not verify.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from releasegate.errors import InputError, Problem

KEY_ID_LENGTH = 16


def generate_private_key() -> Ed25519PrivateKey:
    """A new random Ed25519 private key."""
    return Ed25519PrivateKey.generate()


def write_private_key(key: Ed25519PrivateKey, path: str | os.PathLike[str]) -> Path:
    """Write `key` as unencrypted PKCS#8 PEM to a new file readable by its owner only (0600).

    The file is created exclusively: an existing file is never overwritten (a key that signed
    something must not silently disappear). A missing parent directory is created 0700.

    Raises:
        InputError: the file exists, or the directory cannot be written.
    """
    target = Path(path)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    try:
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise InputError(
            str(target), [Problem("a file already exists here; refusing to overwrite a key")]
        ) from None
    except OSError as exc:
        raise InputError(str(target), [Problem(f"cannot create the key file: {exc}")]) from exc
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
        handle.flush()
        os.fsync(handle.fileno())
    return target


def load_private_key(path: str | os.PathLike[str]) -> Ed25519PrivateKey:
    """Read an Ed25519 private key written by `write_private_key` (or any PKCS#8 PEM).

    Raises:
        InputError: the file is missing, unreadable, not PEM, or not an Ed25519 key.
    """
    source = Path(path)
    try:
        data = source.read_bytes()
    except OSError as exc:
        raise InputError(
            str(source), [Problem(f"cannot read the key file: {exc.strerror}")]
        ) from exc
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise InputError(
            str(source), [Problem(f"not an unencrypted PEM private key ({exc})")]
        ) from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise InputError(str(source), [Problem("the key is not an Ed25519 key")])
    return key


def public_key_b64(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    """The public half of `key` as base64 of its 32 raw bytes."""
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode("ascii")


def public_key_from_b64(text: str) -> Ed25519PublicKey:
    """Parse a public key written by `public_key_b64`.

    Raises:
        ValueError: not base64 of 32 bytes.
    """
    raw = _b64(text)
    if raw is None or len(raw) != 32:
        raise ValueError("an Ed25519 public key is base64 of 32 bytes")
    return Ed25519PublicKey.from_public_bytes(raw)


def key_id(public_b64: str) -> str:
    """A short, stable name of a public key: the first 16 hex digits of SHA-256 of its bytes.

    Raises:
        ValueError: not a public key written by `public_key_b64`.
    """
    raw = _b64(public_b64)
    if raw is None or len(raw) != 32:
        raise ValueError("an Ed25519 public key is base64 of 32 bytes")
    return hashlib.sha256(raw).hexdigest()[:KEY_ID_LENGTH]


def sign(key: Ed25519PrivateKey, message: bytes) -> str:
    """Sign `message`; the signature as base64 of its 64 bytes."""
    return base64.b64encode(key.sign(message)).decode("ascii")


def verify(public_b64: str, message: bytes, signature_b64: str) -> bool:
    """True only when `signature_b64` is the key's valid signature of exactly `message`."""
    signature = _b64(signature_b64)
    if signature is None or len(signature) != 64:
        return False
    try:
        public = public_key_from_b64(public_b64)
        public.verify(signature, message)
    except (ValueError, InvalidSignature):
        return False
    return True


def _b64(text: str) -> bytes | None:
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        return None


__all__ = [
    "KEY_ID_LENGTH",
    "generate_private_key",
    "key_id",
    "load_private_key",
    "public_key_b64",
    "public_key_from_b64",
    "sign",
    "verify",
    "write_private_key",
]
