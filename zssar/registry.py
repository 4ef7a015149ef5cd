"""One small registry type for every kind of named thing: datasets, methods, encoders, backbones,
training objectives and published splits.

    METHODS = Registry("method", load=_import_methods)

    @METHODS.register("global")
    class GlobalBaseline(Method): ...

    METHODS.get("global")       # the registered object, or an error naming every registered name
    METHODS.names()             # sorted names

``load`` imports the modules that register themselves, the first time a name is looked up, so that
importing a package stays light. ``error`` is the exception raised for an unknown name.
"""
from __future__ import annotations

from typing import Any, Callable

from .errors import InvalidConfig


class Registry:
    """Names -> registered objects of one kind."""

    def __init__(self, kind: str, *, load: Callable[[], None] | None = None, error: type[Exception] = InvalidConfig,
                 hint: str = ""):
        self.kind, self._load, self.error, self.hint = kind, load, error, hint
        self._items: dict[str, Any] = {}
        self._loaded = load is None

    def register(self, name: str, obj: Any = None):
        """Register ``obj`` under ``name``; without ``obj``, a decorator that registers what it wraps."""
        if obj is not None:
            self._items[name] = obj
            return obj

        def wrap(thing):
            self._items[name] = thing
            return thing

        return wrap

    def _ensure_loaded(self) -> None:
        if not self._loaded:
            self._loaded = True  # before loading: a module that looks a name up while registering is fine
            self._load()

    def get(self, name: str) -> Any:
        self._ensure_loaded()
        try:
            return self._items[name]
        except KeyError:
            hint = f"; {self.hint}" if self.hint else ""
            raise self.error(f"unknown {self.kind} {name!r}; registered: {', '.join(self.names())}{hint}") from None

    def names(self) -> list[str]:
        self._ensure_loaded()
        return sorted(self._items)

    def __contains__(self, name: str) -> bool:
        self._ensure_loaded()
        return name in self._items

    def items(self):
        self._ensure_loaded()
        return sorted(self._items.items())

    # read like a mapping: registry[name], iteration over names, values()
    __getitem__ = get

    def __iter__(self):
        return iter(self.names())

    def __len__(self) -> int:
        return len(self.names())

    def values(self) -> list:
        return [obj for _, obj in self.items()]
