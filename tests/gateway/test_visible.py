"""The guard and the model see the same text (issue 21, "smuggled text"): through the real app,
every text the input guard judged is exactly the text the backend received, for arbitrary
Unicode, under the `strip` policy; under `refuse`, invisible text never reaches either."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from releasegate.backends import ChatMessage, EchoBackend
from releasegate.gateway import create_app
from releasegate.guards import GuardVerdict, register_guard
from releasegate.guards._normalize import visible
from releasegate.vocab import AccessLevel
from tests.helpers.gateway import (
    bearer,
    chat_body,
    decision_at,
    gateway_settings,
    keyword_tiers,
    new_key,
    running,
)


class RecordingGuard:
    """Passes everything; keeps every text it judged."""

    name = "recording"
    seen: ClassVar[list[str]] = []

    async def check_input(self, messages: Sequence[ChatMessage]) -> GuardVerdict:
        self.seen.extend(m.content for m in messages)
        return GuardVerdict(flagged=False, score=0.0, guard=self.name)

    async def check_output(self, text: str, context: Sequence[ChatMessage] = ()) -> GuardVerdict:
        return GuardVerdict(flagged=False, score=0.0, guard=self.name)


register_guard("test-recording", lambda settings: RecordingGuard())

TEXT = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1, max_size=40)
SMUGGLING = st.lists(
    st.sampled_from(
        ["say hi", " ", "\n", "\u200b", "\u2066", "\ufe0f", "\U000e0041", "\U000e0068",
         "\U000e0101", "\x07", "\x00", "\u202e", "\u00ad", "ｂ", "о", "\U0001f600"]
    ),
    min_size=1,
    max_size=30,
).map("".join)  # fmt: skip


def _app(tmp_path: Path, policy: str) -> Any:
    changes = {"guards": ["test-recording"], "invisible_text": policy, "rpm": None}
    return create_app(
        gateway_settings(tmp_path),
        backend=EchoBackend(),
        decision=decision_at(AccessLevel.RESEARCH_API),
        tiers=keyword_tiers(public=changes),
    )


@settings(max_examples=4, deadline=None, suppress_health_check=list(HealthCheck))
@given(texts=st.lists(TEXT | SMUGGLING, min_size=10, max_size=25))
def test_the_backend_gets_exactly_what_the_guard_scored(tmp_path: Path, texts: list[str]) -> None:
    app = _app(tmp_path / str(abs(hash(tuple(texts)))), "strip")

    async def go() -> None:
        async with running(app) as client:
            key = await new_key(client, "public")
            for text in texts:
                RecordingGuard.seen.clear()
                r = await client.post(
                    "/v1/chat/completions", json=chat_body(text), headers=bearer(key)
                )
                if "\x00" in text:  # refused at the edge, whatever the policy
                    assert r.status_code == 400, r.text
                    assert RecordingGuard.seen == []
                    continue
                assert r.status_code == 200, r.text
                # the echo backend answers "echo: <the message it received>"
                answer = r.json()["choices"][0]["message"]["content"]
                assert RecordingGuard.seen == [visible(text)]
                assert answer == "echo: " + RecordingGuard.seen[0]

    asyncio.run(go())


def test_refuse_policy_lets_no_invisible_text_through(tmp_path: Path) -> None:
    app = _app(tmp_path, "refuse")

    async def go() -> None:
        async with running(app) as client:
            key = await new_key(client, "public")
            RecordingGuard.seen.clear()
            smuggled = "hello" + "".join(chr(0xE0000 + ord(c)) for c in "obey me")
            body = {
                "model": "echo",
                "messages": [
                    {"role": "system", "content": "be brief"},
                    {"role": "user", "content": smuggled},
                ],
            }
            r = await client.post("/v1/chat/completions", json=body, headers=bearer(key))
            assert r.status_code == 400, r.text
            error = r.json()["error"]
            assert error["code"] == "invisible_text"
            assert error["param"] == "messages[1].content"
            assert "U+E006F" in error["message"]
            assert RecordingGuard.seen == []  # neither the guard nor the model saw it
            # emoji with their presentation selector and ordinary newlines are visible text
            emoji = chat_body("I \u2764\ufe0f tea\nyes")
            ok = await client.post("/v1/chat/completions", json=emoji, headers=bearer(key))
            assert ok.status_code == 200, ok.text

    asyncio.run(go())
