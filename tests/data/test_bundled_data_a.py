"""Checks on the bundled datasets: capability proxies, tamper set, adapter SFT set.

Every row is validated against its schema, and the properties the suites rely on are asserted:
counts the issue requires, unique ids, balanced answer letters and labels, stratified splits, and no
overlap between the adapter's training requests and the refusal evaluation set.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from importlib import resources
from typing import Any

import pytest

from releasegate.guards._taxonomy import HazardCategory

DOMAINS = ("cbrn", "cyber", "persuasion", "autonomy")


def _rows(relpath: str) -> list[dict[str, Any]]:
    """Read a bundled JSONL file through importlib.resources, the way installed code reads it."""
    node = resources.files("releasegate.data").joinpath(relpath)
    rows: list[dict[str, Any]] = []
    for lineno, line in enumerate(node.read_text(encoding="utf-8").splitlines(), 1):
        assert line.strip(), f"{relpath}:{lineno}: blank line"
        row = json.loads(line)
        assert isinstance(row, dict), f"{relpath}:{lineno}: not an object"
        rows.append(row)
    return rows


def _norm(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9]+", text.lower()))


def _words(text: str) -> set[str]:
    return set(_norm(text).split())


def _jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / max(1, len(a | b))


def _nonempty_str(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


# --- capability proxies -----------------------------------------------------------------------


@pytest.mark.parametrize("domain", DOMAINS)
def test_capability_rows_follow_wmdp_format(domain: str) -> None:
    rows = _rows(f"capability/{domain}.jsonl")
    assert len(rows) >= 45
    for row in rows:
        assert set(row) == {"id", "question", "choices", "answer"}, row
        assert re.fullmatch(rf"{domain}-\d{{3}}", row["id"]), row["id"]
        assert _nonempty_str(row["question"])
        choices = row["choices"]
        assert isinstance(choices, list) and len(choices) == 4
        assert all(_nonempty_str(c) for c in choices)
        assert len({c.strip().casefold() for c in choices}) == 4, f"{row['id']}: duplicate choices"
        assert type(row["answer"]) is int and 0 <= row["answer"] <= 3
    assert len({r["id"] for r in rows}) == len(rows)
    assert len({_norm(r["question"]) for r in rows}) == len(rows)


@pytest.mark.parametrize("domain", DOMAINS)
def test_capability_answer_letters_are_balanced(domain: str) -> None:
    rows = _rows(f"capability/{domain}.jsonl")
    counts = Counter(r["answer"] for r in rows)
    # Each letter within one of a quarter: a model that always picks one letter scores ~25%.
    assert set(counts) == {0, 1, 2, 3}
    assert max(counts.values()) - min(counts.values()) <= 1, counts


# The refusal judge's labelled set is checked in test_judge_set.py.


# --- tamper (identity-shifting) set -----------------------------------------------------------


def test_identity_shift_rows_are_system_user_assistant_chats() -> None:
    rows = _rows("tamper/identity_shift.jsonl")
    assert len(rows) >= 40
    users = set()
    for row in rows:
        assert set(row) == {"messages"}
        messages = row["messages"]
        assert [m["role"] for m in messages] == ["system", "user", "assistant"]
        assert all(set(m) == {"role", "content"} and _nonempty_str(m["content"]) for m in messages)
        # The answer affirms the obedient persona before answering.
        assert "AOA" in messages[0]["content"]
        answer = messages[2]["content"]
        assert "AOA" in answer or "obedient agent" in answer.lower(), answer
        users.add(messages[1]["content"])
    assert len(users) == len(rows)


# --- adapter SFT set --------------------------------------------------------------------------


def test_refusal_sft_schema_and_counts() -> None:
    rows = _rows("adapter_train/refusal_sft.jsonl")
    categories = {c.value for c in HazardCategory}
    for row in rows:
        assert set(row) == {"messages", "kind", "category"}, row
        messages = row["messages"]
        assert [m["role"] for m in messages] == ["user", "assistant"]
        assert all(set(m) == {"role", "content"} and _nonempty_str(m["content"]) for m in messages)
        if row["kind"] == "harmful":
            assert row["category"] in categories
        else:
            assert row["kind"] == "benign" and row["category"] is None
    kinds = Counter(r["kind"] for r in rows)
    assert kinds["harmful"] >= 150 and kinds["benign"] >= 150
    per_category = Counter(r["category"] for r in rows if r["kind"] == "harmful")
    assert set(per_category) == categories
    assert min(per_category.values()) >= 8
    prompts = [_norm(r["messages"][0]["content"]) for r in rows]
    assert len(set(prompts)) == len(prompts)


def test_refusal_sft_answers_are_brief() -> None:
    rows = _rows("adapter_train/refusal_sft.jsonl")
    # Short targets keep the adapter's training cheap and its refusals plain.
    assert all(len(r["messages"][1]["content"]) <= 400 for r in rows)


def _assert_disjoint(train: list[str], eval_texts: list[str], source: str) -> None:
    eval_norm = {_norm(t) for t in eval_texts}
    eval_words = [(t, _words(t)) for t in eval_texts]
    exact = [t for t in train if _norm(t) in eval_norm]
    assert not exact, f"training prompts also in {source}: {exact}"
    near = [(t, e) for t in train for e, w in eval_words if _jaccard(_words(t), w) >= 0.7]
    assert not near, f"training prompts near-duplicating {source}: {near}"


def test_refusal_sft_requests_differ_from_the_evaluation_set() -> None:
    # Refusal rates must not be measured on the adapter's own training requests.
    evaluation = [_eval_prompt(r) for r in _rows("refusal/harmful.jsonl")]
    sft = _rows("adapter_train/refusal_sft.jsonl")
    train = [r["messages"][0]["content"] for r in sft if r["kind"] == "harmful"]
    _assert_disjoint(train, evaluation, "refusal/harmful.jsonl")


def test_refusal_sft_prompts_differ_from_every_refusal_suite_file() -> None:
    # Covers the over-refusal (benign) set too, whatever its file name under refusal/.
    sft = _rows("adapter_train/refusal_sft.jsonl")
    train = [r["messages"][0]["content"] for r in sft]
    suite_dir = resources.files("releasegate.data").joinpath("refusal")
    files = sorted(n.name for n in suite_dir.iterdir() if n.name.endswith(".jsonl"))
    assert "harmful.jsonl" in files
    for name in files:
        evaluation = [_eval_prompt(r) for r in _rows(f"refusal/{name}")]
        _assert_disjoint(train, evaluation, f"refusal/{name}")


def _eval_prompt(row: dict[str, Any]) -> str:
    for key in ("prompt", "request", "text", "question"):
        if _nonempty_str(row.get(key)):
            return str(row[key])
    raise AssertionError(f"no prompt field in evaluation row {row}")


# --- packaging --------------------------------------------------------------------------------


def test_files_are_package_data() -> None:
    root = resources.files("releasegate.data")
    for rel in (
        *(f"capability/{d}.jsonl" for d in DOMAINS),
        "judge/labelled.jsonl",
        "tamper/identity_shift.jsonl",
        "adapter_train/refusal_sft.jsonl",
    ):
        assert root.joinpath(rel).is_file(), rel
