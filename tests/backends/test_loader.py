"""load_backend: spec dispatch, clear errors naming the spec and accepted forms, plugins."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from releasegate.backends import (
    ChatMessage,
    GenerationParams,
    HFBackend,
    ModelBackend,
    OpenAIBackend,
    load_backend,
)
from releasegate.errors import InputError
from releasegate.settings import Settings
from tests.helpers.plugins import write_distribution

PLUGIN_MODULE = '''
from releasegate.backends import Generation, StreamChunk


class ReverseBackend:
    """A third-party backend: answers with the last message, reversed."""

    def __init__(self, spec):
        self._spec = spec

    @property
    def name(self):
        return self._spec

    async def chat(self, messages, params):
        return Generation(text=messages[-1].content[::-1])

    async def stream_chat(self, messages, params):
        yield StreamChunk(text=messages[-1].content[::-1])
        yield StreamChunk(text="", finish_reason="stop")

    async def complete(self, prompt, params):
        return Generation(text=prompt[::-1])

    async def choice_logprobs(self, prompt, choices):
        return [0.0 for _ in choices]

    async def aclose(self):
        pass


def make(spec, settings):
    return ReverseBackend(spec)


def make_wrong(spec, settings):
    return object()
'''


@pytest.fixture
def plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Install a plugin distribution (module + dist-info with entry points) on sys.path."""
    write_distribution(
        tmp_path,
        "rg-echo-plugin",
        "0.1",
        {"rg_echo_plugin.py": PLUGIN_MODULE},
        "[releasegate.backends]\nreverse = rg_echo_plugin:make\n"
        "wrong = rg_echo_plugin:make_wrong\n",
    )
    monkeypatch.syspath_prepend(str(tmp_path))


def test_plugin_prefix_loads_through_entry_point(plugin: None) -> None:
    backend = load_backend("reverse:anything", Settings())
    assert isinstance(backend, ModelBackend)
    assert backend.name == "reverse:anything"
    out = asyncio.run(backend.chat([ChatMessage(role="user", content="abc")], GenerationParams()))
    assert out.text == "cba"


def test_plugin_must_return_a_backend(plugin: None) -> None:
    with pytest.raises(InputError, match="did not return a ModelBackend"):
        load_backend("wrong:x", Settings())


def test_plugins_are_listed_among_accepted_forms(plugin: None) -> None:
    with pytest.raises(InputError) as caught:
        load_backend("nope:x", Settings())
    assert "reverse:..." in str(caught.value)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("smollm2", "not a model spec"),
        ("bundled:", "not a model spec"),
        ("bundled:gpt-9", "unknown bundled model 'gpt-9'"),
        ("hf:/no/such/dir", "no model directory at /no/such/dir"),
        ("vllm:http://x", "unknown model spec prefix 'vllm'"),
        ("openai:ftp://host/v1#m", "http(s) base URL"),
    ],
)
def test_bad_specs_name_the_spec_and_the_accepted_forms(spec: str, message: str) -> None:
    with pytest.raises(InputError) as caught:
        load_backend(spec, Settings())
    text = str(caught.value)
    assert text.startswith(spec)
    assert message in text
    if not spec.startswith("openai:"):
        assert "bundled:smollm2|smollm2-guarded" in text and "hf:PATH" in text
        assert "openai:BASE_URL#MODEL" in text and "echo:[NAME]" in text


def test_hf_dir_without_config_is_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not a transformers model directory"):
        load_backend(f"hf:{tmp_path}", Settings())


def test_openai_spec_builds_openai_backend() -> None:
    backend = load_backend("openai:http://127.0.0.1:9/v1#m", Settings())
    assert isinstance(backend, OpenAIBackend)
    assert backend.name == "openai:http://127.0.0.1:9/v1#m"
    assert backend.base_url == "http://127.0.0.1:9/v1"
    asyncio.run(backend.aclose())


@pytest.mark.slow
def test_bundled_and_hf_specs_load_the_model(bundled_settings: Settings, smollm2_dir: Path) -> None:
    for spec in ("bundled:smollm2", f"hf:{smollm2_dir}"):
        backend = load_backend(spec, bundled_settings)
        try:
            assert isinstance(backend, HFBackend) and isinstance(backend, ModelBackend)
            assert backend.name == spec
            assert backend.model_dir == smollm2_dir
            out = asyncio.run(
                backend.chat(
                    [ChatMessage(role="user", content="What is 2 + 2?")],
                    GenerationParams(max_tokens=4),
                )
            )
            assert out.text
        finally:
            asyncio.run(backend.aclose())
