"""What a model is, for checking that the model served is the model assessed, and what it is
called in public.

`model_fingerprint(spec)` is SHA-256 over the weight files and the adapter of a local model
(`bundled:`, `hf:`), each file's name and bytes in name order: it changes when any weight
changes, and it is the same on every machine with the same files. A remote endpoint
(`openai:`) cannot be fingerprinted from outside; its fingerprint is the model id it declares,
labelled unverified. `default_served_name(spec)` is the short name a gateway serves a model
under unless told otherwise: never the spec, so no upstream URL, host, port or local path
reaches a client.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from releasegate.backends._bundled import BUNDLED_MODELS, REFUSAL_ADAPTER_DIR, gguf_path
from releasegate.errors import InputError, Problem

_WEIGHTS = ("*.safetensors", "*.bin", "*.gguf")
_ADAPTER = ("adapter_model.safetensors", "adapter_model.bin", "adapter_config.json")


@dataclass(frozen=True)
class ModelFingerprint:
    """`value`: 'sha256:<hex>' (verified, over `files`) or 'declared:<model id>' (unverified)."""

    value: str
    files: tuple[str, ...] = ()

    @property
    def verified(self) -> bool:
        return self.value.startswith("sha256:")


def _hash_files(files: Iterable[tuple[str, Path]]) -> str:
    digest = hashlib.sha256()
    for name, path in files:
        digest.update(name.encode())
        digest.update(b"\0")
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 22), b""):
                digest.update(block)
    return "sha256:" + digest.hexdigest()


def _adapter_files(directory: Path, prefix: str) -> list[tuple[str, Path]]:
    return [(f"{prefix}{n}", directory / n) for n in _ADAPTER if (directory / n).is_file()]


def _weight_files(directory: Path) -> list[tuple[str, Path]]:
    for pattern in _WEIGHTS:
        found = sorted(p for p in directory.glob(pattern) if not p.name.startswith("adapter_"))
        if found:
            return [(p.name, p) for p in found]
    return []


def model_fingerprint(spec: str) -> ModelFingerprint:
    """The fingerprint of the model a spec names (hashing a local model reads all its weights:
    about 0.1 s for the bundled model).

    Raises:
        InputError: a local spec whose files are missing.
    """
    prefix, _, rest = spec.partition(":")
    if prefix == "bundled":
        if rest not in BUNDLED_MODELS:
            raise InputError(spec, [Problem(f"unknown bundled model {rest!r}")])
        source = gguf_path()
        files = [(source.name, source)]
        if rest == "smollm2-guarded":
            files += _adapter_files(REFUSAL_ADAPTER_DIR, "adapter/")
        return ModelFingerprint(_hash_files(files), tuple(n for n, _ in files))
    if prefix == "hf":
        directory = Path(rest).expanduser()
        files = _weight_files(directory)
        if not files:
            raise InputError(spec, [Problem(f"no weight files in {directory}")])
        files += _adapter_files(directory, "adapter/")
        return ModelFingerprint(_hash_files(files), tuple(n for n, _ in files))
    if prefix == "lora":
        directory = Path(rest).expanduser()
        files = _adapter_files(directory, "adapter/")
        if not files:
            raise InputError(spec, [Problem(f"no adapter files in {directory}")])
        return ModelFingerprint(_hash_files(files), tuple(n for n, _ in files))
    if prefix == "openai":
        _, _, model = rest.partition("#")
        return ModelFingerprint(f"declared:{model or '(first model the endpoint lists)'}")
    return ModelFingerprint(f"declared:{spec}")


def default_served_name(spec: str) -> str:
    """The short public name of a model spec: `bundled:smollm2-guarded` -> `smollm2-guarded`,
    `hf:/models/my-model` -> `my-model`, `openai:http://host:8000/v1#llama-3` -> `llama-3`,
    `echo:` -> `echo`."""
    prefix, sep, rest = spec.partition(":")
    if not sep:
        return spec
    if prefix == "openai":
        _, _, model = rest.partition("#")
        return model.rsplit("/", 1)[-1] or "model"
    if prefix == "hf":
        return Path(rest.rstrip("/")).name or "model"
    # bundled:NAME, echo:[NAME], a plugin's PREFIX:VALUE: the value's last part, else the prefix
    return rest.rsplit("/", 1)[-1].split("#")[-1] or prefix


__all__ = ["ModelFingerprint", "default_served_name", "model_fingerprint"]
