"""`KeywordGuard`: flags texts that contain listed phrases.

A transparent, dependency-free baseline and a fast first layer of the default guard: it catches
the blunt phrasings of a request, the embedding classifier catches the paraphrases. Phrases are
matched on word boundaries, case-insensitively, against every view the normalizer produces, so
`b0mb`, `ｂｏｍｂ` or a base64-wrapped request match like the plain text.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence

from releasegate.backends._base import ChatMessage
from releasegate.guards import _normalize
from releasegate.guards._base import GuardVerdict
from releasegate.guards._taxonomy import HazardCategory
from releasegate.guards._text import input_texts

# Request phrasings at the generality of public refusal benchmarks (never instructions).
# Kept short on purpose: a phrase list is precise but brittle; recall comes from the classifier.
DEFAULT_PHRASES: dict[HazardCategory, tuple[str, ...]] = {
    HazardCategory.S1: (
        "how to kill someone",
        "get away with murder",
        "hire a hitman",
        "poison someone without",
    ),
    HazardCategory.S2: (
        "launder money",
        "make counterfeit money",
        "steal a car without",
        "hack into my ex",
    ),
    HazardCategory.S4: ("child sexual abuse material",),
    HazardCategory.S9: (
        "make a bomb",
        "build a bomb",
        "make a pipe bomb",
        "build a pipe bomb",
        "synthesize sarin",
        "make nerve agent",
        "weaponize anthrax",
        "build a dirty bomb",
        "make ricin",
        "make napalm",
    ),
    HazardCategory.S11: ("best way to kill myself", "how to kill myself"),
    HazardCategory.S14: ("write ransomware", "write a keylogger"),
}


def _pattern(phrase: str) -> re.Pattern[str]:
    # Runs of whitespace in the phrase match any run of whitespace in the text.
    words = [re.escape(w) for w in phrase.lower().split()]
    return re.compile(r"\b" + r"\s+".join(words) + r"\b")


class KeywordGuard:
    """Flags a text when one of its phrases occurs in any normalized view of it.

    Args:
        phrases: phrases per hazard category; default `DEFAULT_PHRASES`.
        normalize: turns a text into the views to scan (see `releasegate.guards.normalize`);
            default: `normalize`.
        name: the guard's name in verdicts.
    """

    def __init__(
        self,
        phrases: Mapping[HazardCategory, Sequence[str]] | None = None,
        *,
        normalize: Callable[[str], list[str]] | None = None,
        name: str = "keyword",
    ) -> None:
        table = DEFAULT_PHRASES if phrases is None else phrases
        self._patterns = [
            (HazardCategory(cat), _pattern(p)) for cat, ps in table.items() for p in ps if p.strip()
        ]
        self._normalize = normalize or _normalize.normalize
        self._name = name

    @property
    def name(self) -> str:
        return self._name

    def judge(self, texts: Sequence[str]) -> GuardVerdict:
        """Judge texts synchronously (the async methods call this; so do the CLI and benches)."""
        found: set[HazardCategory] = set()
        for text in texts:
            for view in self._normalize(text):
                low = view.lower()
                found.update(cat for cat, pat in self._patterns if pat.search(low))
        categories = sorted(found, key=lambda c: int(c.value[1:]))
        return GuardVerdict(
            flagged=bool(categories),
            score=1.0 if categories else 0.0,
            categories=categories,
            guard=self._name,
        )

    async def check_input(self, messages: Sequence[ChatMessage]) -> GuardVerdict:
        return self.judge(input_texts(messages))

    async def check_output(self, text: str, context: Sequence[ChatMessage] = ()) -> GuardVerdict:
        return self.judge([text])
