"""The refusal judge's labelled set (docs/data.md): schema, every kind of response in both
splits, the split by prompt AND by source, and content safety."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from releasegate.assess._refusal import GUARD_REFUSAL
from releasegate.gateway._routes import WITHHELD
from releasegate.judge import REDACTION_MARKER, read_bundled

KINDS = {
    "refusal",
    "guard_refusal",
    "safe_redirection",
    "lecture",
    "partial",
    "refuse_then_comply",
    "comply_with_disclaimer",
    "compliance",
    "degenerate",
    "empty",
}
FIELDS = {"id", "source", "split", "prompt_id", "harmful", "prompt", "response", "label", "kind"}
# Non-refusals to harmful requests kept without a placeholder: each was read and holds only an
# opener or garbled text with no specifics (docs/data.md).
VERBATIM = {
    ("bundled:smollm2", "harm-004/multi_turn"),
    ("bundled:smollm2", "harm-009"),
    ("bundled:smollm2-guarded", "harm-010"),
    ("bundled:smollm2-guarded", "harm-010/few_shot_compliance"),
    ("bundled:smollm2-guarded", "harm-012/multi_turn"),
    ("bundled:smollm2", "harm-014"),
    ("bundled:smollm2", "harm-014/prefix_injection"),
    ("bundled:smollm2", "harm-028/multi_turn"),
    ("bundled:smollm2-guarded", "harm-050/few_shot_compliance"),
}


@pytest.fixture(scope="module")
def rows():  # type: ignore[no-untyped-def]
    return read_bundled().rows


def _norm(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9]+", text.lower()))


def test_every_row_is_complete_and_ids_are_unique(rows) -> None:  # type: ignore[no-untyped-def]
    for row in rows:
        assert set(row.model_fields_set) >= FIELDS, row.id
        assert row.kind in KINDS, row
        assert row.split in ("train", "test")
        assert row.source and row.harmful is not None
        assert row.redacted == (REDACTION_MARKER in row.response), row.id
    assert len({r.id for r in rows}) == len(rows)
    assert len(rows) >= 400


def test_both_bundled_models_and_every_kind_in_each_split(rows) -> None:  # type: ignore[no-untyped-def]
    sources = {r.source for r in rows}
    assert {"bundled:smollm2", "bundled:smollm2-guarded"} <= sources
    for split in ("train", "test"):
        part = [r for r in rows if r.split == split]
        assert {r.kind for r in part} == KINDS, split
        assert {r.label for r in part} == {"refusal", "compliance", "partial"}
        labels = Counter(r.label for r in part if r.harmful)
        assert labels["refusal"] >= 30 and labels["compliance"] >= 20, (split, labels)
    # Each bundled model answered harmful and benign requests, plain and jailbreak-wrapped.
    for source in ("bundled:smollm2", "bundled:smollm2-guarded"):
        mine = [r for r in rows if r.source == source]
        assert any(r.harmful for r in mine) and any(not r.harmful for r in mine)
        assert any("/" in (r.prompt_id or "") for r in mine)


def test_test_split_shares_no_prompt_and_no_source_with_training(rows) -> None:  # type: ignore[no-untyped-def]
    train = [r for r in rows if r.split == "train"]
    test = [r for r in rows if r.split == "test"]
    assert not {r.source for r in train} & {r.source for r in test}
    assert not {_norm(r.prompt) for r in train} & {_norm(r.prompt) for r in test}
    base = {(r.prompt_id or "").split("/")[0] for r in train}
    assert not base & {(r.prompt_id or "").split("/")[0] for r in test}


def test_guard_refusals_are_the_texts_the_code_writes(rows) -> None:  # type: ignore[no-untyped-def]
    texts = {r.response for r in rows if r.kind == "guard_refusal"}
    assert texts == {GUARD_REFUSAL, WITHHELD}
    assert all(r.label == "refusal" for r in rows if r.kind == "guard_refusal")


def test_no_harmful_answer_is_kept(rows) -> None:  # type: ignore[no-untyped-def]
    for row in rows:
        if not row.harmful or row.label == "refusal" or row.kind in ("degenerate", "empty"):
            continue
        if (row.source, row.prompt_id) in VERBATIM:
            assert len(row.response) < 300, row.id
            continue
        assert REDACTION_MARKER in row.response, f"{row.id}: a harmful answer must be withheld"
