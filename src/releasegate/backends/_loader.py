"""`load_backend(spec)`: turn a model spec string into a `ModelBackend`.

The spec's prefix names a backend factory in the `BACKENDS` registry, fed by the entry-point
group `releasegate.backends`: the built-ins (`echo:`, `bundled:`, `hf:`, `openai:`) are declared
there by releasegate itself, and a third party adds a prefix the same way. A factory is a
callable `(spec: str, settings: Settings) -> ModelBackend`.
"""

from __future__ import annotations

from collections.abc import Callable

from releasegate.backends._base import ModelBackend
from releasegate.errors import InputError, Problem
from releasegate.plugins import PluginError, Registry
from releasegate.settings import Settings

ENTRY_POINT_GROUP = "releasegate.backends"

BackendFactory = Callable[[str, Settings], ModelBackend]

BACKENDS: Registry[BackendFactory] = Registry("backend", ENTRY_POINT_GROUP, callable)
"""Backend factories by spec prefix."""

# Specs whose prefix names the form without a value (echo: serves the model id "echo").
_BARE_OK = {"echo"}


def _accepted_forms() -> str:
    forms = []
    for name in BACKENDS.names():
        try:
            doc = (BACKENDS.get(name).__doc__ or "").strip().splitlines()
        except PluginError:
            doc = []
        forms.append(doc[0] if doc else f"{name}:...")
    return "; ".join(forms)


def _bad(spec: str, message: str) -> InputError:
    return InputError(spec, [Problem(f"{message}. Accepted model specs: {_accepted_forms()}")])


def load_backend(spec: str, settings: Settings) -> ModelBackend:
    """Build the backend a spec names (loading a local model takes about a second).

    Args:
        spec: `echo:`, `bundled:smollm2`, `bundled:smollm2-guarded`, `hf:PATH`,
            `openai:BASE_URL#MODEL`, or `PREFIX:...` of an installed plugin.
        settings: device, model cache and upstream options.

    Returns:
        A ready `ModelBackend`; close it with `await backend.aclose()`.

    Raises:
        InputError: unknown spec form, unknown bundled model, a missing model directory, or a
            plugin that did not return a `ModelBackend`.
        BackendError: the model could not be loaded.
    """
    prefix, sep, rest = spec.partition(":")
    if not sep or (not rest and prefix not in _BARE_OK):
        raise _bad(spec, "not a model spec (PREFIX:VALUE)")
    if prefix not in BACKENDS:
        raise _bad(spec, f"unknown model spec prefix {prefix!r}")
    try:
        factory = BACKENDS.get(prefix)
    except PluginError as exc:
        raise _bad(spec, str(exc)) from exc
    try:
        backend = factory(spec, settings)
    except InputError as exc:
        raise _bad(spec, "; ".join(p.message for p in exc.problems)) from exc
    if not isinstance(backend, ModelBackend):
        raise _bad(spec, f"the {prefix!r} factory did not return a ModelBackend")
    return backend


__all__ = ["BACKENDS", "ENTRY_POINT_GROUP", "BackendFactory", "load_backend"]
