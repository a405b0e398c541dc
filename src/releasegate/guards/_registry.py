"""Guard registry: names → factories, in the `GUARDS` registry fed by the entry-point group
`releasegate.guards`.

The built-in guards are declared there by releasegate's own pyproject.toml, exactly as a third
party declares its own: the entry point's name is the guard name used in tier configuration, its
object a factory `(settings) -> Guard`, e.g.

    [project.entry-points."releasegate.guards"]
    my-filter = "my_package.guards:make_my_filter"

Code (tests, an application embedding the gateway) may also call `register_guard`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeAlias

from releasegate.guards._base import Guard, GuardError
from releasegate.guards._chain import GuardChain
from releasegate.plugins import PluginError, Registry
from releasegate.settings import Settings

ENTRY_POINT_GROUP = "releasegate.guards"

GuardFactory: TypeAlias = Callable[[Settings], Guard]

GUARDS: Registry[GuardFactory] = Registry("guard", ENTRY_POINT_GROUP, callable)
"""Guard factories by name."""


class UnknownGuardError(GuardError):
    """A configured guard name is neither registered nor an installed entry point."""


def register_guard(name: str, factory: GuardFactory | None = None) -> Callable[..., GuardFactory]:
    """Register a guard factory under `name` from code; usable as a decorator or called directly.

    Args:
        name: the name tiers use in their `guards` list.
        factory: `(settings) -> Guard`; omit to use as `@register_guard("name")`.

    Returns:
        A decorator that registers and returns the factory.
    """

    def add(f: GuardFactory) -> GuardFactory:
        return GUARDS.register(name, f)

    if factory is not None:
        add(factory)
    return add


def available_guards() -> list[str]:
    """Names of every guard that `build_guards` can build (registered and entry points)."""
    return GUARDS.names()


def build_guard(name: str, settings: Settings) -> Guard:
    """Build one guard by name.

    Raises:
        UnknownGuardError: no guard of that name.
        GuardError: the guard could not be built (its model is missing, ...): fail closed.
    """
    if name not in GUARDS:
        raise UnknownGuardError(
            f"unknown guard {name!r}; available: {', '.join(available_guards())}"
        )
    try:
        factory = GUARDS.get(name)
    except PluginError as exc:
        raise GuardError(str(exc)) from exc
    try:
        guard = factory(settings)
    except GuardError:
        raise
    except Exception as exc:
        raise GuardError(f"could not build guard {name!r}: {type(exc).__name__}: {exc}") from exc
    if not isinstance(guard, Guard):
        raise GuardError(f"factory for guard {name!r} returned {type(guard).__name__}, not a Guard")
    return guard


def build_guards(names: Sequence[str], settings: Settings) -> GuardChain:
    """Build the chain of guards a tier lists (e.g. `TierSpec.guards`).

    Args:
        names: guard names, in order; duplicates are built once.
        settings: releasegate settings (endpoints, thresholds, window sizes).

    Returns:
        A `GuardChain` running them all.

    Raises:
        UnknownGuardError, GuardError: as `build_guard`.
    """
    unique = list(dict.fromkeys(names))
    return GuardChain([build_guard(n, settings) for n in unique], name="+".join(unique) or "none")


__all__ = [
    "ENTRY_POINT_GROUP",
    "GUARDS",
    "GuardFactory",
    "UnknownGuardError",
    "available_guards",
    "build_guard",
    "build_guards",
    "register_guard",
]
