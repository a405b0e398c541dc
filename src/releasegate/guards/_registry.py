"""Guard registry: names → factories, for built-ins and third parties alike.

Third-party packages add guards through the entry-point group `releasegate.guards`: the entry
point's name is the guard name used in tier configuration, its object a factory
`(settings) -> Guard`, e.g. in pyproject.toml:

    [project.entry-points."releasegate.guards"]
    my-filter = "my_package.guards:make_my_filter"

Built-ins register with the same `register_guard` call third parties may use in code.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, TypeAlias

from releasegate.guards._base import Guard, GuardError
from releasegate.guards._chain import GuardChain

if TYPE_CHECKING:
    from releasegate.settings import Settings

ENTRY_POINT_GROUP = "releasegate.guards"

GuardFactory: TypeAlias = Callable[["Settings"], Guard]

_REGISTRY: dict[str, GuardFactory] = {}


class UnknownGuardError(GuardError):
    """A configured guard name is neither built in, registered, nor an installed entry point."""


def register_guard(name: str, factory: GuardFactory | None = None) -> Callable[..., GuardFactory]:
    """Register a guard factory under `name`; usable as a decorator or called directly.

    Args:
        name: the name tiers use in their `guards` list.
        factory: `(settings) -> Guard`; omit to use as `@register_guard("name")`.

    Returns:
        A decorator that registers and returns the factory.
    """

    def add(f: GuardFactory) -> GuardFactory:
        _REGISTRY[name] = f
        return f

    if factory is not None:
        add(factory)
    return add


def _entry_point_factory(name: str) -> GuardFactory | None:
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name == name:
            loaded = ep.load()
            if not callable(loaded):
                raise GuardError(f"entry point {ep.value!r} for guard {name!r} is not callable")
            factory: GuardFactory = loaded
            return factory
    return None


def available_guards() -> list[str]:
    """Names of every guard that `build_guards` can build (registered and entry points)."""
    _register_builtins()
    names = set(_REGISTRY) | {ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)}
    return sorted(names)


def build_guard(name: str, settings: Settings) -> Guard:
    """Build one guard by name.

    Raises:
        UnknownGuardError: no guard of that name.
        GuardError: the guard could not be built (its model is missing, ...): fail closed.
    """
    _register_builtins()
    factory = _REGISTRY.get(name) or _entry_point_factory(name)
    if factory is None:
        raise UnknownGuardError(
            f"unknown guard {name!r}; available: {', '.join(available_guards())}"
        )
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


_builtins_done = False


def _register_builtins() -> None:
    # Deferred so importing releasegate.guards stays cheap (no torch until a guard is built).
    global _builtins_done
    if _builtins_done:
        return
    _builtins_done = True
    from releasegate.guards import _builtin

    _builtin.register_all()
