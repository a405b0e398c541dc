"""Which texts of a request a guard judges."""

from __future__ import annotations

from collections.abc import Sequence

from releasegate.backends._base import ChatMessage


def input_texts(messages: Sequence[ChatMessage]) -> list[str]:
    """The texts of a request that an input guard must judge.

    Every role is judged, not only `user`: the client writes the whole message list, so a
    "system" or a fabricated "assistant" turn is attacker-controlled text as well. Each message
    is judged on its own so that a harmful request is not diluted by a long, harmless context.

    Args:
        messages: the chat messages of the request.

    Returns:
        The non-empty message contents, in order.
    """
    return [m.content for m in messages if m.content.strip()]
