"""Build the audit log that the settings describe."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from releasegate.audit._log import AuditLog
from releasegate.settings import Settings

KEY_FILE = "audit-hmac.key"


def resolve_audit_hmac_key(settings: Settings) -> bytes:
    """The audit HMAC key: `audit_hmac_key` if set, else a key file under `data_dir`.

    The key file is created once (random 32 bytes, hex, mode 0600) so a laptop setup on SQLite
    works without configuration. A PostgreSQL store is shared (a fleet, an operator's CLI): each
    writer must sign with the same key, or the records it appends will not verify, so there the
    key must be set explicitly.

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
    path = Path(settings.data_dir) / KEY_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process created it first: use theirs
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_hex(32) + "\n")
    key = path.read_text().strip()
    if not key:
        raise ValueError(f"the audit key file {path} is empty")
    return key.encode()


def audit_log_from_settings(settings: Settings, session_factory: sessionmaker[Session]) -> AuditLog:
    """The `AuditLog` of the store, with the key and content setting from `settings`."""
    return AuditLog(
        session_factory,
        hmac_key=resolve_audit_hmac_key(settings),
        store_content=settings.audit_store_content,
    )
