"""How many steps a job trains: OpenAI's hyperparameters turned into a bounded LoRA run."""

from __future__ import annotations

import math
from typing import Any

from releasegate.errors import InputError, Problem

BASE_LEARNING_RATE = 1e-3  # the bundled refusal adapter's rate (scripts/train_refusal_adapter.py)
AUTO_EPOCHS = 1
AUTO_BATCH = 4


def plan_run(hyperparameters: dict[str, Any], examples: int, max_steps: int) -> dict[str, Any]:
    """Resolve "auto" values and count the optimizer steps, capped at the tier's `max_steps`.

    Args:
        hyperparameters: `n_epochs`, `batch_size`, `learning_rate_multiplier` (each a value or
            "auto"; missing means "auto").
        examples: examples in the training file.
        max_steps: the tier's `fine_tuning_max_steps`.

    Returns:
        The resolved hyperparameters plus `steps` and `learning_rate`.

    Raises:
        InputError: a value out of range (named by its field path).
    """
    problems = []
    epochs = hyperparameters.get("n_epochs", "auto")
    batch = hyperparameters.get("batch_size", "auto")
    mult = hyperparameters.get("learning_rate_multiplier", "auto")
    epochs = AUTO_EPOCHS if epochs == "auto" else epochs
    batch = min(AUTO_BATCH, max(1, examples)) if batch == "auto" else batch
    mult = 1.0 if mult == "auto" else float(mult)
    if not 1 <= epochs <= 10:
        problems.append(Problem("must be 1..10", path="hyperparameters.n_epochs"))
    if not 1 <= batch <= 32:
        problems.append(Problem("must be 1..32", path="hyperparameters.batch_size"))
    if not 0 < mult <= 10:
        problems.append(
            Problem("must be in (0, 10]", path="hyperparameters.learning_rate_multiplier")
        )
    if problems:
        raise InputError("fine-tuning job", problems)
    steps = min(max_steps, max(1, math.ceil(examples / batch) * epochs))
    return {
        "n_epochs": epochs,
        "batch_size": batch,
        "learning_rate_multiplier": mult,
        "steps": steps,
        "learning_rate": BASE_LEARNING_RATE * mult,
    }


__all__ = ["BASE_LEARNING_RATE", "plan_run"]
