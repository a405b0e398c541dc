"""Fine-tuning through the API: training files and their screening, jobs in a store-backed
queue, the LoRA worker and the post-tune safety gate's contract.

The gateway's `/v1/files` and `/v1/fine_tuning/jobs` routes call `FineTuneStore` and
`screen_examples`; `releasegate finetune worker` runs `Worker`, which trains with the local
backend's LoRA code and hands each tuned model to a `SafetyGate` before it is served.
"""

from releasegate.finetune._files import Example, FileLimits, TrainingFile, parse_training_file
from releasegate.finetune._gate import (
    GateOutcome,
    GateThresholds,
    SafetyGate,
    compare,
    thresholds_from_decision,
    tier_of,
)
from releasegate.finetune._plan import BASE_LEARNING_RATE, plan_run
from releasegate.finetune._screen import (
    FlaggedLine,
    ScreeningPolicy,
    ScreeningReport,
    screen_examples,
)
from releasegate.finetune._store import (
    FINISHED,
    JOB_STATES,
    EventRecord,
    FileRecord,
    FineTuneStore,
    JobRecord,
    NotFoundError,
    StateError,
)
from releasegate.finetune._worker import Worker, WorkerConfig, fine_tuned_name, organization

__all__ = [
    "BASE_LEARNING_RATE",
    "FINISHED",
    "JOB_STATES",
    "EventRecord",
    "Example",
    "FileLimits",
    "FileRecord",
    "FineTuneStore",
    "FlaggedLine",
    "GateOutcome",
    "GateThresholds",
    "JobRecord",
    "NotFoundError",
    "SafetyGate",
    "ScreeningPolicy",
    "ScreeningReport",
    "StateError",
    "TrainingFile",
    "Worker",
    "WorkerConfig",
    "compare",
    "fine_tuned_name",
    "organization",
    "parse_training_file",
    "plan_run",
    "screen_examples",
    "thresholds_from_decision",
    "tier_of",
]
