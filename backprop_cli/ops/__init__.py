"""The op registry: one row per op (registry.py for the scalar rows, arrays.py for the array
rows, extremes.py for max and min, indexing.py for s[i], s[a:b] and x[idx], reductions.py for
prod, var, std, argmax, argmin and logsumexp, reshaping.py for reshape, stack, arange and
friends, comparisons.py for <, >, <=, >=, % and where; keywords.py binds a row to keyword
arguments).

Importing the package registers every row, so the parser always sees the whole table.
"""

from . import arrays as _arrays  # noqa: F401  (registers the array rows)
from . import comparisons as _comparisons  # noqa: F401  (registers <, >, <=, >=, %, where)
from . import extremes as _extremes  # noqa: F401  (registers max and min)
from . import indexing as _indexing  # noqa: F401  (registers s[i], s[a:b], x[idx])
from . import reshaping as _reshaping  # noqa: F401  (registers reshape, stack, arange, ...)
from .registry import (
    BP_ADD,
    BP_ATOM,
    BP_MUL,
    BP_POW,
    BP_UNARY,
    CONST,
    CONSTANTS,
    FUNCTIONS,
    INFIX,
    OPS,
    PREFIX,
    ROWS,
    SCALAR,
    VAR,
    Op,
    array_math,
)

__all__ = ["BP_ADD", "BP_ATOM", "BP_MUL", "BP_POW", "BP_UNARY", "CONST", "CONSTANTS", "FUNCTIONS",
           "INFIX", "OPS", "PREFIX", "ROWS", "SCALAR", "VAR", "Op", "array_math"]
