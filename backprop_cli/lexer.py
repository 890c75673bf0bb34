"""Text -> tokens. Every character is accounted for: anything the language lacks is an error."""

from __future__ import annotations

import re
from typing import Iterator, NamedTuple

from .errors import ParseError


class Token(NamedTuple):
    kind: str  # num, name, op, sep (';' or newline), end
    text: str
    start: int
    end: int


_TOKEN = re.compile(
    r"""
     (?P<ws>[ \t\r\f]+|\#[^\n]*|\\\n)
    |(?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
    |(?P<name>[A-Za-z_][A-Za-z_0-9]*)
    |(?P<op>\*\*=|\*\*|\+=|-=|\*=|/=|[-+*/^@(),=]|\.T(?![A-Za-z_0-9]))
    |(?P<sep>[;\n])
    |(?P<bad>.)
    """,
    re.VERBOSE | re.DOTALL,
)

# A name glued to a number ("2x") would lex as two tokens; the parser reports it there.


def tokens(source: str) -> Iterator[Token]:
    """Yield the tokens of `source`, then one `end` token."""
    for m in _TOKEN.finditer(source):
        kind = m.lastgroup
        if kind == "ws":
            continue
        if kind == "bad":
            ch = m.group()
            what = repr(ch) if ch.isprintable() else f"U+{ord(ch):04X}"
            hint = None
            if ch in "[]{}":
                hint = "arrays are given as bindings, e.g. x=[1,2]"
            elif ch == "!" or ch == "<" or ch == ">" or ch == "&" or ch == "|":
                hint = "the language has arithmetic only"
            raise ParseError(f"unexpected character {what}", source, (m.start(), m.end()), hint)
        yield Token(kind, m.group(), m.start(), m.end())
    yield Token("end", "", len(source), len(source))
