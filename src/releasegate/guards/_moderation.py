"""`ModerationGuard`: a hosted moderation API in OpenAI's `/v1/moderations` format, its
categories mapped onto the MLCommons taxonomy (S1–S14)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from releasegate.backends._base import ChatMessage
from releasegate.guards._base import GuardError, GuardVerdict
from releasegate.guards._http import HTTPGuardBase
from releasegate.guards._normalize import normalize
from releasegate.guards._taxonomy import HazardCategory as S
from releasegate.guards._text import input_texts

# OpenAI moderation categories (text-moderation and omni-moderation) → hazard categories.
# Harassment has no MLCommons category of its own; it is closest to hate (S10), and threats to
# violent crimes (S1). Unknown categories flag without a category (never silently dropped).
CATEGORY_MAP: dict[str, tuple[S, ...]] = {
    "harassment": (S.S10,),
    "harassment/threatening": (S.S10, S.S1),
    "hate": (S.S10,),
    "hate/threatening": (S.S10, S.S1),
    "illicit": (S.S2,),
    "illicit/violent": (S.S1, S.S9),
    "self-harm": (S.S11,),
    "self-harm/intent": (S.S11,),
    "self-harm/instructions": (S.S11,),
    "sexual": (S.S12,),
    "sexual/minors": (S.S4,),
    "violence": (S.S1,),
    "violence/graphic": (S.S1,),
}


def parse_moderation(body: Any, guard: str = "moderation") -> GuardVerdict:
    """Combine the `results` of a moderation response into one verdict.

    Raises:
        GuardError: the body is not in the expected format (fail closed).
    """
    try:
        results = body["results"]
        if not isinstance(results, list) or not results:
            raise TypeError("no results")
        flagged = False
        score = 0.0
        found: set[S] = set()
        for result in results:
            is_flagged = result["flagged"]
            cats = result.get("categories") or {}
            scores = result.get("category_scores") or {}
            if not isinstance(is_flagged, bool) or not isinstance(cats, dict):
                raise TypeError("flagged/categories")
            flagged |= is_flagged
            for value in scores.values():
                score = max(score, float(value))
            for name, on in cats.items():
                if on is True:
                    found.update(CATEGORY_MAP.get(name, ()))
    except (KeyError, TypeError, ValueError) as exc:
        raise GuardError(f"{guard}: unexpected moderation response ({exc})") from exc
    if flagged and score == 0.0:  # flagged without scores: full confidence
        score = 1.0
    return GuardVerdict(
        flagged=flagged,
        score=min(max(score, 0.0), 1.0),
        categories=sorted(found, key=lambda c: int(c.value[1:])) if flagged else [],
        guard=guard,
    )


class ModerationGuard(HTTPGuardBase):
    """A hosted moderation API (OpenAI's format).

    Args:
        base_url: e.g. `https://api.openai.com/v1`.
        api_key: the API key.
        model: e.g. `omni-moderation-latest`.
        timeout_s: per call; past it the guard raises `GuardError`.
        name: the guard's name.
    """

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None,
        model: str = "omni-moderation-latest",
        timeout_s: float = 5.0,
        name: str = "moderation",
    ) -> None:
        super().__init__(base_url, api_key=api_key, timeout_s=timeout_s, name=name)
        self.model = model

    async def _ask(self, texts: list[str]) -> GuardVerdict:
        # every normalized view (decoded base64, folded leetspeak...) goes in the same call
        views = [v for t in texts for v in normalize(t)]
        if not views:
            return GuardVerdict(flagged=False, score=0.0, guard=self.name)
        body = await self._post("/moderations", {"model": self.model, "input": views})
        return parse_moderation(body, self.name)

    async def check_input(self, messages: Sequence[ChatMessage]) -> GuardVerdict:
        return await self._ask(input_texts(messages))

    async def check_output(self, text: str, context: Sequence[ChatMessage] = ()) -> GuardVerdict:
        return await self._ask([text])
