"""File helpers: hashes of artefacts, and files and directories readable by their owner only.

`file_sha256` hashes an artefact (a guard's weights) in chunks.

The database holds audit records (prompts, when `audit_store_content=full`), key hashes and
signatures; the key directory holds the audit HMAC key and the checkpoint signing key. Both are
created 0600 (files) and 0700 (directories), whatever the process's umask, so another local
user can neither read them nor, through a group-writable directory, swap them.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path


def file_sha256(path: Path, chunk: int = 1 << 20) -> str:
    """The SHA-256 of a file's bytes, hex (read in chunks: artefacts may be large).

    Raises:
        OSError: the file cannot be read.
    """
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


DIR_MODE = 0o700
FILE_MODE = 0o600


def private_dir(path: str | os.PathLike[str]) -> Path:
    """Create `path` (and missing parents) as owner-only directories; an existing directory
    is left as it is (it may be shared on purpose, e.g. the working directory)."""
    target = Path(path)
    missing = []
    probe = target
    while not probe.exists():
        missing.append(probe)
        if probe.parent == probe:
            break
        probe = probe.parent
    for directory in reversed(missing):
        try:
            directory.mkdir(mode=DIR_MODE)
        except FileExistsError:
            continue  # another process made it first
        os.chmod(directory, DIR_MODE)  # mkdir's mode is masked by the umask
    return target


def private_file(path: str | os.PathLike[str]) -> bool:
    """Create `path` empty with mode 0600 unless it exists; True when this call created it."""
    target = Path(path)
    private_dir(target.parent)
    try:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        return False
    os.close(fd)
    os.chmod(target, FILE_MODE)
    return True


def write_private(path: str | os.PathLike[str], text: str) -> bool:
    """Write `text` to a new owner-only file, whole or not at all; False (and nothing written)
    when the file exists already (another process created it first: use theirs)."""
    import tempfile

    target = Path(path)
    private_dir(target.parent)
    if target.exists():
        return False
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, FILE_MODE)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(tmp, target)  # atomic, and fails if the file exists: no half-written key
        except FileExistsError:
            return False
        return True
    finally:
        os.unlink(tmp)


__all__ = [
    "DIR_MODE",
    "FILE_MODE",
    "file_sha256",
    "private_dir",
    "private_file",
    "write_private",
]
