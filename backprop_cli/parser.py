"""Tokens -> graph, with an explicit operator stack (shunting-yard) instead of recursion.

The parser builds the flat graph directly, so nesting depth costs stack entries, never Python
frames: a 100,000-deep parenthesis nest parses like any other input. Precedence and
associativity come from the op registry's binding powers, the same ones the printer uses.

Statements are separated by ';' or newlines; `name = expr` and `name op= expr` assign, and the
program's output is the value of the last statement.
"""

from __future__ import annotations

import difflib

from .errors import ArityError, LimitError, NameResolutionError, ParseError
from .graph import Graph
from .lexer import Token, tokens
from .ops import BP_UNARY, CONSTANTS, FUNCTIONS, INFIX, OPS, PREFIX

MAX_SOURCE_BYTES = 64 * 1024 * 1024

_AUGMENTED = {"+=": "+", "-=": "-", "*=": "*", "/=": "/", "**=": "**"}

# Operator-stack entry kinds.
_BIN, _PRE, _PAREN, _CALL = 0, 1, 2, 3


def parse(source: str) -> Graph:
    """Parse a program into a finished graph whose last node is the output."""
    if len(source) > MAX_SOURCE_BYTES:
        raise LimitError(f"the program is {len(source):,} characters; the limit is "
                         f"{MAX_SOURCE_BYTES:,}")
    return _Parser(source).program()


