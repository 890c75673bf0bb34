"""Backward file text -> its lines `dNAME = EXPR` and `dNAME += EXPR`, each EXPR parsed by the
language's own parser (never eval, exec or sympify).

One gradient step per line; `#` starts a comment; blank lines are skipped. An EXPR is an
expression of the language whose names are forward names, bound variables and gradients
(dNAME); which is which is decided by the grader, which knows the forward program.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import BackpropError, ParseError
from ..graph import Graph
from ..language.lexer import Token, bad_character, scan
from ..language.parser import parse

MAX_BACKWARD_LINES = 100_000  # far past any hand-written backward pass


@dataclass(frozen=True)
class BackwardLine:
    """One gradient step as written."""

    number: int  # 1-based line of the backward file
    target: str  # NAME, for a line that writes dNAME
    accumulate: bool  # `+=` (the fan-out rule: gradients add) rather than `=`
    graph: Graph  # EXPR, parsed; its variables are the names it reads
    offset: int  # where the line starts in the file's text
    text: str  # the line as written, without its comment

    @property
    def grad_name(self) -> str:
        return "d" + self.target

    @property
    def spelled(self) -> str:
        return f"{self.grad_name} {'+=' if self.accumulate else '='}"


@dataclass(frozen=True)
class BackwardFile:
    source: str
    lines: tuple[BackwardLine, ...]


def moved(err: BackpropError, source: str, offset: int) -> BackpropError:
    """An error raised on one line's text, pointed at the same place in the whole file."""
    if err.span is not None:
        err.span = (err.span[0] + offset, err.span[1] + offset)
        err.source = source
    return err


def read_backward(source: str) -> BackwardFile:
    """Every gradient line of a backward file, in order. Raises ParseError (with the line and
    a caret) for a line that is not `dNAME = EXPR` or `dNAME += EXPR`."""
    lines: list[BackwardLine] = []
    offset = 0
    for number, line in enumerate(source.split("\n"), start=1):
        start = offset
        offset += len(line) + 1
        if number > MAX_BACKWARD_LINES:
            raise ParseError(f"the backward file has more than {MAX_BACKWARD_LINES:,} lines",
                             source, (start, start + 1))
        try:
            read = _read_line(line, number)
        except BackpropError as err:
            raise moved(err, source, start) from None
        if read is not None:
            lines.append(BackwardLine(number, read[0], read[1], read[2], start, read[3]))
    if not lines:
        raise ParseError("the backward file has no gradient lines", source, (0, 1),
                         "write one line per gradient step, e.g. dx = dq * y")
    return BackwardFile(source, tuple(lines))


def tokens(text: str) -> list[Token]:
    """The tokens of one line, as the parser's lexer reads them (`scan`), ending with `end`;
    a character the language lacks is the lexer's own error."""
    kinds, texts, starts = scan(text)
    out = []
    for kind, piece, start in zip(kinds, texts, starts):
        if kind == "bad":
            raise bad_character(text, start, piece)
        out.append(Token(kind, piece, start, start + len(piece)))
    return out


def _top_level_assignment(toks: list[Token]) -> Token | None:
    """A second `=` (or `+=`) outside brackets: `sum(x, axis=0)`'s keyword is inside them."""
    depth = 0
    for t in toks:
        if t.kind != "op":
            continue
        if t.text in ("(", "["):
            depth += 1
        elif t.text in (")", "]"):
            depth -= 1
        elif depth <= 0 and t.text.endswith("="):
            return t
    return None


def _read_line(line: str, number: int) -> tuple[str, bool, Graph, str] | None:
    toks = tokens(line)
    while toks and toks[-1].kind in ("end", "sep") and toks[-1].text != ";":
        toks.pop()
    if not toks:
        return None  # blank, or a comment
    first = toks[0]
    usage = "a backward line is dNAME = EXPR or dNAME += EXPR, NAME a forward name or a " \
            "bound variable"
    if first.kind != "name" or len(toks) < 2 or toks[1].kind != "op":
        raise ParseError("expected dNAME = EXPR", line, (first.start, first.end), usage)
    op = toks[1]
    if op.text not in ("=", "+="):
        if op.text.endswith("="):
            raise ParseError(f"'{op.text}' is not a gradient step", line, (op.start, op.end),
                             "write dNAME = EXPR, or dNAME += EXPR to add a share")
        raise ParseError("expected '=' or '+=' after the gradient's name", line,
                         (op.start, op.end), usage)
    if not first.text.startswith("d") or len(first.text) < 2:
        raise ParseError(f"{first.text} is not a gradient's name", line,
                         (first.start, first.end), "name the gradient of x dx: " + usage)
    rest = toks[2:]
    if not rest:
        raise ParseError(f"nothing after '{op.text}'", line, (op.start, op.end),
                         "give the gradient's expression")
    semicolon = next((t for t in rest if t.kind == "sep"), None)
    if semicolon is not None:
        raise ParseError("one gradient step per line", line,
                         (semicolon.start, semicolon.end), "start a new line instead of ';'")
    again = _top_level_assignment(rest)
    if again is not None:
        raise ParseError(f"unexpected '{again.text}'", line, (again.start, again.end),
                         "one gradient step per line: dNAME = EXPR")
    # The expression is parsed where it stands in the line (the target blanked out), so an
    # error's column is the column in the file.
    begin = rest[0].start
    end = rest[-1].end
    graph = parse(" " * begin + line[begin:end])
    return first.text[1:], op.text == "+=", graph, line[:end].rstrip()
