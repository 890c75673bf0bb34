"""Text -> tokens. Every character is accounted for: anything the language lacks is an error."""

from __future__ import annotations

import re
from collections.abc import Iterator
from itertools import accumulate, compress, repeat
from operator import is_not, itemgetter
from typing import NamedTuple

from ..errors import ParseError
from ..ops.registry import INFIX, PREFIX


class Token(NamedTuple):
    # num, name, op, attr (.name after a value: x.T, x.sum), sup (superscript digits),
    # sep (';' or newline), end, more (a chunk's end: see `chunks`)
    kind: str
    text: str
    start: int
    end: int


# Augmented assignments (`c += 1`); the parser reads them from here.
AUGMENTED = {"+=": "+", "-=": "-", "*=": "*", "/=": "/", "**=": "**"}
_PUNCTUATION = "(),=|[]:"
# Superscript digits as the page writes powers: x² is x**2, x⁻¹ is x**-1.
SUPERSCRIPTS = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁻", "0123456789-")
# Operator spellings come from the registry, so a new infix row needs no change here; the
# longest first, so that '**=' is one piece, not '*' '*='.
_SPELLINGS = {*INFIX, *PREFIX, *AUGMENTED}
_OPERATOR = "|".join([*map(re.escape, sorted((s for s in _SPELLINGS if len(s) > 1),
                                             key=len, reverse=True)),
                      "[" + "".join(map(re.escape, sorted(
                          {s for s in _SPELLINGS if len(s) == 1} | set(_PUNCTUATION)))) + "]"])

# A number literal: ASCII digits only (Python's `\\d` would take Arabic-Indic digits too), no
# underscores. Bindings and expected values are read with this same grammar.
NUMBER = r"(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"

# Every alternative is one piece of the source, and the last one matches any character, so the
# pieces tile the source exactly: a piece's start is the sum of the lengths before it. One
# findall in C and a dict lookup per piece is several times faster than a match object per token.
# The commonest pieces come first: the regex engine tries the alternatives in order.
_NAME = r"[A-Za-z_σ][A-Za-z_0-9]*"
_BLANK = r"[ \t\r\f]+"
_COMMENT = r"\#[^\n]*|\\\n"  # a comment, a line continuation
_ATTR = r"\.[A-Za-z_][A-Za-z_0-9]*"
_SUPER = r"[⁰¹²³⁴⁵⁶⁷⁸⁹⁻]+"
_PIECE = re.compile("|".join((_NAME, _OPERATOR, _BLANK, NUMBER, _COMMENT, _ATTR, _SUPER, ".")),
                    re.DOTALL)
# A token and the blanks after it (or the blanks a source starts with), the last alternative
# any other character but a blank: the pieces still tile the source, none is only blanks but
# the first, and stripping the blanks off each leaves the tokens. For a source with blanks and
# no '#' or '\\' (there blanks are the only gaps).
# Its runs are possessive (`*+`, `++`, Python 3.11): a run taken is never given back, which
# none of these pieces needs, so the engine keeps no backtracking state (findall 5-8 % less CPU).
_TOKEN = re.compile("(?:" + "|".join((_NAME.replace("]*", "]*+"), _OPERATOR,
                                      NUMBER.replace("[0-9]+", "[0-9]++"), _ATTR, _SUPER,
                                      r"[^ \t\r\f]")) + r")[ \t\r\f]*+|[ \t\r\f]++", re.DOTALL)
_BLANKS = " \t\r\f"

