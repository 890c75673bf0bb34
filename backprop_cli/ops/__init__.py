"""The op registry: one row per op (registry.py for the scalar rows, arrays.py for the array
rows, extremes.py for max and min, indexing.py for s[i] and s[a:b]).

Importing the package registers every row, so the parser always sees the whole table.
"""

from . import arrays as _arrays  # noqa: F401  (registers the array rows)
from . import extremes as _extremes  # noqa: F401  (registers max and min)
from . import indexing as _indexing  # noqa: F401  (registers s[i] and s[a:b])
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