class _Parser:
    def __init__(self, source: str):
        self.source = source
        self.graph = Graph(source)
        self.assigned: dict[str, int] = {}
        self.stream = tokens(source)
        self.pending: Token | None = None

    def next(self) -> Token:
        if self.pending is not None:
            tok, self.pending = self.pending, None
            return tok
        return next(self.stream)

    def error(self, message: str, tok: Token, hint: str | None = None,
              cls: type = ParseError) -> ParseError:
        return cls(message, self.source, (tok.start, max(tok.end, tok.start + 1)), hint)

    # --- statements -------------------------------------------------------------------

    def program(self) -> Graph:
        last = -1
        while True:
            tok = self.next()
            while tok.kind == "sep":
                tok = self.next()
            if tok.kind == "end":
                break
            target = None
            augment = None
            if tok.kind == "name":
                after = self.next()
                if after.kind == "op" and (after.text == "=" or after.text in _AUGMENTED):
                    target = tok
                    augment = _AUGMENTED.get(after.text)
                    tok = self.next()
                else:
                    self.pending = after
            node, start, stop = self.expression(tok)
            if target is not None:
                name = target.text
                self.check_assignable(target)
                if augment is not None:
                    old = self.resolve(target)
                    node = self.graph.add_op(INFIX[augment], (old, node), target.start, stop.start)
                self.graph.name_node(node, name)
                self.assigned[name] = node
            last = node
            if stop.kind == "end":
                break
        if last < 0:
            raise ParseError("the program is empty", self.source, (0, 1),
                             'give an expression, e.g. "(x+y)*z"')
        return self.graph.finish(last)

    def check_assignable(self, tok: Token) -> None:
        name = tok.text
        if name in CONSTANTS:
            raise self.error(f"cannot assign to the constant {name}", tok)
        if name in FUNCTIONS:
            raise self.error(f"cannot assign to {name}: it is a function", tok)

    def resolve(self, tok: Token) -> int:
        """The node a bare name refers to: an assigned value, a constant or a variable."""
        name = tok.text
        node = self.assigned.get(name)
        if node is not None:
            return node
        if name in CONSTANTS:
            return self.graph.add_constant(CONSTANTS[name], tok.start, tok.end, name)
        if name in FUNCTIONS:
            raise self.error(f"{name} is a function", tok, f"call it as {name}(...)",
                             NameResolutionError)
        return self.graph.add_variable(name, tok.start, tok.end)

    # --- expressions ------------------------------------------------------------------

    def expression(self, tok: Token) -> tuple[int, int, Token]:
        """Parse one expression starting at `tok`; return (node, start, the token that ended it)."""
        g = self.graph
        add_op = g.add_op
        operands: list[int] = []
        ostart: list[int] = []
        oend: list[int] = []
        ops: list[tuple] = []  # (kind, op, bp, right_assoc, start, end)
        argcounts: list[int] = []
        expect_operand = True
        first = tok.start

        def reduce() -> None:
            kind, op, _bp, _right, start, end = ops.pop()
            if kind == _BIN:
                b = operands.pop()
                b_end = oend.pop()
                ostart.pop()
                a = operands[-1]
                a_start = ostart[-1]
                operands[-1] = add_op(op, (a, b), a_start, b_end)
                oend[-1] = b_end
            else:  # prefix
                a = operands[-1]
                a_end = oend[-1]
                if op.name == "neg" and g.ops[a].name == "const" and a not in g.names:
                    operands[-1] = g.add_constant(-g.consts[a], start, a_end)
                else:
                    operands[-1] = add_op(op, (a,), start, a_end)
                ostart[-1] = start

        while True:
            kind = tok.kind
            text = tok.text
            if expect_operand:
                if kind == "num":
                    try:
                        value = float(text)
                    except ValueError:  # pragma: no cover - the lexer only passes valid floats
                        raise self.error(f"bad number {text!r}", tok) from None
                    if value == float("inf"):
                        raise self.error(f"the number {text} is too large for float64", tok,
                                         cls=LimitError)
                    operands.append(g.add_constant(value, tok.start, tok.end))
                    ostart.append(tok.start)
                    oend.append(tok.end)
                    expect_operand = False
                elif kind == "name":
                    nxt = self.next()
                    if nxt.kind == "op" and nxt.text == "(":
                        op = FUNCTIONS.get(text)
                        if op is None:
                            raise self.unknown_function(tok)
                        ops.append((_CALL, op, 0, False, tok.start, nxt.end))
                        argcounts.append(1)
                        after = self.next()
                        if after.kind == "op" and after.text == ")":
                            msg = op.check_arity(0) or f"{op.name}() needs arguments"
                            raise ArityError(msg, self.source, (tok.start, after.end))
                        tok = after
                        continue
                    self.pending = nxt
                    operands.append(self.resolve(tok))
                    ostart.append(tok.start)
                    oend.append(tok.end)
                    expect_operand = False
                elif kind == "op" and text == "(":
                    ops.append((_PAREN, None, 0, False, tok.start, tok.end))
                elif kind == "op" and text in PREFIX:
                    ops.append((_PRE, PREFIX[text], BP_UNARY, True, tok.start, tok.end))
                elif kind == "op" and text == "+":
                    pass  # unary plus is the identity: no node
                else:
                    raise self.expected_operand(tok)
            else:
                if kind == "op" and text in INFIX:
                    op = INFIX[text]
                    bp = op.bp
                    right = op.right_assoc
                    while ops:
                        top = ops[-1]
                        if top[0] > _PRE or not (top[2] > bp or (top[2] == bp and not right)):
                            break
                        reduce()
                    ops.append((_BIN, op, bp, right, tok.start, tok.end))
                    expect_operand = True
                elif kind == "op" and text == ")":
                    while ops and ops[-1][0] <= _PRE:
                        reduce()
                    if not ops:
                        raise self.error("unmatched ')'", tok)
                    mark = ops.pop()
                    if mark[0] == _PAREN:
                        ostart[-1] = mark[4]
                        oend[-1] = tok.end
                    else:
                        op = mark[1]
                        n = argcounts.pop()
                        problem = op.check_arity(n)
                        if problem:
                            raise ArityError(problem, self.source, (mark[4], tok.end))
                        args = tuple(operands[-n:])
                        del operands[-n:], ostart[-n:], oend[-n:]
                        operands.append(add_op(op, args, mark[4], tok.end))
                        ostart.append(mark[4])
                        oend.append(tok.end)
                elif kind == "op" and text == ",":
                    while ops and ops[-1][0] <= _PRE:
                        reduce()
                    if not ops or ops[-1][0] != _CALL:
                        raise self.error("unexpected ','", tok,
                                         "commas separate a function's arguments")
                    argcounts[-1] += 1
                    expect_operand = True
                elif kind == "op" and text == ".T":
                    op = OPS.get("transpose")
                    if op is None:
                        raise self.error("'.T' needs array support", tok)
                    operands[-1] = add_op(op, (operands[-1],), ostart[-1], tok.end)
                    oend[-1] = tok.end
                elif kind in ("sep", "end"):
                    break
                else:
                    raise self.expected_operator(tok, operands and g.ops[operands[-1]].name)
            tok = self.next()

        while ops:
            if ops[-1][0] > _PRE:
                mark = ops[-1]
                what = "'('" if mark[0] == _PAREN else f"{mark[1].name}("
                raise ParseError(f"{what} is never closed", self.source,
                                 (mark[4], mark[5]), f"add ')' before the end of the statement")
            reduce()
        return operands[0], first, tok

    # --- messages ---------------------------------------------------------------------

    def expected_operand(self, tok: Token) -> ParseError:
        if tok.kind == "end":
            return self.error("unexpected end of input: expected a number, a name or '('", tok)
        if tok.kind == "sep":
            return self.error("the statement ends too early: expected a number, a name or '('",
                              tok)
        if tok.text == ")":
            return self.error("expected a number, a name or '(' before ')'", tok)
        if tok.text == "=":
            return self.error("unexpected '='", tok,
                              "assign with `name = expression` at the start of a statement")
        return self.error(f"expected a number, a name or '(' but found {tok.text!r}", tok)

    def expected_operator(self, tok: Token, prev_kind) -> ParseError:
        if tok.text == "=":
            return self.error("unexpected '='", tok,
                              "assign with `name = expression` at the start of a statement")
        hint = None
        if tok.kind in ("name", "num") or tok.text == "(":
            hint = "write '*' for a product, e.g. 2*x"
        return self.error(f"expected an operator or the end of the statement but found "
                          f"{tok.text!r}", tok, hint)

    def unknown_function(self, tok: Token) -> NameResolutionError:
        name = tok.text
        if name in self.assigned or name in self.graph.variables:
            return self.error(f"{name} is not a function", tok,
                              f"write {name}*(...) for a product", NameResolutionError)
        close = difflib.get_close_matches(name, list(FUNCTIONS), n=1)
        hint = f"did you mean {close[0]}?" if close else \
            "known functions: " + ", ".join(sorted(FUNCTIONS))
        return self.error(f"unknown function {name!r}", tok, hint, NameResolutionError)
