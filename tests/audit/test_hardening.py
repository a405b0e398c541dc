"""The audit log against an attacker with write access to the store or to an export: records cut
off the end (with the head moved back), checkpoints forged or deleted, duplicate keys, NaN and
deep nesting, arbitrary bytes; and a process with another HMAC key. docs/security.md lists them."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, update
from sqlalchemy.orm import Session, sessionmaker

from releasegate._util import ed25519
from releasegate.audit import (
    GENESIS_HASH,
    AuditKeyMismatch,
    AuditLog,
    record_hash,
    record_hmac,
    verify_jsonl,
)
from releasegate.store.tables.audit import AuditCheckpointRow, AuditHeadRow, AuditRecordRow
from tests.helpers.stores import TEST_HMAC_KEY

KEY = ed25519.generate_private_key()
PUBLIC = ed25519.public_key_b64(KEY)


def _log(sessions: sessionmaker[Session], tmp_path: Path) -> AuditLog:
    return AuditLog(
        sessions,
        TEST_HMAC_KEY,
        checkpoint_key=KEY,
        checkpoint_file=tmp_path / "keys" / "audit-checkpoint.json",
    )


def _cut(sessions: sessionmaker[Session], log: AuditLog, keep: int) -> None:
    """What an attacker with the database does: delete the last records, move the head back."""
    record = log.get(keep)
    assert record is not None
    with sessions() as session, session.begin():
        session.execute(delete(AuditRecordRow).where(AuditRecordRow.seq > keep))
        session.execute(
            update(AuditHeadRow).where(AuditHeadRow.id == 1).values(seq=keep, hash=record.hash)
        )


def test_records_cut_off_the_end_are_caught_by_the_stored_checkpoint(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    log = _log(sessions, tmp_path)
    for i in range(6):
        log.append("request", "k", {"i": i})
    checkpoint = log.checkpoint()
    assert checkpoint is not None and checkpoint.seq == 6
    assert log.verify().ok
    _cut(sessions, log, 4)
    # The chain alone (no checkpoint key) would now verify: that was the finding.
    assert AuditLog(sessions, TEST_HMAC_KEY).verify().ok
    result = log.verify()
    assert not result.ok and result.first_bad_seq == 5
    assert result.reason is not None and "cut off the end" in result.reason


def test_deleting_the_checkpoints_too_is_caught_by_the_kept_copy(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    log = _log(sessions, tmp_path)
    for i in range(5):
        log.append("request", "k", {"i": i})
    log.checkpoint()
    _cut(sessions, log, 2)
    with sessions() as session, session.begin():
        session.execute(delete(AuditCheckpointRow))
    result = log.verify()
    assert not result.ok and result.reason is not None
    assert "cut off the end" in result.reason and "audit-checkpoint.json" in result.reason


def test_a_forged_checkpoint_row_is_refused(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    log = _log(sessions, tmp_path)
    log.append("request", "k", {})
    log.checkpoint()
    with sessions() as session, session.begin():
        session.execute(update(AuditCheckpointRow).values(hash="f" * 64))
    result = log.verify()
    assert not result.ok and result.reason is not None and "not signed" in result.reason


def test_exports_end_in_a_checkpoint_and_a_cut_copy_fails(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    log = _log(sessions, tmp_path)
    for i in range(5):
        log.append("request", "k", {"i": i})
    out = tmp_path / "audit.jsonl"
    assert log.export(out) == 5
    lines = out.read_text().splitlines()
    assert json.loads(lines[-1])["checkpoint"]["seq"] == 5
    assert verify_jsonl(lines, TEST_HMAC_KEY, PUBLIC).ok
    cut = [*lines[:3], lines[-1]]  # records 4 and 5 dropped, the checkpoint kept
    result = verify_jsonl(cut, TEST_HMAC_KEY, PUBLIC)
    assert not result.ok and result.first_bad_seq == 4
    assert "cut off the end" in (result.reason or "")
    no_checkpoint = lines[:3]  # the checkpoint dropped as well
    assert "no signed checkpoint" in (
        verify_jsonl(no_checkpoint, TEST_HMAC_KEY, PUBLIC).reason or ""
    )
    other = ed25519.public_key_b64(ed25519.generate_private_key())
    assert not verify_jsonl(lines, TEST_HMAC_KEY, other).ok  # re-signed by someone else
    extended = [*lines, lines[0]]
    assert "after the checkpoint" in (verify_jsonl(extended, TEST_HMAC_KEY, PUBLIC).reason or "")


def test_another_hmac_key_is_refused_by_the_store(sessions: sessionmaker[Session]) -> None:
    AuditLog(sessions, TEST_HMAC_KEY).claim_key()
    AuditLog(sessions, TEST_HMAC_KEY).claim_key()  # the same key: fine, every time
    with pytest.raises(AuditKeyMismatch, match="not the key the store's log is signed with"):
        AuditLog(sessions, b"another key entirely").claim_key()


# -- strict parsing, on any input ----------------------------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=10),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4)
    ),
    max_leaves=20,
)


def _record(seq: int, payload: Any, prev: str = GENESIS_HASH) -> dict[str, Any]:
    time = "2026-12-07T12:00:00.000000+00:00"
    try:
        digest = record_hash(prev, seq, time, "request", "k", payload)
    except (TypeError, ValueError):
        digest = "0" * 64  # NaN cannot be hashed: the verifier must say so, not crash
    return {
        "seq": seq,
        "time": time,
        "kind": "request",
        "actor": "k",
        "payload": payload,
        "prev_hash": prev,
        "hash": digest,
        "hmac": record_hmac(TEST_HMAC_KEY, digest),
    }


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(json_values, max_size=5))
def test_verify_returns_a_verdict_on_any_json_never_an_exception(values: list[Any]) -> None:
    lines = [json.dumps(v) for v in values]  # NaN and Infinity written as Python writes them
    result = verify_jsonl(lines, TEST_HMAC_KEY, PUBLIC, require_checkpoint=False)
    assert result.ok == (not lines)  # no arbitrary value is a record with a valid HMAC
    if lines:
        assert result.reason


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(json_values)
def test_any_payload_verifies_exactly_when_it_is_finite_json(payload: Any) -> None:
    line = json.dumps(_record(1, {"p": payload}))
    result = verify_jsonl([line], TEST_HMAC_KEY, require_checkpoint=False)
    assert result.ok == _finite(payload), result.reason


def _finite(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, list):
        return all(_finite(v) for v in value)
    if isinstance(value, dict):
        return all(_finite(v) for v in value.values())
    return True


@settings(max_examples=300)
@given(st.lists(st.text(), max_size=4))
def test_verify_returns_a_verdict_on_arbitrary_text(lines: list[str]) -> None:
    result = verify_jsonl(lines, TEST_HMAC_KEY, PUBLIC)
    assert not result.ok
    assert result.reason


def test_duplicate_keys_nan_and_deep_nesting_are_named() -> None:
    good = json.dumps(_record(1, {"a": 1}))
    duplicate = good[:-1] + ', "seq": 1}'
    reason = verify_jsonl([duplicate], TEST_HMAC_KEY, require_checkpoint=False).reason
    assert reason is not None and "duplicate key 'seq'" in reason
    nested_key = good.replace('{"a": 1}', '{"a": 1, "a": 2}')
    assert "duplicate key 'a'" in (
        verify_jsonl([nested_key], TEST_HMAC_KEY, require_checkpoint=False).reason or ""
    )
    nan = good.replace('{"a": 1}', '{"a": NaN}')
    assert "NaN is not JSON" in (
        verify_jsonl([nan], TEST_HMAC_KEY, require_checkpoint=False).reason or ""
    )
    deep = good.replace('{"a": 1}', '{"a": ' + "[" * 100_000 + "]" * 100_000 + "}")
    assert "nested too deeply" in (
        verify_jsonl([deep], TEST_HMAC_KEY, require_checkpoint=False).reason or ""
    )
