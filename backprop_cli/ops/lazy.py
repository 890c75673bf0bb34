"""Row modules loaded on first use: the registry knows every name without importing their rules.

registry.py states the lecture's scalar rows; the array vocabulary (reductions, matmul, indexing,
reshaping, comparisons, max/min) lives in modules of its own, imported when a program first
names one of their rows, so a scalar program never pays for them. `NAMES` below is the static
table of what each module defines (tests/test_ops.py holds it equal to what the modules
register), and the registry's tables (`OPS`, `FUNCTIONS`, `INFIX`, `ROWS`) are the lazy
containers here: a name of a module not loaded yet is a key already, its row loads when read,
and reading every row (iterating `ROWS`, a table's `values()` or `items()`) loads every module.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple


class Names(NamedTuple):
    """What a row module registers: row names, callable spellings, infix spellings."""

    rows: tuple[str, ...]
    functions: tuple[str, ...] = ()
    infix: tuple[str, ...] = ()


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


# In the order the rows are listed (reductions before arrays: arrays' sum, mean, amax and amin
# take their rules from reductions.py).
NAMES: dict[str, Names] = {
    "reductions": Names(
        _words("prod variance std argmax argmin logsumexp"),
        _words("prod variance var std argmax argmin logsumexp")),
    "arrays": Names(
        _words("matmul transpose sum mean amax amin norm softmax cross_entropy log_softmax "
               "svm_loss"),
        _words("matmul dot transpose sum mean amax amin norm softmax cross_entropy "
               "log_softmax svm_loss"),
        ("@",)),
    "comparisons": Names(_words("lt gt le ge eq ne mod where"), ("where",),
                         _words("< > <= >= == != %")),
    "extremes": Names(_words("max min maximum minimum"), _words("max min maximum minimum")),
    "indexing": Names(_words("add_at index slice subscript take"), ("add_at",)),
    "reshaping": Names(
        _words("reshape stack concatenate ones_like zeros_like arange one_hot"),
        _words("reshape stack concatenate ones_like zeros_like arange one_hot")),
}
MODULES = tuple(NAMES)

# The registry's listed order of rows (its own first, then by module as listed above), so
# what iterates the tables sees one order whichever program loaded a module first.
_ORDER: list[Callable[[Any], Any]] = [lambda row: 0]
_STATE = {"all": False, "loading": False}
_LOCK = threading.RLock()  # worker threads parse at once: one loads, the others wait


def module_of(field: str) -> dict[str, str]:
    """Each name of one kind ("rows", "functions" or "infix") -> the module defining it."""
    return {name: module for module, names in NAMES.items()
            for name in getattr(names, field)}


def load(module: str) -> None:
    importlib.import_module(f"{__package__}.{module}")


def load_all() -> None:
    """Import every row module (once)."""
    if _STATE["all"]:
        return
    with _LOCK:
        if _STATE["all"] or _STATE["loading"]:  # loading: re-entered from a module's import
            return
        _STATE["loading"] = True
        try:
            for module in MODULES:
                load(module)
            _STATE["all"] = True
        finally:
            _STATE["loading"] = False


def order_by(key: Callable[[Any], Any]) -> None:
    """How the registry lists its rows (a sort key of a row)."""
    _ORDER[0] = key


def _listed(rows) -> list:
    return sorted(rows, key=_ORDER[0])


class LazyTable(dict):
    """name -> row. The names of rows not loaded yet are keys already (`in`, iteration); reading
    one's row imports its module. `values()` and `items()` load every module first."""

    def __init__(self, lazy: dict[str, str]):
        super().__init__()
        self.lazy = lazy

    def __missing__(self, key: str) -> Any:
        module = self.lazy.get(key)
        if module is not None:
            load(module)
            if dict.__contains__(self, key):
                return dict.__getitem__(self, key)
        raise KeyError(key)

    def get(self, key: str, default: Any = None) -> Any:
        if dict.__contains__(self, key):
            return dict.__getitem__(self, key)
        return self[key] if key in self.lazy else default

    def loaded(self, key: str) -> Any:
        """The row if its module is loaded, else None (nothing is imported)."""
        return dict.get(self, key)

    def __contains__(self, key: object) -> bool:
        return dict.__contains__(self, key) or key in self.lazy

    def __iter__(self) -> Iterator[str]:
        # The registry's own names first, then the lazy ones in the table's order: the same
        # order whatever is loaded.
        lazy = self.lazy
        yield from [key for key in dict.__iter__(self) if key not in lazy]
        yield from lazy

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def keys(self) -> list[str]:  # type: ignore[override]
        return list(self)

    def values(self) -> list:  # type: ignore[override]
        return [row for _, row in self.items()]

    def items(self) -> list:  # type: ignore[override]
        load_all()
        key = _ORDER[0]
        return sorted(dict.items(self), key=lambda entry: key(entry[1]))

    def copy(self) -> dict:
        return dict(self.items())


class LazyRows(list):
    """Every row, in the listed order: reading the list loads every row module first."""

    def __iter__(self):
        load_all()
        return iter(_listed(list.__iter__(self)))

    def __len__(self) -> int:
        load_all()
        return list.__len__(self)

    def __getitem__(self, k):
        load_all()
        return _listed(list.__iter__(self))[k]

    def __contains__(self, row: object) -> bool:
        load_all()
        return list.__contains__(self, row)
