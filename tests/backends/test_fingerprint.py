"""Model fingerprints (what `serve` checks against the decision) and served names."""

from __future__ import annotations

from pathlib import Path

import pytest

from releasegate.backends import (
    REFUSAL_ADAPTER_DIR,
    default_served_name,
    gguf_path,
    model_fingerprint,
)
from releasegate.errors import InputError


def test_bundled_fingerprints_hash_the_weights_and_the_adapter() -> None:
    plain = model_fingerprint("bundled:smollm2")
    guarded = model_fingerprint("bundled:smollm2-guarded")
    assert plain.verified and guarded.verified
    assert plain.value.startswith("sha256:") and len(plain.value) == len("sha256:") + 64
    assert plain.files == (gguf_path().name,)
    assert "adapter/adapter_model.safetensors" in guarded.files
    assert plain.value != guarded.value  # the adapter is part of the model
    assert model_fingerprint("bundled:smollm2") == plain  # stable


def test_hf_fingerprint_changes_with_any_weight_or_adapter_byte(tmp_path: Path) -> None:
    model = tmp_path / "my-model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    (model / "model.safetensors").write_bytes(b"weights" * 1000)
    first = model_fingerprint(f"hf:{model}")
    (model / "config.json").write_text('{"changed": true}')  # not a weight file
    assert model_fingerprint(f"hf:{model}") == first
    (model / "model.safetensors").write_bytes(b"weights" * 999 + b"weightZ")
    second = model_fingerprint(f"hf:{model}")
    assert second.value != first.value
    (model / "adapter_model.safetensors").write_bytes(
        (REFUSAL_ADAPTER_DIR / "adapter_model.safetensors").read_bytes()
    )
    third = model_fingerprint(f"hf:{model}")
    assert third.value != second.value and "adapter/adapter_model.safetensors" in third.files
    with pytest.raises(InputError, match="no weight files"):
        model_fingerprint(f"hf:{tmp_path / 'empty'}")


def test_remote_models_only_declare_their_id() -> None:
    remote = model_fingerprint("openai:http://10.0.0.7:8000/v1#llama-3-8b")
    assert remote.value == "declared:llama-3-8b" and not remote.verified


@pytest.mark.parametrize(
    ("spec", "name"),
    [
        ("bundled:smollm2-guarded", "smollm2-guarded"),
        ("hf:/models/acme/my-model/", "my-model"),
        ("openai:http://10.0.0.7:8000/v1#meta-llama/Llama-3-8B", "Llama-3-8B"),
        ("openai:https://host.example:443/v1", "model"),
        ("echo", "echo"),
        ("echo:", "echo"),
        ("echo:tiny", "tiny"),
    ],
)
def test_default_served_name_never_shows_the_spec(spec: str, name: str) -> None:
    served = default_served_name(spec)
    assert served == name
    assert ":" not in served and "10.0.0.7" not in served and "/" not in served
