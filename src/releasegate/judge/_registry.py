"""Judge specs: which refusal judge `--judge SPEC` names.

| spec | judge |
|---|---|
| `default` | the shipped classifier (`ClassifierJudge`, committed weights) |
| `classifier:PATH` | the classifier with weights trained by `scripts/train_judge.py` |
| `phrases` | the refusal-phrase rule, a baseline (`PhraseJudge`) |
| `llm:BACKEND_SPEC` | a language model through any backend (`LLMJudge`) |
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from releasegate._util.lending import lend
from releasegate.errors import InputError, Problem
from releasegate.judge._base import JudgeError, RefusalJudge

if TYPE_CHECKING:
    from releasegate.settings import Settings

DEFAULT_JUDGE = "default"
JUDGE_SPECS = ("default", "classifier:PATH", "phrases", "llm:BACKEND_SPEC")


def _bad(spec: str, message: str) -> InputError:
    return InputError("--judge", [Problem(f"{spec!r}: {message}")])


def check_judge_spec(spec: str) -> list[Problem]:
    """Problems with a judge spec, found without loading anything (empty when it looks right)."""
    prefix, sep, rest = spec.partition(":")
    if spec in (DEFAULT_JUDGE, "phrases"):
        return []
    if sep and rest and prefix == "classifier":
        path = Path(rest).expanduser()
        return [] if path.is_file() else [Problem(f"no weights file at {path}", path="--judge")]
    if sep and rest and prefix == "llm":
        return []
    return [Problem(f"{spec!r} is not a judge spec; use {', '.join(JUDGE_SPECS)}", path="--judge")]


def load_judge(spec: str = DEFAULT_JUDGE, settings: Settings | None = None) -> RefusalJudge:
    """Build the judge a spec names.

    Args:
        spec: `default`, `classifier:PATH`, `phrases` or `llm:BACKEND_SPEC`.
        settings: passed to the backend of an `llm:` judge (model cache, upstream key).

    Returns:
        The judge; close it with `await judge.aclose()`.

    Raises:
        InputError: an unknown spec, a missing or unreadable weights file, or an unknown
            backend spec.
        JudgeError: the default weights cannot be read, or the judge model cannot be loaded.
    """
    from releasegate.judge._classifier import ClassifierJudge
    from releasegate.judge._phrases import PhraseJudge

    if spec == DEFAULT_JUDGE:
        return ClassifierJudge.from_file()
    if spec == "phrases":
        return PhraseJudge()
    prefix, sep, rest = spec.partition(":")
    if sep and rest and prefix == "classifier":
        path = Path(rest).expanduser()
        if not path.is_file():
            raise _bad(spec, f"no weights file at {path}")
        try:
            return ClassifierJudge.from_file(path)
        except JudgeError as exc:
            raise _bad(spec, str(exc)) from exc
    if sep and rest and prefix == "llm":
        from releasegate.backends import BackendError, load_backend

        if settings is None:
            raise JudgeError(f"the judge {spec} needs settings to load its model")
        from releasegate.judge._llm import LLMJudge

        try:
            return LLMJudge(load_backend(rest, settings))
        except BackendError as exc:
            raise JudgeError(f"the judge model {rest} could not be loaded: {exc}") from exc
    raise InputError("--judge", check_judge_spec(spec))


# Judges lent to Inspect scorers while an assessment runs, so that every task scores with the
# one judge the assessment measured (and closes): a judge holding a model or an HTTP client is
# not rebuilt per task.
_lent: dict[str, RefusalJudge] = {}


@contextmanager
def lend_judge(spec: str, judge: RefusalJudge) -> Iterator[None]:
    """Let scorers asking for `spec` use `judge` while the block runs."""
    with lend(_lent, spec, judge):
        yield


def lent_judge(spec: str, settings: Settings | None = None) -> RefusalJudge:
    """The judge lent for `spec`, or a new one built with `settings` (`inspect eval` run
    directly, where the scorer is the edge that reads the settings)."""
    lent = _lent.get(spec)
    return lent if lent is not None else load_judge(spec, settings)


__all__ = [
    "DEFAULT_JUDGE",
    "JUDGE_SPECS",
    "check_judge_spec",
    "lend_judge",
    "lent_judge",
    "load_judge",
]
