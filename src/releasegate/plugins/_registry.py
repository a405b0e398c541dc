"""`Registry[T]`: named extensions of one kind, from entry points or registered in code.

Built-ins and third parties register the same way: an entry point in a package's metadata,
e.g. in pyproject.toml

    [project.entry-points."releasegate.guards"]
    my-filter = "my_package.guards:make_my_filter"

The registry lists the names it can build from without importing anything, and imports an entry
point only when its name is asked for. Entry points are read afresh on each lookup (a few
milliseconds, at startup only), so a package installed while a process runs is seen. Code (an
application embedding releasegate, a test) may also `register` an object directly, under a name
no installed package declares.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from typing import Generic, TypeVar

T = TypeVar("T")

CODE = "registered in code"


class PluginError(Exception):
    """A plugin is unknown, ambiguous, or did not load as the registry's kind."""


@dataclass(frozen=True, slots=True)
class Plugin:
    """One registered name: what it is and where it comes from.

    Attributes:
        kind: the registry's kind (`backend`, `guard`).
        name: the name users write (a model spec prefix, a guard name).
        value: the entry point's `module:attribute`, or the object's qualified name.
        source: the distribution that declares it (`releasegate 0.1.0`), or "registered in code".
    """

    kind: str
    name: str
    value: str
    source: str


def _source(ep: EntryPoint) -> str:
    dist = ep.dist
    if dist is None:
        return "unknown distribution"
    return f"{dist.metadata['Name']} {dist.version}"


class Registry(Generic[T]):
    """Named objects of one kind (factories, usually) from one entry-point group.

    Args:
        kind: what the objects are, for messages (`backend`, `guard`).
        group: the entry-point group (`releasegate.backends`).
        check: whether a loaded object is a valid `T` (a plugin that is not is refused).
    """

    def __init__(self, kind: str, group: str, check: Callable[[object], bool]) -> None:
        self.kind = kind
        self.group = group
        self._check = check
        self._code: dict[str, T] = {}
        self._loaded: dict[str, T] = {}  # by entry-point value (module:attribute)
        self._lock = threading.Lock()

    def _entry_points(self) -> dict[str, list[EntryPoint]]:
        found: dict[str, list[EntryPoint]] = {}
        for ep in entry_points(group=self.group):
            same = found.setdefault(ep.name, [])
            if all(other.value != ep.value for other in same):  # one dist seen on two paths
                same.append(ep)
        return found

    def register(self, name: str, obj: T) -> T:
        """Register `obj` under `name` from code (again: replaces the earlier one).

        Raises:
            PluginError: an installed package declares `name`, or `obj` is not valid.
        """
        if name in self._entry_points():
            raise PluginError(f"{self.kind} {name!r} is already declared by an installed package")
        if not self._check(obj):
            raise PluginError(f"{obj!r} is not a valid {self.kind}")
        self._code[name] = obj
        return obj

    def names(self) -> list[str]:
        """Every name the registry can build from, sorted."""
        return sorted(set(self._code) | set(self._entry_points()))

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and (name in self._code or name in self._entry_points())

    def get(self, name: str) -> T:
        """The object registered under `name`, loading its entry point on first use.

        Raises:
            PluginError: no such name; two distributions declare it; it does not load, or is
                not a valid object of this kind.
        """
        if name in self._code:
            return self._code[name]
        points = self._entry_points().get(name)
        if not points:
            raise PluginError(
                f"unknown {self.kind} {name!r}; available: {', '.join(self.names()) or 'none'}"
            )
        if len(points) > 1:
            where = "; ".join(f"{_source(p)} ({p.value})" for p in points)
            raise PluginError(f"{self.kind} {name!r} is declared by more than one package: {where}")
        point = points[0]
        with self._lock:
            if point.value in self._loaded:
                return self._loaded[point.value]
        try:
            obj = point.load()
        except Exception as exc:
            raise PluginError(
                f"{self.kind} {name!r} ({points[0].value}) failed to load: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        if not self._check(obj):
            raise PluginError(
                f"{self.kind} {name!r} ({points[0].value}) is not a valid {self.kind}"
            )
        with self._lock:
            self._loaded[point.value] = obj
        return obj  # type: ignore[no-any-return]

    def plugins(self) -> list[Plugin]:
        """What is registered and where it comes from, sorted by name."""
        out = [
            Plugin(self.kind, name, f"{getattr(obj, '__module__', '?')}:{_qualname(obj)}", CODE)
            for name, obj in self._code.items()
        ]
        for name, points in self._entry_points().items():
            if name not in self._code:
                out.extend(Plugin(self.kind, name, p.value, _source(p)) for p in points)
        return sorted(out, key=lambda p: (p.name, p.source))


def _qualname(obj: object) -> str:
    return str(getattr(obj, "__qualname__", type(obj).__qualname__))


__all__ = ["CODE", "Plugin", "PluginError", "Registry"]
