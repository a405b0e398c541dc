"""Build the audit log that the settings describe, with its keys from the key directory."""

from __future__ import annotations

import contextlib
import logging
import secrets
import shutil
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.orm import Session, sessionmaker

from releasegate._util import ed25519
from releasegate._util.files import private_dir, write_private
from releasegate.audit._log import AuditLog
from releasegate.errors import InputError
from releasegate.settings import Settings

log = logging.getLogger("releasegate.audit")

KEY_FILE = "audit-hmac.key"
CHECKPOINT_KEY_FILE = "audit-checkpoint.pem"
CHECKPOINT_COPY_FILE = "audit-checkpoint.json"


def key_dir(settings: Settings) -> Path:
    """The key directory, created 0700; it may not lie inside the data directory.

    Raises:
        ValueError: the key directory is the data directory or inside it.
    """
    keys = settings.resolved_key_dir().resolve()
    data = settings.data_dir.resolve()
    if keys == data or data in keys.parents:
        raise ValueError(
            f"the key directory {keys} lies inside the data directory {data}: set "
            "RELEASEGATE_KEY_DIR outside it, so a copy of the data is not a copy of the keys"
        )
    return private_dir(keys)


def resolve_audit_hmac_key(settings: Settings) -> bytes:
    """The audit HMAC key: `audit_hmac_key` if set, else a key file in the key directory.

    The key file is created once (random 32 bytes, hex, mode 0600) so a laptop setup on SQLite
    works without configuration; a key file left in the data directory by an older version is
    moved to the key directory. A PostgreSQL store is shared (a fleet, an operator's CLI): each
    writer must sign with the same key, so there the key must be set explicitly.

    Raises:
        ValueError: the key is set but empty, or unset with a PostgreSQL store.
    """
    if settings.audit_hmac_key is not None:
        key = settings.audit_hmac_key.get_secret_value()
        if not key:
            raise ValueError("RELEASEGATE_AUDIT_HMAC_KEY is set but empty")
        return key.encode()
    if not settings.resolved_database_url().startswith("sqlite"):
        raise ValueError(
            "set RELEASEGATE_AUDIT_HMAC_KEY (the same on every process) to write or verify the "
            "audit log of a shared database; a per-machine key file would sign records that "
            "other machines cannot verify"
        )
    path = key_dir(settings) / KEY_FILE
    legacy = Path(settings.data_dir) / KEY_FILE
    if not path.exists() and legacy.exists():
        shutil.move(legacy, path)
        path.chmod(0o600)
        log.warning("moved the audit HMAC key from %s to the key directory %s", legacy, path)
    if not path.exists():
        write_private(path, secrets.token_hex(32) + "\n")  # loses to a concurrent first writer
    key = path.read_text().strip()
    if not key:
        raise ValueError(f"the audit key file {path} is empty")
    return key.encode()


def checkpoint_signing_key(settings: Settings) -> Ed25519PrivateKey:
    """The Ed25519 key that signs audit checkpoints, created once in the key directory."""
    path = key_dir(settings) / CHECKPOINT_KEY_FILE
    if not path.exists():
        with contextlib.suppress(InputError):  # another process created it first: use theirs
            ed25519.write_private_key(ed25519.generate_private_key(), path)
    return ed25519.load_private_key(path)


def audit_log_from_settings(settings: Settings, session_factory: sessionmaker[Session]) -> AuditLog:
    """The `AuditLog` of the store, with the keys and content setting from `settings`: the HMAC
    key, the checkpoint key and the kept copy of the latest checkpoint (key directory)."""
    return AuditLog(
        session_factory,
        hmac_key=resolve_audit_hmac_key(settings),
        store_content=settings.audit_store_content,
        checkpoint_key=checkpoint_signing_key(settings),
        checkpoint_file=key_dir(settings) / CHECKPOINT_COPY_FILE,
    )
