"""releasegate.assess: evaluation suites on Inspect, the tamper sweep, marginal risk, and the
`RiskReport` they produce.

`assess(AssessOptions(model="bundled:smollm2-guarded", limit=4))` runs every suite and returns
the report. The suites are ordinary Inspect tasks (`releasegate/capability_mcq`,
`releasegate/refusal`, `releasegate/over_refusal`, `releasegate/jailbreak`) and every model is
reached through the Inspect provider `releasegate/<backend spec>`.
"""

from releasegate.assess._assess import assess, assess_async
from releasegate.assess._attacks import TRANSFORMS
from releasegate.assess._data import (
    Dataset,
    MCQRow,
    PromptRow,
    bundled_path,
    file_sha256,
    read_jsonl,
)
from releasegate.assess._decidable import (
    FIRST_ROUND,
    assess_until_decidable,
    undecided_indicators,
)
from releasegate.assess._job import probe
from releasegate.assess._options import (
    CAPABILITY_DOMAINS,
    DEFAULT_TAMPER,
    QUICK_TAMPER,
    SUITES,
    TAMPER_SWEEPS,
    THROUGH_KEY_ENV,
    AssessOptions,
    Progress,
    TamperConfig,
)
from releasegate.assess._posttune import GateSize, measure_safeguards, posttune_gate
from releasegate.assess._runner import SuiteFailed, TaskRun, read_run, run_key
from releasegate.assess._stats import bootstrap_uplift_ci, mean_stderr

__all__ = [
    "CAPABILITY_DOMAINS",
    "DEFAULT_TAMPER",
    "FIRST_ROUND",
    "QUICK_TAMPER",
    "SUITES",
    "TAMPER_SWEEPS",
    "THROUGH_KEY_ENV",
    "TRANSFORMS",
    "AssessOptions",
    "Dataset",
    "GateSize",
    "MCQRow",
    "Progress",
    "PromptRow",
    "SuiteFailed",
    "TamperConfig",
    "TaskRun",
    "assess",
    "assess_async",
    "assess_until_decidable",
    "bootstrap_uplift_ci",
    "bundled_path",
    "file_sha256",
    "mean_stderr",
    "measure_safeguards",
    "posttune_gate",
    "probe",
    "read_jsonl",
    "read_run",
    "run_key",
    "undecided_indicators",
]