_WS = "ws"
_AGAIN = "?"  # a first character that does not tell the kind (see _kinds)
# A piece's kind from its first character; '.' and '\\' need a second look (see _kind).
_FIRST: dict[str, str] = {c: _WS for c in " \t\r\f#"}
_FIRST.update({c: "num" for c in "0123456789"})
_FIRST.update({c: "name" for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_"})
# ('!' starts '!=' but is no spelling alone: _kind tells the two apart)
_FIRST.update({s[0]: "op" for s in _SPELLINGS | set(_PUNCTUATION)
               if s[0] in _SPELLINGS or s[0] in _PUNCTUATION})
_FIRST.update({";": "sep", "\n": "sep", "σ": "name"})
_FIRST.update({c: "sup" for c in "⁰¹²³⁴⁵⁶⁷⁸⁹⁻"})

# A name glued to a number ("2x") would lex as two tokens; the parser reports it there.


def _kind(piece: str) -> str:
    if piece[0] == "." and len(piece) > 1 and not piece[1].isdigit():
        return "attr"
    if piece == "\\\n":
        return _WS
    if piece[0] == "." and len(piece) > 1:
        return "num"
    return "op" if piece in _SPELLINGS else "bad"


def scan(source: str, pos: int = 0, endpos: int | None = None,
         last: str = "end") -> tuple[list[str], list[str], list[int]]:
    """The tokens of `source` (of source[pos:endpos], at their places in the whole) as
    parallel lists (kinds, texts, starts), ending with a `last` token (`end`, or `more` where
    `chunks` goes on).

    A character the language lacks becomes a `bad` token; the parser raises `bad_character`
    when it reaches it, so an earlier mistake is still the one reported.
    """
    endpos = len(source) if endpos is None else endpos
    part = source if pos == 0 and endpos == len(source) else source[pos:endpos]
    # Whole-list steps that run in C (findall, map, accumulate): the per-piece work is a
    # dict lookup, never a Python-level loop iteration.
    if "#" in part or "\\" in part or " " not in part:  # no blanks: nothing to drop
        kinds, pieces, starts = _pieces(part, pos)
    else:
        pieces = _TOKEN.findall(part)
        starts = list(accumulate(map(len, pieces), initial=pos))
        del starts[-1]
        if pieces and pieces[0][0] in _BLANKS:  # the blanks the source starts with
            del pieces[0], starts[0]
        pieces = list(map(str.rstrip, pieces, repeat(_BLANKS)))
        kinds = _kinds(pieces)
    kinds.append(last)
    pieces.append("")
    starts.append(endpos)
    return kinds, pieces, starts


# Characters lexed at a time by `chunks`. A big program's tokens take ~80 bytes each (a
# string, a start, three list slots): lexed whole, a 10^5-node program's tokens are ~15 MB of
# fresh memory, its first touch a page fault every 4 KB (~2 us each on a VM), all of it held
# while the graph grows. Lexed a chunk at a time, the same few hundred KB are reused.
CHUNK = 1 << 15


def chunks(source: str) -> Iterator[tuple[list[str], list[str], list[int]]]:
    """`scan`'s lists for `source`, CHUNK characters or so at a time: every chunk but the last
    ends with a `more` token, where the parser asks for the next. A chunk ends only where no
    token is cut and nothing before it needs to look past it: after a new line (not a
    continuation), or after a ' + ' (an operand comes next, whatever came before), which a
    comment could hold, so not in a source with one."""
    pos, size = 0, CHUNK
    plus = "#" not in source
    while len(source) - pos > size:
        cut = _cut(source, pos + size, plus)
        if cut < 0:
            break
        yield scan(source, pos, cut, "more")
        pos = cut
    yield scan(source, pos)


def _cut(source: str, at: int, plus: bool) -> int:
    """The first place a chunk may end at or after `at` (see `chunks`), or -1. Line by line,
    each looked at once: a ' + ' on a continued line ends the search there, so a program of
    continued lines costs its length, not its length times its chunks."""
    while True:
        line = source.find("\n", at)
        end = len(source) if line < 0 else line
        if plus and (sum_at := source.find(" + ", at, end)) >= 0:
            cut = sum_at + 3
            break
        if line < 0:
            return -1
        if source[line - 1] != "\\":  # (a continued line goes on after its new line)
            cut = line + 1
            break
        at = line + 1
    return cut if cut < len(source) else -1


def _kinds(pieces: list[str]) -> list[str]:
    """Each piece's kind, from its first character (a second look for the few that need it)."""
    # A string stands for "look again", not None: `in` compares strings to it in C at once,
    # where None against each string takes Python's whole comparison protocol.
    kinds = list(map(_FIRST.get, map(itemgetter(0), pieces), repeat(_AGAIN)))
    if _AGAIN in kinds:
        for k, kind in enumerate(kinds):
            if kind is _AGAIN:
                kinds[k] = _kind(pieces[k])
    return kinds


def _pieces(source: str, offset: int = 0) -> tuple[list[str], list[str], list[int]]:
    """Every piece of `source` (starting at `offset` in the whole), blanks, comments and
    continuations dropped."""
    pieces = _PIECE.findall(source)
    starts = list(accumulate(map(len, pieces), initial=offset))
    kinds = _kinds(pieces)
    if _WS in kinds:
        keep = list(map(is_not, kinds, repeat(_WS)))
        kinds = list(compress(kinds, keep))
        pieces = list(compress(pieces, keep))
        starts = list(compress(starts, keep))
    else:
        del starts[-1]
    return kinds, pieces, starts


def tokens(source: str) -> Iterator[Token]:
    """Yield the tokens of `source`, then one `end` token."""
    for kind, text, start in zip(*scan(source)):
        if kind == "bad":
            raise bad_character(source, start, text)
        yield Token(kind, text, start, start + len(text))


def bad_character(source: str, pos: int, ch: str) -> ParseError:
    """The error for a character the language lacks, with a hint where one helps."""
    what = repr(ch) if ch.isprintable() else f"U+{ord(ch):04X}"
    hint = None
    if ch in "{}":
        hint = "a list is written [a, b]; a dict has no meaning here"
    elif ch in "!~":
        hint = "'not equal' is x != y; 'not' is 1 minus the test, e.g. 1 - (x > 0)"
    elif ch in "&":
        hint = "for 'and' multiply the tests, e.g. (x > 0) * (x < 1)"
    elif source.startswith("...", pos):
        hint = "name each axis before the one you take: W[:, 0], T[:, :, 0]"
    elif ch == "‖":
        hint = "write norm(x) for the norm ‖x‖"
    return ParseError(f"unexpected character {what}", source, (pos, pos + 1), hint)
