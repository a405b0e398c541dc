"""Small helpers around torch and peft that the local backend and fine-tuning share."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager


def resolve_device(device: str) -> str:
    """'auto' -> 'cuda' when torch sees a GPU, else 'cpu'; anything else is passed through."""
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


@contextmanager
def quiet_peft() -> Iterator[None]:
    """Silence one known deprecation warning peft triggers in transformers 5 (peft reads
    `is_gradient_checkpointing`); nothing we can change, and the test suite treats warnings as
    errors."""
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning
        )
        yield


__all__ = ["quiet_peft", "resolve_device"]
