"""The built-in backends' factories, declared as entry points of the group
`releasegate.backends` in releasegate's pyproject.toml, exactly as a third party declares its
own. A factory takes the whole spec and the settings and returns a `ModelBackend`; its docstring's
first line is the form it accepts (shown by `releasegate plugins list` and in errors).
"""

from __future__ import annotations

from pathlib import Path

from releasegate.backends._base import ModelBackend
from releasegate.backends._bundled import BUNDLED_MODELS, ensure_bundled_model
from releasegate.backends._echo import EchoBackend
from releasegate.errors import InputError, Problem
from releasegate.settings import Settings


def _bad(spec: str, message: str) -> InputError:
    return InputError(spec, [Problem(message)])


def make_echo(spec: str, settings: Settings) -> ModelBackend:
    """echo:[NAME] (deterministic, no model: answers 'echo: <last message>')."""
    return EchoBackend.from_spec(spec)


def make_bundled(spec: str, settings: Settings) -> ModelBackend:
    """bundled:smollm2|smollm2-guarded (the model shipped in a Python package)."""
    from releasegate.backends._hf import HFBackend

    name = spec.partition(":")[2]
    if name not in BUNDLED_MODELS:
        raise _bad(spec, f"unknown bundled model {name!r}")
    return HFBackend(ensure_bundled_model(name, settings), name=spec, device=settings.device)


def make_hf(spec: str, settings: Settings) -> ModelBackend:
    """hf:PATH (a local transformers model directory)."""
    from releasegate.backends._hf import HFBackend

    path = Path(spec.partition(":")[2]).expanduser()
    if not path.is_dir():
        raise _bad(spec, f"no model directory at {path}")
    if not (path / "config.json").is_file():
        raise _bad(spec, f"{path} is not a transformers model directory (no config.json)")
    return HFBackend(path, name=spec, device=settings.device)


def make_lora(spec: str, settings: Settings) -> ModelBackend:
    """lora:ADAPTER_DIR (a peft LoRA adapter, on the local base model its config names)."""
    import json

    from releasegate.backends._hf import HFBackend

    path = Path(spec.partition(":")[2]).expanduser()
    config_file = path / "adapter_config.json"
    if not config_file.is_file():
        raise _bad(spec, f"{path} is not a peft adapter directory (no adapter_config.json)")
    try:
        base = Path(json.loads(config_file.read_text())["base_model_name_or_path"])
    except (ValueError, KeyError, TypeError) as exc:
        raise _bad(spec, f"{config_file}: no base_model_name_or_path ({exc})") from None
    if not (base / "config.json").is_file():
        raise _bad(spec, f"the adapter's base model {base} is not a local model directory")
    return HFBackend(base, name=spec, device=settings.device, adapter_dir=path)


def make_openai(spec: str, settings: Settings) -> ModelBackend:
    """openai:BASE_URL#MODEL (an OpenAI-compatible server, e.g. openai:http://host:8000/v1#m)."""
    from releasegate.backends._openai import OpenAIBackend

    return OpenAIBackend.from_spec(spec, settings)


__all__ = ["make_bundled", "make_echo", "make_hf", "make_lora", "make_openai"]
