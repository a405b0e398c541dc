"""StreamScanner: the stream is cut at a flagged window and no text of it is ever released."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from releasegate.backends._base import ChatMessage
from releasegate.guards import GuardError, GuardVerdict, HazardCategory, KeywordGuard
from releasegate.guards._stream import StreamScanner

PHRASE = "launder money"
GUARD = KeywordGuard({HazardCategory.S2: [PHRASE]})
HARMLESS = "The quick brown fox jumps over the lazy dog. " * 6  # 270 characters


async def run(scanner: StreamScanner, text: str, delta: int) -> tuple[str, bool]:
    sent = []
    for i in range(0, len(text), delta):
        step = await scanner.feed(text[i : i + delta])
        sent.append(step.release)
        if step.cut:
            return "".join(sent), True
    step = await scanner.finish()
    sent.append(step.release)
    return "".join(sent), step.cut


@pytest.mark.parametrize("delta", [1, 7, 50, 1000])
def test_harmless_stream_is_released_whole(delta: int) -> None:
    scanner = StreamScanner(GUARD, window=64, overlap=16)
    sent, cut = asyncio.run(run(scanner, HARMLESS, delta))
    assert not cut and sent == HARMLESS
    assert scanner.windows_scanned >= len(HARMLESS) // 64


@pytest.mark.parametrize("delta", [1, 5, 64, 1000])
@pytest.mark.parametrize("offset", [0, 40, 57, 60, 100, 130])
def test_stream_is_cut_at_the_flagged_window(delta: int, offset: int) -> None:
    # the phrase is placed at many offsets, including across window boundaries (window 64)
    text = HARMLESS[:offset] + " " + PHRASE + " " + HARMLESS[offset:]
    scanner = StreamScanner(GUARD, window=64, overlap=16)
    sent, cut = asyncio.run(run(scanner, text, delta))
    assert cut and scanner.verdict is not None
    assert scanner.verdict.categories == [HazardCategory.S2]
    assert text.startswith(sent)
    # not one character of the phrase left, and nothing after the cut either
    assert len(sent) <= offset
    assert sent == scanner.released_text


def test_text_is_held_back_until_scanned() -> None:
    async def go() -> None:
        scanner = StreamScanner(GUARD, window=64, overlap=16)
        step = await scanner.feed("x" * 63)
        assert step.release == "" and scanner.held_back == 63 and scanner.windows_scanned == 0
        step = await scanner.feed("x")  # completes a window: all but the overlap is released
        assert step.release == "x" * 48 and scanner.held_back == 16
        step = await scanner.finish()
        assert step.release == "x" * 16 and scanner.held_back == 0
        after = await scanner.feed("more")
        assert after.release == ""  # nothing is released after finish without a scan

    asyncio.run(go())


def test_cut_is_final() -> None:
    async def go() -> None:
        scanner = StreamScanner(GUARD, window=32, overlap=8)
        await scanner.feed("please " + PHRASE + " " + "y" * 40)
        assert scanner.verdict is not None
        assert (await scanner.feed("harmless")).cut
        assert (await scanner.finish()).cut

    asyncio.run(go())


class Broken:
    name = "broken"

    async def check_input(self, messages: Sequence[ChatMessage]) -> GuardVerdict:
        raise GuardError("down")

    async def check_output(self, text: str, context: Sequence[ChatMessage] = ()) -> GuardVerdict:
        raise GuardError("down")


def test_guard_error_propagates_and_nothing_is_released() -> None:
    async def go() -> None:
        scanner = StreamScanner(Broken(), window=16, overlap=4)
        with pytest.raises(GuardError):
            await scanner.feed("z" * 40)
        assert scanner.released_text == ""

    asyncio.run(go())


def test_bad_window() -> None:
    with pytest.raises(ValueError, match="overlap"):
        StreamScanner(GUARD, window=10, overlap=10)
