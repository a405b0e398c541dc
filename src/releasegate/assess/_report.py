"""Pieces of the `RiskReport` that `assess` writes: identity, versions, evidence items."""

from __future__ import annotations

import hashlib
import importlib.metadata
from pathlib import Path
from typing import Any

from releasegate.assess._runner import TaskRun
from releasegate.backends import ModelBackend
from releasegate.evidence import (
    ConfidenceInterval,
    DatasetRef,
    EvidenceItem,
    ModelIdentity,
    wilson_interval,
    worst_case_interval,
)
from releasegate.vocab import Condition

_TOOLS = {
    "releasegate": "releasegate",
    "inspect_ai": "inspect_ai",
    "transformers": "transformers",
    "torch": "torch",
    "peft": "peft",
}


def tool_versions() -> dict[str, str]:
    """Installed versions of the tools a measurement depends on."""
    out = {}
    for key, dist in _TOOLS.items():
        try:
            out[key] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            out[key] = "not installed"
    return out


def weights_sha256(model_dir: Path) -> str:
    """SHA-256 over a model directory's weight files (name and bytes, in name order)."""
    digest = hashlib.sha256()
    files = sorted(model_dir.glob("*.safetensors")) or sorted(model_dir.glob("*.bin"))
    for path in files:
        digest.update(path.name.encode())
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 22), b""):
                digest.update(block)
    return digest.hexdigest()


def local_model_dir(backend: ModelBackend) -> Path | None:
    """The weights directory of a local backend (None for remote ones)."""
    path = getattr(backend, "model_dir", None)
    return Path(path) if path is not None else None


def model_identity(spec: str, backend: ModelBackend) -> ModelIdentity:
    """Who was measured: the spec, its fingerprint (what `serve` checks), its weights' hash."""
    from releasegate.backends import model_fingerprint

    fingerprint = model_fingerprint(spec).value
    directory = local_model_dir(backend)
    if directory is None:
        return ModelIdentity(name=spec, fingerprint=fingerprint)
    model = getattr(backend, "model", None)
    count = sum(int(p.numel()) for p in model.parameters()) if model is not None else None
    return ModelIdentity(
        name=spec,
        weights_sha256=weights_sha256(directory),
        parameter_count=count,
        fingerprint=fingerprint,
    )


def wilson_ci(successes: float, n: int) -> ConfidenceInterval | None:
    """Wilson score 95% interval of a proportion (Wilson 1927); None without samples."""
    bounds = wilson_interval(successes, n)
    return ConfidenceInterval(low=bounds[0], high=bounds[1]) if bounds is not None else None


def worst_case_ci(score_lists: list[list[float]], direction: str) -> ConfidenceInterval | None:
    """Bonferroni-corrected interval of the worst of several rates (`worst_case_interval`)."""
    bounds = worst_case_interval([(sum(s), len(s)) for s in score_lists], direction)
    return ConfidenceInterval(low=bounds[0], high=bounds[1]) if bounds is not None else None


def dataset_ref(run: TaskRun, *, proxy: bool | None = None) -> DatasetRef | None:
    sha = run.metadata.get("dataset_sha256")
    name = run.metadata.get("dataset_name") or run.metadata.get("dataset") or run.task
    return DatasetRef(
        name=str(name),
        sha256=str(sha) if sha else None,
        demonstration_proxy=bool(
            proxy if proxy is not None else run.metadata.get("demonstration_proxy", False)
        ),
    )


def evidence_from_run(
    run: TaskRun,
    *,
    id: str,
    metric: str,
    condition: Condition,
    domain: str | None = None,
    attack: dict[str, Any] | None = None,
    judge: str | None = None,
    scores: list[float] | None = None,
    sample_ids: list[str] | None = None,
    dataset: DatasetRef | None = None,
    worst_of: list[list[float]] | None = None,
    worse: str = "higher_is_worse",
) -> EvidenceItem:
    """An evidence item for a run's mean score (or for `scores`, a subset of its samples,
    whose ids are `sample_ids`).

    With `worst_of` (the scores of every configuration the value is the worst of, `worse`
    saying which end is worse), the interval is the Bonferroni one of that maximum.
    """
    values = scores if scores is not None else run.scores
    n = len(values)
    value = sum(values) / n if n else 0.0
    binary = all(v in (0.0, 1.0) for v in values)
    from releasegate.assess._stats import mean_stderr

    ci, method, comparisons = None, None, None
    if binary and worst_of is not None and len(worst_of) > 1:
        ci, method, comparisons = worst_case_ci(worst_of, worse), "exact-bonferroni", len(worst_of)
    elif binary:
        ci, method = wilson_ci(sum(values), n), "wilson"

    return EvidenceItem(
        id=id,
        task=run.task,
        domain=domain,
        metric=metric,
        condition=condition,
        value=value,
        stderr=mean_stderr(values),
        ci95=ci,
        ci_method=method if ci is not None else None,
        ci_comparisons=comparisons,
        n=n,
        sample_ids=list(sample_ids if sample_ids is not None else run.sample_ids),
        dataset=dataset or dataset_ref(run),
        attack=attack,
        judge=judge,
        log_path=str(run.log_path),
        log_sha256=run.log_sha256,
        # Measured here, by `assess`; a proxy dataset makes it demonstration_proxy regardless.
        evidence_kind="benchmark",
    )


__all__ = [
    "dataset_ref",
    "evidence_from_run",
    "local_model_dir",
    "model_identity",
    "tool_versions",
    "weights_sha256",
    "wilson_ci",
    "worst_case_ci",
]
