"""Output guarding while streaming: scan the answer in overlapping windows, hold back what has
not been scanned, and cut the stream at the first flagged window.

The gateway feeds each text delta of the backend's stream to a `StreamScanner` and sends the
client only `step.release`. Invariant: released text always lies before the start of every
window still to be scanned, so text of a flagged window is never released. Each window of
`window` characters starts `overlap` characters before the end of the previous one, and those
last `overlap` characters are held back until the next window passed, so a harmful phrase that
straddles two windows (up to `overlap` characters long) is seen whole before any of it is sent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from releasegate.backends._base import ChatMessage
from releasegate.guards._base import Guard, GuardVerdict


@dataclass(frozen=True)
class ScanStep:
    """What the gateway may do after feeding a delta."""

    release: str
    """Text that passed the guard and may be sent to the client now (often empty)."""
    verdict: GuardVerdict | None = None
    """Set when a window was flagged: end the stream with a policy-violation error."""

    @property
    def cut(self) -> bool:
        return self.verdict is not None


class StreamScanner:
    """Scans a streamed answer in overlapping windows.

    Args:
        guard: the output guard (usually the tier's `GuardChain`); `GuardError` from it
            propagates (the gateway then ends the stream with an error: fail closed).
        window: characters per scanned window.
        overlap: characters shared by consecutive windows (< window).
        context: the request's messages, passed to `check_output`.
    """

    def __init__(
        self,
        guard: Guard,
        *,
        window: int = 400,
        overlap: int = 100,
        context: Sequence[ChatMessage] = (),
    ) -> None:
        if window < 1 or not 0 <= overlap < window:
            raise ValueError(f"need 0 <= overlap < window, got window={window} overlap={overlap}")
        self.guard = guard
        self.window = window
        self.overlap = overlap
        self.context = tuple(context)
        self._text = ""
        self._released = 0  # text[:released] has been handed out
        self._scanned = 0  # text[:scanned] lay inside windows that passed
        self.verdict: GuardVerdict | None = None
        self.windows_scanned = 0

    @property
    def released_text(self) -> str:
        """Everything released so far."""
        return self._text[: self._released]

    @property
    def held_back(self) -> int:
        """Characters received but not (yet) released."""
        return len(self._text) - self._released

    def _window_start(self) -> int:
        return max(0, self._scanned - self.overlap)

    async def _scan(self, end: int) -> bool:
        start = self._window_start()
        verdict = await self.guard.check_output(self._text[start:end], self.context)
        self.windows_scanned += 1
        if verdict.flagged:
            self.verdict = verdict
            return False
        self._scanned = end
        return True

    def _release(self, upto: int) -> str:
        upto = max(upto, self._released)
        out = self._text[self._released : upto]
        self._released = upto
        return out

    async def feed(self, delta: str) -> ScanStep:
        """Add a delta of the answer; scan every full window it completes.

        Returns:
            The text that may be sent now, or the cut.
        """
        if self.verdict is not None:
            return ScanStep("", self.verdict)
        self._text += delta
        out: list[str] = []
        while len(self._text) - self._window_start() >= self.window:
            if not await self._scan(self._window_start() + self.window):
                return ScanStep("".join(out), self.verdict)
            # the overlap is held back: the next window re-reads it
            out.append(self._release(self._scanned - self.overlap))
        return ScanStep("".join(out))

    async def finish(self) -> ScanStep:
        """The stream ended: scan the rest and release it, or cut."""
        if self.verdict is not None:
            return ScanStep("", self.verdict)
        if len(self._text) > self._scanned and not await self._scan(len(self._text)):
            return ScanStep("", self.verdict)
        return ScanStep(self._release(len(self._text)))
