"""Small helpers around torch and peft that the local backend and fine-tuning share."""

from __future__ import annotations

import contextlib
import ctypes
import gc
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager


def resolve_device(device: str) -> str:
    """'auto' -> 'cuda' when torch sees a GPU, else 'cpu'; anything else is passed through."""
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def release_memory() -> None:
    """Collect garbage, then hand freed heap pages back to the OS (glibc's `malloc_trim`).

    Without the trim, the hundreds of MB of a freed model or fine-tuning run stay in the process
    (glibc keeps freed memory for reuse) and the next model is loaded on top of them.
    """
    gc.collect()
    if sys.platform.startswith("linux"):
        # Another C library (musl) has no malloc_trim: nothing to hand back then.
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL("libc.so.6").malloc_trim(0)


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


__all__ = ["quiet_peft", "release_memory", "resolve_device"]
