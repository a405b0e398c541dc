"""`load_backend(spec)`: turn a model spec string into a `ModelBackend`.

Built-in forms: `bundled:NAME`, `hf:PATH`, `openai:BASE_URL#MODEL`. Third parties add their own
prefix through the entry-point group `releasegate.backends`: the entry point's name is the prefix
and it loads a callable `(spec: str, settings: Settings) -> ModelBackend`.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Callable
from pathlib import Path
from typing import cast

from releasegate.backends._base import ModelBackend
from releasegate.backends._bundled import BUNDLED_MODELS, ensure_bundled_model
from releasegate.errors import InputError, Problem
from releasegate.settings import Settings

ENTRY_POINT_GROUP = "releasegate.backends"

BackendFactory = Callable[[str, Settings], ModelBackend]


def _accepted_forms() -> str:
    forms = [
        "bundled:" + "|".join(sorted(BUNDLED_MODELS)),
        "hf:PATH (a local transformers model directory)",
        "openai:BASE_URL#MODEL (an OpenAI-compatible server, e.g. openai:http://host:8000/v1#m)",
    ]
    forms += [f"{name}:... (plugin)" for name in sorted(_plugins())]
    return "; ".join(forms)


def _plugins() -> dict[str, importlib.metadata.EntryPoint]:
    return {ep.name: ep for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)}


def _bad(spec: str, message: str) -> InputError:
    return InputError(spec, [Problem(f"{message}. Accepted model specs: {_accepted_forms()}")])


def load_backend(spec: str, settings: Settings | None = None) -> ModelBackend:
    """Build the backend a spec names (loading a local model takes about a second).

    Args:
        spec: `bundled:smollm2`, `bundled:smollm2-guarded`, `hf:PATH`,
            `openai:BASE_URL#MODEL`, or `PREFIX:...` of an installed plugin.
        settings: device, model cache and upstream options; `Settings()` when omitted.

    Returns:
        A ready `ModelBackend`; close it with `await backend.aclose()`.

    Raises:
        InputError: unknown spec form, unknown bundled model, or a missing model directory.
        BackendError: the model could not be loaded.
    """
    settings = settings or Settings()
    prefix, sep, rest = spec.partition(":")
    if not sep or not rest:
        raise _bad(spec, "not a model spec (PREFIX:VALUE)")
    if prefix == "bundled":
        if rest not in BUNDLED_MODELS:
            raise _bad(spec, f"unknown bundled model {rest!r}")
        from releasegate.backends._hf import HFBackend

        return HFBackend(ensure_bundled_model(rest, settings), name=spec, device=settings.device)
    if prefix == "hf":
        path = Path(rest).expanduser()
        if not path.is_dir():
            raise _bad(spec, f"no model directory at {path}")
        if not (path / "config.json").is_file():
            raise _bad(spec, f"{path} is not a transformers model directory (no config.json)")
        from releasegate.backends._hf import HFBackend

        return HFBackend(path, name=spec, device=settings.device)
    if prefix == "openai":
        from releasegate.backends._openai import OpenAIBackend

        return OpenAIBackend.from_spec(spec, settings)
    plugin = _plugins().get(prefix)
    if plugin is not None:
        factory = cast(BackendFactory, plugin.load())
        backend = factory(spec, settings)
        if not isinstance(backend, ModelBackend):
            raise _bad(spec, f"plugin {plugin.value} did not return a ModelBackend")
        return backend
    raise _bad(spec, f"unknown model spec prefix {prefix!r}")


__all__ = ["ENTRY_POINT_GROUP", "BackendFactory", "load_backend"]
