"""releasegate: decide how far to open a foundation model, then share it that far and no further.

The public API is re-exported here lazily: `import releasegate` stays cheap (no torch, no FastAPI)
and each name is imported from its package on first use.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from releasegate._version import __version__

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    "AccessLevel": "releasegate.vocab",
    "Benefit": "releasegate.vocab",
    "Component": "releasegate.vocab",
    "Condition": "releasegate.vocab",
    "RiskDomain": "releasegate.vocab",
    "Tier": "releasegate.vocab",
    "InputError": "releasegate.errors",
    "Settings": "releasegate.settings",
    "RiskReport": "releasegate.evidence",
    "load_report": "releasegate.evidence",
    "ReleasePolicy": "releasegate.policy",
    "Decision": "releasegate.policy",
    "load_policy": "releasegate.policy",
    "decide": "releasegate.policy",
    "assess": "releasegate.assess",
    "load_backend": "releasegate.backends",
    "create_app": "releasegate.gateway",
}

__all__ = [  # noqa: RUF022  (kept in the order of _EXPORTS' groups)
    "__version__",
    "AccessLevel",
    "Benefit",
    "Component",
    "Condition",
    "RiskDomain",
    "Tier",
    "InputError",
    "Settings",
    "RiskReport",
    "load_report",
    "ReleasePolicy",
    "Decision",
    "load_policy",
    "decide",
    "assess",
    "load_backend",
    "create_app",
]

if TYPE_CHECKING:
    from releasegate.assess import assess
    from releasegate.backends import load_backend
    from releasegate.errors import InputError
    from releasegate.evidence import RiskReport, load_report
    from releasegate.gateway import create_app
    from releasegate.policy import Decision, ReleasePolicy, decide, load_policy
    from releasegate.settings import Settings
    from releasegate.vocab import AccessLevel, Benefit, Component, Condition, RiskDomain, Tier


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'releasegate' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
