"""The op registry: one row per op (registry.py for the scalar rows, arrays.py for the array
rows, extremes.py for max and min, indexing.py for s[i], s[a:b] and x[idx], reductions.py for
prod, var, std, argmax, argmin and logsumexp, reshaping.py for reshape, stack, arange and
friends, comparisons.py for <, >, <=, >=, % and where; keywords.py binds a row to keyword
arguments).

Importing the package registers the scalar rows; every other row module loads on first use
(lazy.py): the tables know all of their names from the start, and a row loads when read.
"""

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
