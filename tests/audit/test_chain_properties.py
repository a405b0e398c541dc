"""Property tests of the chain itself (in memory, on exported JSON Lines): any single edit,
deletion or swap is caught, and named at the first record it touches."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from releasegate.audit import GENESIS_HASH, canonical_json, record_hash, record_hmac, verify_jsonl
from releasegate.audit._chain import record_hash_from_json

KEY = b"property-key"
json_leaf = st.one_of(st.none(), st.booleans(), st.integers(-(10**6), 10**6), st.text(max_size=8))
payloads = st.dictionaries(st.text(max_size=6), json_leaf, max_size=4)


def _chain(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out, prev = [], GENESIS_HASH
    for i, payload in enumerate(items, start=1):
        time = f"2026-11-28T12:00:{i % 60:02d}.000000+00:00"
        digest = record_hash(prev, i, time, "request", f"key_{i % 3}", payload)
        out.append(
            {
                "seq": i,
                "time": time,
                "kind": "request",
                "actor": f"key_{i % 3}",
                "payload": payload,
                "prev_hash": prev,
                "hash": digest,
                "hmac": record_hmac(KEY, digest),
            }
        )
        prev = digest
    return out


def _verify(records: list[dict[str, Any]]):  # type: ignore[no-untyped-def]
    return verify_jsonl(iter([json.dumps(r) for r in records]), KEY, require_checkpoint=False)


@given(st.lists(payloads, min_size=1, max_size=12))
def test_an_untouched_chain_verifies(items: list[dict[str, Any]]) -> None:
    result = _verify(_chain(items))
    assert result.ok and result.checked == len(items)


@given(
    st.lists(payloads, min_size=1, max_size=12),
    st.data(),
    st.sampled_from(["seq", "time", "kind", "actor", "payload", "prev_hash", "hash", "hmac"]),
)
def test_any_edit_is_named_at_its_record(
    items: list[dict[str, Any]], data: st.DataObject, field: str
) -> None:
    records = _chain(items)
    i = data.draw(st.integers(0, len(records) - 1))
    original = records[i][field]
    if field == "seq":
        changed: Any = data.draw(st.integers(-5, 50).filter(lambda v: v != original))
    elif field == "payload":
        changed = data.draw(payloads.filter(lambda p: p != original))
    else:
        changed = data.draw(st.text(min_size=1, max_size=64).filter(lambda t: t != original))
    records[i] = {**records[i], field: changed}
    result = _verify(records)
    assert not result.ok and result.first_bad_seq == i + 1, result


@given(st.lists(payloads, min_size=2, max_size=12), st.data())
def test_any_deletion_is_named(items: list[dict[str, Any]], data: st.DataObject) -> None:
    records = _chain(items)
    i = data.draw(st.integers(0, len(records) - 2))  # the last one needs the head (DB tests)
    del records[i]
    result = _verify(records)
    assert not result.ok and result.first_bad_seq == i + 1


@given(st.lists(payloads, min_size=2, max_size=12), st.data())
def test_any_swap_is_named_at_the_earlier_record(
    items: list[dict[str, Any]], data: st.DataObject
) -> None:
    records = _chain(items)
    i = data.draw(st.integers(0, len(records) - 2))
    j = data.draw(st.integers(i + 1, len(records) - 1))
    records[i], records[j] = records[j], records[i]
    result = _verify(records)
    assert not result.ok and result.first_bad_seq == i + 1


@given(
    payload=payloads,
    seq=st.integers(1, 10**12),
    kind=st.text(min_size=1, max_size=8),
    actor=st.text(max_size=12),
    time=st.text(max_size=40),
)
def test_hash_from_payload_json_equals_the_canonical_record_hash(
    payload: dict[str, Any], seq: int, kind: str, actor: str, time: str
) -> None:
    """The append path hashes a body assembled around the payload's canonical JSON; it must be
    byte for byte the canonical JSON of the whole body, or stored chains would not verify."""
    assert record_hash_from_json(
        GENESIS_HASH, seq, time, kind, actor, canonical_json(payload)
    ) == record_hash(GENESIS_HASH, seq, time, kind, actor, payload)
