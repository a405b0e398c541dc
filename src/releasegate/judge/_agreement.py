"""How far a judge agrees with human labels: raw agreement, Cohen's κ, confusion, per class.

The judge decides refused / not refused; human labels have three classes, and `partial` counts as
not refused. Cohen's κ (Cohen 1960) is the agreement beyond what the two sides' marginals give by
chance, (p_o − p_e) / (1 − p_e); when both sides put every row in one class, p_e = 1 and κ is
undefined (reported as None, never as a perfect score).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from releasegate.judge._base import LABELS, Label, refused_label

REFUSED = "refusal"
NOT_REFUSED = "not_refused"


def cohen_kappa(truth: Sequence[bool], judged: Sequence[bool]) -> float | None:
    """Cohen's κ of two binary labellings of the same items (None when undefined).

    Args:
        truth: the human labels (True: refused).
        judged: the judge's labels, in the same order.

    Returns:
        κ in [-1, 1], or None when there are no items or chance agreement is 1.
    """
    n = len(truth)
    if n == 0 or n != len(judged):
        return None
    observed = sum(t == j for t, j in zip(truth, judged, strict=True)) / n
    p_truth = sum(truth) / n
    p_judged = sum(judged) / n
    chance = p_truth * p_judged + (1 - p_truth) * (1 - p_judged)
    if chance >= 1.0:
        return None
    return (observed - chance) / (1 - chance)


def _ratio(num: int, den: int) -> float | None:
    return num / den if den else None


@dataclass(frozen=True)
class ClassFigures:
    """One class's figures. For `compliance` and `partial` the judge has no class of its own,
    so only recall (the share it judged not refused) is defined."""

    n: int
    judged: int | None
    precision: float | None
    recall: float | None
    f1: float | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "judged": self.judged,
            "precision": self.precision,
            "recall": self.recall,
            "f1": self.f1,
        }


def _f1(p: float | None, r: float | None) -> float | None:
    if p is None or r is None or p + r == 0:
        return None
    return 2 * p * r / (p + r)


@dataclass(frozen=True)
class Agreement:
    """A judge against human labels on one set of rows."""

    n: int
    agreement: float
    kappa: float | None
    confusion: dict[str, dict[str, int]]
    per_class: dict[str, ClassFigures]

    def as_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "agreement": self.agreement,
            "kappa": self.kappa,
            "confusion": self.confusion,
            "per_class": {k: v.as_dict() for k, v in self.per_class.items()},
        }


def measure(labels: Sequence[Label], refused: Sequence[bool]) -> Agreement:
    """Compare a judge's decisions with human labels.

    Args:
        labels: the human labels.
        refused: the judge's decision per row, in the same order.

    Returns:
        Agreement, κ, the confusion matrix (human label → judged refusal / not_refused) and
        per-class figures: precision, recall and F1 of `refusal` and `not_refused`, and recall of
        `compliance` and `partial`.
    """
    if len(labels) != len(refused):
        raise ValueError(f"{len(labels)} labels but {len(refused)} decisions")
    truth = [refused_label(lab) for lab in labels]
    n = len(labels)
    agree = sum(t == j for t, j in zip(truth, refused, strict=True))
    confusion: dict[str, dict[str, int]] = {lab: {REFUSED: 0, NOT_REFUSED: 0} for lab in LABELS}
    for lab, j in zip(labels, refused, strict=True):
        confusion[lab][REFUSED if j else NOT_REFUSED] += 1
    tp = confusion["refusal"][REFUSED]
    judged_refused = sum(refused)
    n_refused = sum(truth)
    tn = n - n_refused - sum(confusion[lab][REFUSED] for lab in LABELS if lab != "refusal")
    p_ref, r_ref = _ratio(tp, judged_refused), _ratio(tp, n_refused)
    p_not, r_not = _ratio(tn, n - judged_refused), _ratio(tn, n - n_refused)
    per_class = {
        REFUSED: ClassFigures(n_refused, judged_refused, p_ref, r_ref, _f1(p_ref, r_ref)),
        NOT_REFUSED: ClassFigures(
            n - n_refused, n - judged_refused, p_not, r_not, _f1(p_not, r_not)
        ),
    }
    for lab in LABELS[1:]:
        count = sum(confusion[lab].values())
        per_class[lab] = ClassFigures(
            count, None, None, _ratio(confusion[lab][NOT_REFUSED], count), None
        )
    return Agreement(
        n=n,
        agreement=agree / n if n else 0.0,
        kappa=cohen_kappa(truth, refused),
        confusion=confusion,
        per_class=per_class,
    )


def grouped(
    labels: Sequence[Label],
    refused: Sequence[bool],
    keys: Sequence[str | None],
) -> dict[str, Agreement]:
    """`measure` per group (rows whose key is None are left out)."""
    groups: dict[str, list[int]] = {}
    for i, key in enumerate(keys):
        if key is not None:
            groups.setdefault(key, []).append(i)
    return {
        key: measure([labels[i] for i in idx], [refused[i] for i in idx])
        for key, idx in sorted(groups.items())
    }


@dataclass(frozen=True)
class JudgeCheck:
    """A judge checked against a labelled file: overall and per group, with the misjudged rows."""

    judge: str
    labelled_set: str
    sha256: str
    overall: Agreement
    groups: dict[str, dict[str, Agreement]] = field(default_factory=dict)
    misjudged: list[dict[str, Any]] = field(default_factory=list)
    seconds_per_response: float | None = None

    @property
    def n(self) -> int:
        return self.overall.n

    @property
    def kappa_harmful(self) -> float | None:
        """κ on the rows whose request is harmful (None when the file does not say)."""
        harmful = self.groups.get("prompt", {}).get("harmful")
        return harmful.kappa if harmful is not None else None

    def as_dict(self) -> dict[str, Any]:
        """The figures as one JSON-ready object (top-level `n`, `agreement`, `kappa`)."""
        return {
            "judge": self.judge,
            "labelled_set": self.labelled_set,
            "sha256": self.sha256,
            **self.overall.as_dict(),
            "groups": {
                name: {key: a.as_dict() for key, a in by.items()}
                for name, by in self.groups.items()
            },
            "misjudged": self.misjudged,
            "seconds_per_response": self.seconds_per_response,
        }


__all__ = [
    "NOT_REFUSED",
    "REFUSED",
    "Agreement",
    "ClassFigures",
    "JudgeCheck",
    "cohen_kappa",
    "grouped",
    "measure",
]
