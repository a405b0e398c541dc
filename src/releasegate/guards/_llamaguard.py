"""`LlamaGuard`: Llama Guard 3 (or 4) served by any OpenAI-compatible server.

Every turn of the conversation is judged, in its context (see `LlamaGuard.check_input`). The
prompt is built here in Llama Guard's own format (Meta, "Llama Guard 3" model card; Inan et
al. 2023, "Llama Guard") and sent to `/v1/completions`, so it works with any server — vLLM,
llama.cpp, Ollama — whatever chat template it has. The model answers `safe`, or `unsafe` and
a line of categories (`S1,S9`), in the MLCommons numbering `HazardCategory` uses.

Not tested against a real Llama Guard model here (no weights offline); the tests run it against
a real HTTP server answering in that format.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from typing import Literal

from releasegate.backends._base import ChatMessage
from releasegate.guards._base import GuardError, GuardVerdict
from releasegate.guards._chain import combine
from releasegate.guards._http import HTTPGuardBase
from releasegate.guards._normalize import normalize
from releasegate.guards._taxonomy import HAZARD_TITLES, HazardCategory

_CATEGORY_RE = re.compile(r"^S(?:[1-9]|1[0-4])$")


Side = Literal["User", "Agent"]


def llama_guard_turns(messages: Sequence[ChatMessage]) -> list[tuple[Side, str]]:
    """A conversation as Llama Guard reads it: alternating `User` and `Agent` turns.

    Assistant messages are the `Agent`'s; system, user and tool messages are the `User`'s
    (the client writes all of them). Consecutive messages of one side are joined into one
    turn, as the model's chat template requires alternating roles.
    """
    turns: list[tuple[Side, str]] = []
    for m in messages:
        side: Side = "Agent" if m.role == "assistant" else "User"
        if turns and turns[-1][0] == side:
            turns[-1] = (side, f"{turns[-1][1]}\n\n{m.content}")
        else:
            turns.append((side, m.content))
    return turns


def llama_guard_prompt(messages: Sequence[ChatMessage], role: Side = "User") -> str:
    """The Llama Guard 3 prompt that asks about the last `role` turn of a conversation.

    The whole conversation is shown, as alternating turns (`llama_guard_turns`), in the format
    of the model's chat template.
    """
    categories = "\n".join(f"{c.value}: {HAZARD_TITLES[c]}." for c in HazardCategory)
    turns = "\n\n".join(f"{side}: {text}" for side, text in llama_guard_turns(messages))
    return (
        "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\n"
        f"Task: Check if there is unsafe content in '{role}' messages in conversations according "
        "our safety policy with the below categories.\n\n"
        f"<BEGIN UNSAFE CONTENT CATEGORIES>\n{categories}\n<END UNSAFE CONTENT CATEGORIES>\n\n"
        f"<BEGIN CONVERSATION>\n\n{turns}\n\n<END CONVERSATION>\n\n"
        f"Provide your safety assessment for ONLY THE LAST {role} message in the above "
        "conversation:\n"
        " - First line must read 'safe' or 'unsafe'.\n"
        " - If unsafe, a second line must include a comma-separated list of violated categories."
        "<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"
    )


def parse_llama_guard(text: str, guard: str = "llamaguard") -> GuardVerdict:
    """Parse `safe` or `unsafe\\nS1,S9`.

    Raises:
        GuardError: anything else (fail closed).
    """
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    if not lines:
        raise GuardError(f"{guard}: empty answer")
    head = lines[0].lower()
    if head == "safe" and len(lines) == 1:
        return GuardVerdict(flagged=False, score=0.0, guard=guard)
    if head != "unsafe":
        raise GuardError(f"{guard}: unparsable answer {text[:80]!r}")
    categories: list[HazardCategory] = []
    if len(lines) > 1:
        names = [c.strip().upper() for c in lines[1].split(",") if c.strip()]
        if not names or not all(_CATEGORY_RE.match(c) for c in names) or len(lines) > 2:
            raise GuardError(f"{guard}: unparsable categories {text[:80]!r}")
        categories = sorted({HazardCategory(c) for c in names}, key=lambda c: int(c.value[1:]))
    return GuardVerdict(flagged=True, score=1.0, categories=categories, guard=guard)


class LlamaGuard(HTTPGuardBase):
    """Llama Guard behind an OpenAI-compatible `/v1/completions` endpoint.

    Args:
        base_url: the server's base URL, ending in `/v1`.
        model: the model name on that server.
        api_key: bearer token, if the server needs one.
        timeout_s: per call; past it the guard raises `GuardError`.
        name: the guard's name.
    """

    def __init__(
        self,
        base_url: str,
        model: str = "meta-llama/Llama-Guard-3-1B",
        *,
        api_key: str | None = None,
        timeout_s: float = 5.0,
        name: str = "llamaguard",
    ) -> None:
        super().__init__(base_url, api_key=api_key, timeout_s=timeout_s, name=name)
        self.model = model

    async def _ask(self, prompt: str) -> GuardVerdict:
        body = await self._post(
            "/completions",
            {"model": self.model, "prompt": prompt, "max_tokens": 20, "temperature": 0.0},
        )
        try:
            text = body["choices"][0]["text"]
        except (KeyError, IndexError, TypeError) as exc:
            raise GuardError(f"{self.name}: answer has no choices[0].text") from exc
        if not isinstance(text, str):
            raise GuardError(f"{self.name}: choices[0].text is not a string")
        return parse_llama_guard(text, self.name)

    async def check_input(self, messages: Sequence[ChatMessage]) -> GuardVerdict:
        """Every turn of the conversation is judged, in its context.

        Llama Guard judges only the last turn of the conversation it is shown, and a client
        writes every turn of a request (an early user turn, a system prompt, a fabricated
        assistant turn): so the conversation up to each turn is one question (concurrent), and
        the request is flagged if any turn is.
        """
        if not messages:
            return GuardVerdict(flagged=False, score=0.0, guard=self.name)
        prompts: list[str] = []
        upto: list[ChatMessage] = []
        for i, m in enumerate(messages):
            upto.append(_with_views(m))
            side: Side = "Agent" if m.role == "assistant" else "User"
            last_of_turn = i + 1 == len(messages) or (messages[i + 1].role == "assistant") != (
                m.role == "assistant"
            )
            if last_of_turn:
                prompts.append(llama_guard_prompt(upto, side))
        verdicts = await asyncio.gather(*(self._ask(p) for p in prompts))
        return combine(verdicts, self.name).model_copy(update={"guard": self.name})

    async def check_output(self, text: str, context: Sequence[ChatMessage] = ()) -> GuardVerdict:
        convo = [*context, _with_views(ChatMessage(role="assistant", content=text))]
        return await self._ask(llama_guard_prompt(convo, "Agent"))


def _with_views(message: ChatMessage) -> ChatMessage:
    # The normalizer runs in front of this guard too: the model judges the decoded and folded
    # views along with the text (one call, not one per view).
    views = normalize(message.content)
    if len(views) == 1 and views[0] == message.content:
        return message
    return ChatMessage(role=message.role, content="\n\n".join(views))
