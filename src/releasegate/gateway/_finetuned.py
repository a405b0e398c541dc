"""Serving fine-tuned models (`ft:<base>:<org>:<id>`) to their owners' keys only.

A succeeded job's model is loaded on first use from the adapter its worker wrote (a `lora:`
backend spec), kept among the `finetune_max_loaded_models` most recently used, and answers through
the same pipeline as the base model: the same tier checks, quotas, guards and audit. A name that
is not the caller's owner's (or not a succeeded job's) is the same 404 as a missing model, so ids
of other owners' models are never confirmed.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from typing import Any

from releasegate.backends import load_backend
from releasegate.backends._base import ModelBackend
from releasegate.finetune import FineTuneStore, organization
from releasegate.settings import Settings

PREFIX = "ft:"
_SPEC_TTL_S = 5.0  # a succeeded job's artifact does not change; ownership lookups are cached


class FineTunedModels:
    """Resolves and loads the fine-tuned models of a gateway.

    Args:
        store: the jobs' store.
        settings: for loading backends (device, model cache) and the cache size.
        base_name: the served base model's name (an `ft:` name must build on it).
    """

    def __init__(self, store: FineTuneStore, settings: Settings, base_name: str) -> None:
        self.store = store
        self.settings = settings
        self.base_name = base_name
        self._specs: dict[tuple[str, str], tuple[float, str | None]] = {}
        self._loaded: OrderedDict[str, ModelBackend] = OrderedDict()
        self._lock = asyncio.Lock()

    def spec_for(self, name: str, owner: str) -> str | None:
        """The backend spec of `owner`'s fine-tuned model `name`, or None."""
        if not name.startswith(f"{PREFIX}{self.base_name}:"):
            return None
        key = (name, owner)
        now = time.monotonic()
        hit = self._specs.get(key)
        if hit is not None and now - hit[0] < _SPEC_TTL_S:
            return hit[1]
        job = self.store.served_model(name, owner)
        spec = job.artifact if job is not None else None
        self._specs[key] = (now, spec)
        return spec

    async def backend(self, spec: str) -> ModelBackend:
        """The loaded backend of `spec` (loaded off the event loop on first use)."""
        async with self._lock:
            backend = self._loaded.get(spec)
            if backend is not None:
                self._loaded.move_to_end(spec)
                return backend
            backend = await asyncio.to_thread(load_backend, spec, self.settings)
            self._loaded[spec] = backend
            while len(self._loaded) > self.settings.finetune_max_loaded_models:
                _, old = self._loaded.popitem(last=False)
                await old.aclose()
            return backend

    def listing(self, owner: str) -> list[dict[str, Any]]:
        """`/v1/models` entries of `owner`'s fine-tuned models."""
        return [
            {
                "id": job.fine_tuned_model,
                "object": "model",
                "created": int((job.finished_at or job.created_at).timestamp()),
                "owned_by": organization(owner),
            }
            for job in self.store.owned_models(owner)
            if job.fine_tuned_model and job.model == self.base_name
        ]

    async def aclose(self) -> None:
        async with self._lock:
            while self._loaded:
                _, backend = self._loaded.popitem()
                await backend.aclose()


__all__ = ["PREFIX", "FineTunedModels"]
