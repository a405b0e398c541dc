"""`GuardChain`: runs several guards on the same text and combines their verdicts."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

from releasegate.backends._base import ChatMessage
from releasegate.guards._base import Guard, GuardError, GuardInputTooLarge, GuardVerdict


def combine(verdicts: Sequence[GuardVerdict], name: str = "chain") -> GuardVerdict:
    """Combine verdicts: flagged if any guard flags; the highest score; the union of categories.

    Args:
        verdicts: one verdict per guard.
        name: fallback name when no guard flagged.

    Returns:
        One verdict; its `guard` names the guards that flagged (comma-separated).
    """
    flagged = [v for v in verdicts if v.flagged]
    categories = sorted({c for v in flagged for c in v.categories}, key=lambda c: int(c.value[1:]))
    return GuardVerdict(
        flagged=bool(flagged),
        score=max((v.score for v in verdicts), default=0.0),
        categories=categories,
        guard=",".join(v.guard for v in flagged) if flagged else name,
    )


def guard_artefacts(guard: Guard) -> dict[str, str]:
    """The files a guard (or every guard of a chain) judges with, by path, with their SHA-256."""
    found: dict[str, str] = dict(getattr(guard, "artefacts", None) or {})
    for member in getattr(guard, "guards", ()):
        found.update(guard_artefacts(member))
    return found


class GuardChain:
    """Runs guards concurrently and combines their verdicts; itself a `Guard`.

    Fail closed: if any guard raises (any exception, or a verdict of the wrong type), the chain
    raises `GuardError` naming that guard, and the caller must refuse the request. An empty chain
    flags nothing (a tier configured with `guards: []`).

    Args:
        guards: the guards to run.
        name: the chain's name.
    """

    def __init__(self, guards: Sequence[Guard], *, name: str = "chain") -> None:
        self.guards: tuple[Guard, ...] = tuple(guards)
        self._name = name

    @property
    def name(self) -> str:
        return self._name

    def __len__(self) -> int:
        return len(self.guards)

    async def _run(self, call: Callable[[Guard], Awaitable[GuardVerdict]]) -> list[GuardVerdict]:
        async def one(guard: Guard) -> GuardVerdict:
            try:
                verdict = await call(guard)
            except GuardInputTooLarge as exc:  # a refusal of its own (413), not an outage
                raise GuardInputTooLarge(f"guard {guard.name!r}: {exc}") from exc
            except GuardError as exc:
                raise GuardError(f"guard {guard.name!r} failed: {exc}") from exc
            except Exception as exc:  # any failure of a guard must refuse, never allow
                raise GuardError(
                    f"guard {guard.name!r} failed: {type(exc).__name__}: {exc}"
                ) from exc
            if not isinstance(verdict, GuardVerdict):
                raise GuardError(f"guard {guard.name!r} returned {type(verdict).__name__}")
            return verdict

        if len(self.guards) == 1:  # skip gather's task overhead on the hot path
            return [await one(self.guards[0])]
        return list(await asyncio.gather(*(one(g) for g in self.guards)))

    async def aclose(self) -> None:
        """Release the guards' resources (HTTP clients); call once when the gateway stops."""
        for guard in self.guards:
            close = getattr(guard, "aclose", None)
            if close is not None:
                await close()

    async def check_input_all(self, messages: Sequence[ChatMessage]) -> list[GuardVerdict]:
        """Each guard's verdict on a request, in chain order."""
        return await self._run(lambda g: g.check_input(messages))

    async def check_output_all(
        self, text: str, context: Sequence[ChatMessage] = ()
    ) -> list[GuardVerdict]:
        """Each guard's verdict on (part of) an answer, in chain order."""
        return await self._run(lambda g: g.check_output(text, context))

    async def check_input(self, messages: Sequence[ChatMessage]) -> GuardVerdict:
        return combine(await self.check_input_all(messages), self._name)

    async def check_output(self, text: str, context: Sequence[ChatMessage] = ()) -> GuardVerdict:
        return combine(await self.check_output_all(text, context), self._name)
