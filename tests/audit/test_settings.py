from __future__ import annotations

import stat
from pathlib import Path

import pytest
from pydantic import SecretStr

from releasegate.audit import resolve_audit_hmac_key
from releasegate.settings import Settings


def test_configured_key_wins(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, audit_hmac_key=SecretStr("s3cret"))
    assert resolve_audit_hmac_key(settings) == b"s3cret"
    assert not (tmp_path / "audit-hmac.key").exists()
    with pytest.raises(ValueError, match="empty"):
        resolve_audit_hmac_key(Settings(data_dir=tmp_path, audit_hmac_key=SecretStr("")))


def test_key_file_is_created_once_and_private(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    first = resolve_audit_hmac_key(settings)
    assert len(first) == 64 and resolve_audit_hmac_key(settings) == first
    # In the key directory beside the data directory, never inside it.
    assert not (tmp_path / "data" / "audit-hmac.key").exists()
    mode = stat.S_IMODE((tmp_path / "data-keys" / "audit-hmac.key").stat().st_mode)
    assert mode == 0o600
    assert stat.S_IMODE((tmp_path / "data-keys").stat().st_mode) == 0o700


def test_a_shared_database_needs_an_explicit_key(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, database_url="postgresql+psycopg://db/rg")
    with pytest.raises(ValueError, match="RELEASEGATE_AUDIT_HMAC_KEY"):
        resolve_audit_hmac_key(settings)
    assert not (tmp_path / "audit-hmac.key").exists()
