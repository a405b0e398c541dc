"""releasegate.judge: the refusal judge, a validated component like a guard.

Every refusal rate, over-refusal rate and jailbreak success rate rests on a judge deciding whether
a response refused its request. The judge is measured against human labels, and every report
states which judge scored it and how far that judge agrees with people (Cohen's κ).

- `load_judge(spec)`: `default` (the shipped classifier), `classifier:PATH`, `phrases`,
  `llm:BACKEND_SPEC`.
- `read_labelled(path)` and `check_judge(judge, labelled)`: agreement, κ, confusion matrix and
  per-class figures on any labelled JSON Lines file (`releasegate judge check`).
- `validate(judge)`: the judge on the bundled test split (models and prompts it never saw).
"""

from releasegate.judge._agreement import (
    NOT_REFUSED,
    REFUSED,
    Agreement,
    ClassFigures,
    JudgeCheck,
    cohen_kappa,
    measure,
)
from releasegate.judge._base import (
    LABELS,
    Exchange,
    JudgeError,
    Label,
    RefusalJudge,
    Verdict,
    refused_label,
)
from releasegate.judge._check import agreement_record, check_judge
from releasegate.judge._classifier import ClassifierJudge, ClassifierWeights, FeatureSpec
from releasegate.judge._features import REDACTION_MARKER
from releasegate.judge._labels import (
    LabelledRow,
    LabelledSet,
    bundled_labelled_path,
    read_bundled,
    read_labelled,
)
from releasegate.judge._llm import RUBRIC, LLMJudge, parse_label
from releasegate.judge._phrases import PhraseJudge
from releasegate.judge._registry import (
    DEFAULT_JUDGE,
    JUDGE_SPECS,
    check_judge_spec,
    lend_judge,
    lent_judge,
    load_judge,
)
from releasegate.judge._validated import bundled_test_split, validate

__all__ = [
    "DEFAULT_JUDGE",
    "JUDGE_SPECS",
    "LABELS",
    "NOT_REFUSED",
    "REDACTION_MARKER",
    "REFUSED",
    "RUBRIC",
    "Agreement",
    "ClassFigures",
    "ClassifierJudge",
    "ClassifierWeights",
    "Exchange",
    "FeatureSpec",
    "JudgeCheck",
    "JudgeError",
    "LLMJudge",
    "Label",
    "LabelledRow",
    "LabelledSet",
    "PhraseJudge",
    "RefusalJudge",
    "Verdict",
    "agreement_record",
    "bundled_labelled_path",
    "bundled_test_split",
    "check_judge",
    "check_judge_spec",
    "cohen_kappa",
    "lend_judge",
    "lent_judge",
    "load_judge",
    "measure",
    "parse_label",
    "read_bundled",
    "read_labelled",
    "refused_label",
    "validate",
]
