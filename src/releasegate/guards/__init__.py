"""Safety guards: the `Guard` contract, the MLCommons hazard taxonomy, built-in guards, chains.

Build the chain a tier asks for with `build_guards(tier.guards, settings)`; every guard raises
`GuardError` when it cannot judge, and callers then refuse the request (fail closed).
"""

from releasegate.guards._base import Guard, GuardError, GuardVerdict
from releasegate.guards._chain import GuardChain, combine
from releasegate.guards._embedding import EmbeddingGuard
from releasegate.guards._keyword import DEFAULT_PHRASES, KeywordGuard
from releasegate.guards._llamaguard import LlamaGuard, llama_guard_prompt, parse_llama_guard
from releasegate.guards._minilm import MiniLMEncoder, load_encoder
from releasegate.guards._moderation import ModerationGuard
from releasegate.guards._normalize import normalize
from releasegate.guards._registry import (
    ENTRY_POINT_GROUP,
    GUARDS,
    GuardFactory,
    UnknownGuardError,
    available_guards,
    build_guard,
    build_guards,
    register_guard,
)
from releasegate.guards._stream import ScanStep, StreamScanner
from releasegate.guards._taxonomy import HAZARD_TITLES, HazardCategory
from releasegate.guards._text import input_texts

__all__ = [
    "DEFAULT_PHRASES",
    "ENTRY_POINT_GROUP",
    "GUARDS",
    "HAZARD_TITLES",
    "EmbeddingGuard",
    "Guard",
    "GuardChain",
    "GuardError",
    "GuardFactory",
    "GuardVerdict",
    "HazardCategory",
    "KeywordGuard",
    "LlamaGuard",
    "MiniLMEncoder",
    "ModerationGuard",
    "ScanStep",
    "StreamScanner",
    "UnknownGuardError",
    "available_guards",
    "build_guard",
    "build_guards",
    "combine",
    "input_texts",
    "llama_guard_prompt",
    "load_encoder",
    "normalize",
    "parse_llama_guard",
    "register_guard",
]
