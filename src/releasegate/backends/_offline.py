"""Keep Hugging Face libraries off the network.

releasegate loads models only from local directories; no code path may download weights. Setting
the offline switches before `transformers`/`huggingface_hub` are first imported makes any stray
hub lookup fail fast instead of waiting on a network timeout. Every load also passes
`local_files_only=True`, which holds even when the libraries were imported earlier.
"""

from __future__ import annotations

import os


def force_offline() -> None:
    """Set the Hugging Face offline switches (idempotent; respects an explicit user value)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    # Conversion and loading draw tqdm bars (carriage returns in a log); `assess` shows its own
    # progress.
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    # transformers prints one advisory line per process about missing optional accelerators.
    os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
