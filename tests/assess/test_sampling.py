"""Seeded, stratified, recorded samples: `--limit` draws a balanced sample over the categories,
the report records seed, sample ids and dataset hashes, and one seed gives one evidence."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from releasegate.assess import AssessOptions, assess, bundled_path, file_sha256, read_jsonl
from releasegate.assess._data import PromptRow
from releasegate.assess._sampling import SAMPLING_METHOD, stratified_indices
from releasegate.evidence import RiskReport, load_report
from releasegate.settings import Settings
from tests.helpers.cli import run_main

HARMFUL = bundled_path("refusal/harmful.jsonl")
BENIGN = bundled_path("refusal/benign_sensitive.jsonl")


def _rows(path: Path) -> list[PromptRow]:
    return read_jsonl(path, PromptRow).rows


def _stratum(row: PromptRow) -> str:
    return row.category or row.type or ""


@pytest.mark.parametrize("path", [HARMFUL, BENIGN], ids=["harmful", "benign_sensitive"])
def test_limit_of_the_category_count_covers_every_category(path: Path) -> None:
    rows = _rows(path)
    strata = [_stratum(r) for r in rows]
    k = len(set(strata))
    for seed in range(5):
        picked = stratified_indices(strata, k, seed)
        assert len(picked) == k
        assert {strata[i] for i in picked} == set(strata)
    # Below the category count: that many distinct categories; above it: balanced within one.
    assert len({strata[i] for i in stratified_indices(strata, k - 3, 0)}) == k - 3
    counts = Counter(strata[i] for i in stratified_indices(strata, 3 * k + 2, 7))
    assert set(counts) == set(strata) and max(counts.values()) - min(counts.values()) <= 1


def test_the_seed_fixes_the_sample_and_larger_samples_nest() -> None:
    strata = [_stratum(r) for r in _rows(HARMFUL)]
    assert stratified_indices(strata, 20, 3) == stratified_indices(strata, 20, 3)
    assert stratified_indices(strata, 20, 3) != stratified_indices(strata, 20, 4)
    small, large = stratified_indices(strata, 14, 3), stratified_indices(strata, 40, 3)
    assert set(small) <= set(large)
    assert stratified_indices(strata, None, 3) == list(range(len(strata)))
    assert stratified_indices(strata, 10_000, 3) == list(range(len(strata)))
    # Not the first rows (the file is sorted by category).
    assert stratified_indices(strata, 14, 0) != list(range(14))


def _echo_options(tmp_path: Path, seed: int, logs: str) -> AssessOptions:
    return AssessOptions(
        model="echo:",
        suites=("capability", "refusal", "over_refusal", "jailbreak"),
        limit=14,
        capability_limit=5,
        jailbreak_prompts=3,
        max_tokens=16,
        seed=seed,
        log_dir=tmp_path / logs,
    )


def _evidence(report: RiskReport) -> dict[str, tuple[float, int, list[str] | None]]:
    return {e.id: (e.value, e.n, e.sample_ids) for e in report.evidence}


def test_the_real_assessment_twice_with_one_seed_gives_the_same_evidence(
    tmp_path: Path, bundled_settings: Settings
) -> None:
    first = assess(_echo_options(tmp_path, 11, "a"), bundled_settings)
    second = assess(_echo_options(tmp_path, 11, "b"), bundled_settings)  # nothing reused
    assert not first.coverage.failed, first.coverage.failed
    assert _evidence(first) == _evidence(second)
    assert first.sampling == second.sampling
    sampling = first.sampling
    assert sampling is not None
    assert (sampling.seed, sampling.method, sampling.limit) == (11, SAMPLING_METHOD, 14)
    assert sampling.capability_limit == 5
    assert sampling.datasets["releasegate/refusal/harmful"] == file_sha256(HARMFUL)
    assert sampling.datasets["releasegate/refusal/benign_sensitive"] == file_sha256(BENIGN)
    assert sampling.datasets["releasegate/capability/cbrn"] == file_sha256(
        bundled_path("capability/cbrn.jsonl")
    )

    by_id = {e.id: e for e in first.evidence}
    harmful = {str(r.id): _stratum(r) for r in _rows(HARMFUL)}
    benign = {str(r.id): _stratum(r) for r in _rows(BENIGN)}
    pre = by_id["refusal_rate/pre_mitigation"].sample_ids or []
    assert len(pre) == 14 and {harmful[i] for i in pre} == set(harmful.values())
    over = by_id["over_refusal_rate/post_mitigation"].sample_ids or []
    assert len(over) == 14 and {benign[i] for i in over} == set(benign.values())
    jail = by_id["jailbreak_asr/post_mitigation"]
    assert jail.sample_ids is not None and len(jail.sample_ids) == 3
    assert len({harmful[i.split("/", 1)[1]] for i in jail.sample_ids}) == 3
    for item in first.evidence:
        assert item.sample_ids is not None and len(item.sample_ids) == item.n

    # Another seed draws other samples.
    other = assess(_echo_options(tmp_path, 12, "c"), bundled_settings)
    other_pre = {e.id: e for e in other.evidence}["refusal_rate/pre_mitigation"].sample_ids
    assert other_pre is not None and set(other_pre) != set(pre)
    assert {harmful[i] for i in other_pre} == set(harmful.values())


def test_the_cli_records_the_default_seed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "r.json"
    monkeypatch.setenv("RELEASEGATE_DATA_DIR", str(tmp_path / "data"))
    result = run_main(
        ["assess", "echo:", "--suite", "refusal", "--limit", "3", "--out", str(out)],
        capsys,
        monkeypatch,
    )
    assert result.code == 0, result.out + result.err
    report = load_report(out)
    assert report.sampling is not None and report.sampling.seed == 0
    assert report.sampling.limit == 3
    item = next(e for e in report.evidence if e.id == "refusal_rate/pre_mitigation")
    assert item.sample_ids is not None and len(item.sample_ids) == 3
