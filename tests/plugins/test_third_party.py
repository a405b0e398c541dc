"""A third-party package adds a guard and a backend the way releasegate's own are added: entry
points in its metadata. Installed from a throwaway package (a module and its .dist-info in a
temporary directory on the path), both are listed by `releasegate plugins list` and used through
the CLI: the guard by `releasegate guards check`, the backend by `releasegate serve`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import openai
import pytest

from releasegate.plugins import PluginError, Registry
from tests.helpers.cli import run_subprocess
from tests.helpers.plugins import write_distribution
from tests.helpers.serve_proc import serve_spec

PACKAGE = '''
"""rg_thirdparty: a guard that flags one phrase and a backend that answers backwards."""

from releasegate.backends import Generation, StreamChunk
from releasegate.guards import GuardVerdict, HazardCategory


class PhraseGuard:
    name = "pirate-phrases"

    async def check_input(self, messages):
        hit = any("pirated copy" in m.content for m in messages)
        return GuardVerdict(
            flagged=hit, score=float(hit), categories=[HazardCategory.S8] if hit else [],
            guard=self.name,
        )

    async def check_output(self, text, context=()):
        return GuardVerdict(flagged=False, score=0.0, guard=self.name)


class ReverseBackend:
    def __init__(self, spec):
        self._name = spec.partition(":")[2] or "reverse"

    @property
    def name(self):
        return self._name

    async def chat(self, messages, params):
        return Generation(text=messages[-1].content[::-1], completion_tokens=1)

    async def stream_chat(self, messages, params):
        yield StreamChunk(text=messages[-1].content[::-1], finish_reason="stop")

    async def complete(self, prompt, params):
        return Generation(text=prompt[::-1])

    async def choice_logprobs(self, prompt, choices):
        return [0.0 for _ in choices]

    async def aclose(self):
        return None


def make_guard(settings):
    return PhraseGuard()


def make_backend(spec, settings):
    return ReverseBackend(spec)
'''


@pytest.fixture
def third_party(tmp_path: Path) -> dict[str, str]:
    """The throwaway package on a directory the CLI processes get on their path."""
    site = write_distribution(
        tmp_path / "site",
        "rg-thirdparty",
        "1.0",
        {"rg_thirdparty.py": PACKAGE},
        "[releasegate.guards]\npirate-phrases = rg_thirdparty:make_guard\n\n"
        "[releasegate.backends]\nreverse = rg_thirdparty:make_backend\n",
    )
    return {"PYTHONPATH": str(site), "RELEASEGATE_DATA_DIR": str(tmp_path / "data")}


def test_third_party_plugins_are_listed_beside_the_built_ins(
    tmp_path: Path, third_party: dict[str, str]
) -> None:
    result = run_subprocess(["plugins", "list", "--json"], tmp_path, env=third_party)
    assert result.code == 0, result.err
    rows = [json.loads(line) for line in result.out.splitlines()]
    found = {(r["kind"], r["name"]): r for r in rows}
    assert found["guard", "pirate-phrases"]["source"] == "rg-thirdparty 1.0"
    assert found["guard", "pirate-phrases"]["value"] == "rg_thirdparty:make_guard"
    assert found["backend", "reverse"]["source"] == "rg-thirdparty 1.0"
    # the built-ins come from releasegate's own metadata, the same way
    assert found["backend", "echo"]["source"].startswith("releasegate ")
    assert found["guard", "keyword"]["source"].startswith("releasegate ")


def test_third_party_guard_judges_through_the_cli(
    tmp_path: Path, third_party: dict[str, str]
) -> None:
    proc = subprocess.run(
        [str(Path(sys.executable).with_name("releasegate")), "guards", "check", "-g",
         "pirate-phrases"],
        input="where can I get a pirated copy\nhow do vaccines work\n",
        capture_output=True, text=True, env={**os.environ, **third_party},
        timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    verdicts = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [(v["flagged"], v["categories"]) for v in verdicts] == [(True, ["S8"]), (False, [])]


def test_third_party_backend_serves_through_the_cli(
    tmp_path: Path, third_party: dict[str, str]
) -> None:
    with serve_spec("reverse:backwards", third_party) as (url, _):
        created = run_subprocess(
            ["keys", "create", "--tier", "developer", "--owner", "me"], tmp_path, env=third_party
        )
        key = next(line for line in created.out.splitlines() if line.startswith("rg-"))
        client = openai.OpenAI(base_url=url + "/v1", api_key=key)
        reply = client.chat.completions.create(
            model="backwards", messages=[{"role": "user", "content": "stressed"}]
        )
        assert reply.choices[0].message.content == "desserts"


def test_a_name_declared_twice_is_refused_not_guessed(tmp_path: Path) -> None:
    for n in (1, 2):
        write_distribution(
            tmp_path,
            f"rg-dup{n}",
            "1.0",
            {f"rg_dup{n}.py": "def make(spec, settings):\n    return None\n"},
            f"[releasegate.test_dup]\nsame = rg_dup{n}:make\n",
        )
    sys.path.insert(0, str(tmp_path))
    try:
        registry: Registry[object] = Registry("thing", "releasegate.test_dup", callable)
        assert registry.names() == ["same"]
        with pytest.raises(PluginError, match="more than one package: rg-dup"):
            registry.get("same")
        with pytest.raises(PluginError, match="unknown thing 'other'; available: same"):
            registry.get("other")
        with pytest.raises(PluginError, match="already declared"):
            registry.register("same", print)
    finally:
        sys.path.remove(str(tmp_path))
