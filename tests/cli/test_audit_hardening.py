"""`releasegate audit` against hostile files, and where the CLI keeps keys and data: outside the
data directory, owner-only, one key per store."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from releasegate.settings import Settings
from tests.helpers.cli import run_main, run_subprocess


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    return lambda *args: run_main([str(a) for a in args], capsys, monkeypatch)


@pytest.mark.parametrize(
    "content",
    [
        "not json at all\n",
        '{"seq": 1, "seq": 2}\n',
        '{"seq": 1, "time": "t", "kind": "k", "actor": "a", "payload": {"x": NaN}, '
        '"prev_hash": "0", "hash": "0", "hmac": "0"}\n',
        '{"seq": 1, "time": "t", "kind": "k", "actor": "a", "payload": '
        + "[" * 50_000
        + "]" * 50_000
        + ', "prev_hash": "0", "hash": "0", "hmac": "0"}\n',
        '[1, 2, 3]\n{"checkpoint": 5}\n',
        "\udcff",
    ],
    ids=["garbage", "duplicate-key", "nan", "deep", "wrong-shapes", "bad-utf8"],
)
def test_audit_verify_file_exits_1_with_a_reason_never_a_traceback(
    cli, tmp_path: Path, content: str
) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "audit.jsonl"
    path.write_bytes(content.encode("utf-8", "surrogateescape"))
    result = cli("audit", "verify", "--file", path)
    assert result.code == 1, result.err
    assert "broken:" in result.err and "Traceback" not in result.err + result.out


def test_a_cut_export_fails_and_the_whole_one_verifies(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    for owner in ("a", "b", "c", "d"):
        assert cli("keys", "create", "--tier", "public", "--owner", owner).code == 0
    out = tmp_path / "audit.jsonl"
    assert cli("audit", "export", "--out", out).code == 0
    lines = out.read_text().splitlines()
    assert cli("audit", "verify", "--file", out).code == 0
    out.write_text("\n".join([*lines[:2], lines[-1]]) + "\n")
    cut = cli("audit", "verify", "--file", out)
    assert cut.code == 1 and "cut off the end" in cut.err
    out.write_text("\n".join(lines[:2]) + "\n")
    assert "no signed checkpoint" in cli("audit", "verify", "--file", out).err


def test_keys_live_outside_the_data_directory_owner_only(tmp_path: Path) -> None:
    data = tmp_path / "fresh" / "data"
    env = {"RELEASEGATE_DATA_DIR": str(data)}
    # umask 022, the usual default: files would be world-readable unless created otherwise.
    result = run_subprocess(
        ["keys", "create", "--tier", "public", "--owner", "x"], cwd=tmp_path, env=env
    )
    assert result.code == 0, result.err
    keys = Settings(data_dir=data).resolved_key_dir()
    assert keys == tmp_path / "fresh" / "data-keys"
    assert not list(data.glob("*.key")) and not list(data.glob("*.pem"))
    for directory in (data, keys):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700, directory
    files = [data / "releasegate.db", keys / "audit-hmac.key", keys / "audit-checkpoint.pem"]
    files += [p for p in data.glob("releasegate.db-*") if p.is_file()]
    for file in files:
        assert stat.S_IMODE(file.stat().st_mode) == 0o600, file


def test_a_key_dir_inside_the_data_dir_is_refused(cli, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("RELEASEGATE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("RELEASEGATE_KEY_DIR", str(tmp_path / "data" / "keys"))
    result = cli("keys", "create", "--tier", "public", "--owner", "x")
    assert result.code == 2 and "inside the data directory" in result.err


def test_an_old_key_file_in_the_data_dir_is_moved_out(cli, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    data = tmp_path / "data"
    data.mkdir()
    (data / "audit-hmac.key").write_text("ab" * 32 + "\n")
    monkeypatch.setenv("RELEASEGATE_DATA_DIR", str(data))
    assert cli("keys", "create", "--tier", "public", "--owner", "x").code == 0
    moved = tmp_path / "data-keys" / "audit-hmac.key"
    assert not (data / "audit-hmac.key").exists() and moved.read_text().strip() == "ab" * 32
    assert stat.S_IMODE(moved.stat().st_mode) == 0o600


def test_a_cli_with_another_hmac_key_is_refused(cli, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("RELEASEGATE_AUDIT_HMAC_KEY", "the-fleet-key-" + "x" * 20)
    assert cli("keys", "create", "--tier", "public", "--owner", "x").code == 0
    monkeypatch.setenv("RELEASEGATE_AUDIT_HMAC_KEY", "another-key-" + "y" * 20)
    result = cli("keys", "create", "--tier", "public", "--owner", "y")
    assert result.code == 2 and "not the key the store's log is signed with" in result.err
    monkeypatch.setenv("RELEASEGATE_AUDIT_HMAC_KEY", "the-fleet-key-" + "x" * 20)
    records = [json.loads(x) for x in cli("audit", "export").out.splitlines()][:-1]
    assert [r["payload"]["owner"] for r in records] == ["x"]  # the refused one wrote nothing
