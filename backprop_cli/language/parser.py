"""Tokens -> graph, with an explicit operator stack (shunting-yard) instead of recursion.

The parser builds the flat graph directly, so nesting depth costs stack entries, never Python
frames: a 100,000-deep parenthesis nest parses like any other input. Precedence and
associativity come from the op registry's binding powers, the same ones the printer uses.

Statements are separated by ';' or newlines; `name = expr` and `name op= expr` assign, and the
program's output is the value of the last statement.
"""

from __future__ import annotations

import gc
from functools import partial

from ..errors import ArityError, LimitError, NameResolutionError, ParseError
from ..graph import Graph
from ..ops.registry import BP_UNARY, CONSTANTS, FUNCTIONS, INFIX, OPS, PREFIX, known_functions
from .lexer import AUGMENTED, SUPERSCRIPTS, Token, bad_character, scan

MAX_SOURCE_BYTES = 64 * 1024 * 1024


# Operator-stack entry kinds; every kind above _PRE is a bracket the reductions stop at.
_BIN, _PRE, _PAREN, _CALL, _BARS = 0, 1, 2, 3, 4


def parse(source: str) -> Graph:
    """Parse a program into a finished graph whose last node is the output."""
    if len(source) > MAX_SOURCE_BYTES:
        raise LimitError(f"the program is {len(source):,} characters; the limit is "
                         f"{MAX_SOURCE_BYTES:,}")
    # The parser makes a tuple per node and never a cycle; the collector, woken every few
    # hundred allocations, would walk the growing graph again and again (a sixth of the time
    # on a big program) and find nothing to free.
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _Parser(source).program()
    finally:
        if enabled:
            gc.enable()


class _Parser:
    def __init__(self, source: str):
        self.source = source
        self.graph = Graph(source)
        self.assigned: dict[str, int] = {}
        # Tokens as parallel lists, addressed by index: no token objects on the hot path.
        self.kinds, self.texts, self.starts = scan(source)
        self.infix = {text: (op, op.bp, op.right_assoc) for text, op in INFIX.items()}

    def token(self, k: int) -> Token:
        text = self.texts[k]
        return Token(self.kinds[k], text, self.starts[k], self.starts[k] + len(text))

    def error(self, message: str, tok: Token, hint: str | None = None,
              cls: type = ParseError) -> ParseError:
        if tok.kind == "bad":
            return bad_character(self.source, tok.start, tok.text)
        return cls(message, self.source, (tok.start, max(tok.end, tok.start + 1)), hint)

    # --- statements -------------------------------------------------------------------

    def program(self) -> Graph:
        kinds, texts = self.kinds, self.texts
        last = -1
        k = 0
        while True:
            while kinds[k] == "sep":
                k += 1
            if kinds[k] == "end":
                break
            target = -1
            if kinds[k] == "name" and kinds[k + 1] == "op" and \
                    (texts[k + 1] == "=" or texts[k + 1] in AUGMENTED):
                target = k
                k += 2
            node, _start, k = self.expression(k)
            if target >= 0:
                node = self.assign(target, node, k)
            last = node
            if kinds[k] == "end":
                break
            k += 1
        if last < 0:
            raise ParseError("the program is empty", self.source, (0, 1),
                             'give an expression, e.g. "(x+y)*z"')
        return self.graph.finish(last)

    def assign(self, target: int, node: int, end: int) -> int:
        """`name = expr` or `name op= expr` at token `target`; returns the node named."""
        name = self.texts[target]
        if name in CONSTANTS or name in FUNCTIONS:
            self.check_assignable(self.token(target))
        augment = AUGMENTED.get(self.texts[target + 1])
        if augment is not None:
            old = self.resolve(self.token(target))
            node = self.graph.add_op(INFIX[augment], (old, node), self.starts[target],
                                     self.starts[end])
        self.graph.name_node(node, name)
        self.assigned[name] = node
        return node

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

    def expression(self, k: int) -> tuple[int, int, int]:
        """Parse one expression from token k; return (node, start, index of the ending token)."""
        g = self.graph
        add_op = g.add_op
        add_constant = g.add_constant
        kinds, texts, starts = self.kinds, self.texts, self.starts
        infix = self.infix
        assigned = self.assigned
        variables = g.variables
        operands: list[int] = []
        ostart: list[int] = []
        oend: list[int] = []
        ops: list[tuple] = []  # (kind, op, bp, right_assoc, start, end)
        argcounts: list[int] = []
        expect_operand = True
        first = starts[k]
        inf = float("inf")

        reduce = partial(self.reduce, ops, operands, ostart, oend)

        while True:
            kind = kinds[k]
            text = texts[k]
            if expect_operand:
                if kind == "name":
                    if kinds[k + 1] == "sup" and text in FUNCTIONS:
                        raise self.error(f"{text}{texts[k + 1]} is ambiguous", self.token(k + 1),
                                         f"write {text}(x)**{texts[k + 1].translate(SUPERSCRIPTS)}"
                                         f" for the power of {text}(x)")
                    if texts[k + 1] == "(" and kinds[k + 1] == "op":
                        op = FUNCTIONS.get(text)
                        if op is None:
                            raise self.unknown_function(self.token(k))
                        start = starts[k]
                        ops.append((_CALL, op, 0, False, start, starts[k + 1] + 1))
                        argcounts.append(1)
                        k += 2
                        if texts[k] == ")" and kinds[k] == "op":
                            msg = op.check_arity(0) or f"{op.name}() needs arguments"
                            raise ArityError(msg, self.source, (start, starts[k] + 1))
                        continue
                    node = assigned.get(text)
                    if node is None:
                        # A name already read as a variable is not a constant or a function.
                        node = variables.get(text)
                        if node is None:
                            if kinds[k + 1] == "bad":  # reported first, as a streaming lexer would
                                raise self.error("", self.token(k + 1))
                            node = self.resolve(self.token(k))
                    operands.append(node)
                    start = starts[k]
                    ostart.append(start)
                    oend.append(start + len(text))
                    expect_operand = False
                elif kind == "num":
                    value = float(text)  # the lexer only passes valid float literals
                    start = starts[k]
                    if value == inf:
                        raise self.error(f"the number {text} is too large for float64",
                                         self.token(k), cls=LimitError)
                    operands.append(add_constant(value, start, start + len(text)))
                    ostart.append(start)
                    oend.append(start + len(text))
                    expect_operand = False
                elif kind == "op" and text == "(":
                    ops.append((_PAREN, None, 0, False, starts[k], starts[k] + 1))
                elif kind == "op" and text == "|":
                    if texts[k + 1] == "|" and starts[k + 1] == starts[k] + 1:
                        raise self.error("'||' is ambiguous", self.token(k),
                                         "write norm(x) for the norm ||x||, or abs(abs(x))")
                    ops.append((_BARS, OPS["abs"], 0, False, starts[k], starts[k] + 1))
                elif kind == "op" and text in PREFIX:
                    start = starts[k]
                    ops.append((_PRE, PREFIX[text], BP_UNARY, True, start, start + len(text)))
                elif kind == "op" and text == "+":
                    pass  # unary plus is the identity: no node
                else:
                    raise self.expected_operand(self.token(k))
            elif kind == "sup":
                self.superscript(k, operands, ostart, oend)
            elif kind == "op" and text == "|" and any(o[0] == _BARS for o in ops):
                self.close_bars(k, ops, operands, ostart, oend)
            elif kind == "op":
                row = infix.get(text)
                if row is not None:
                    op, bp, right = row
                    while ops:
                        top = ops[-1]
                        if top[0] > _PRE or not (top[2] > bp or (top[2] == bp and not right)):
                            break
                        if top[0] == _BIN:  # the common case, inlined: one node per operator
                            ops.pop()
                            b = operands.pop()
                            b_end = oend.pop()
                            ostart.pop()
                            operands[-1] = add_op(top[1], (operands[-1], b), ostart[-1], b_end)
                            oend[-1] = b_end
                        else:
                            reduce()
                    start = starts[k]
                    ops.append((_BIN, op, bp, right, start, start + len(text)))
                    expect_operand = True
                elif text == ")":
                    while ops:
                        top = ops[-1]
                        if top[0] == _BIN:  # inlined as above
                            ops.pop()
                            b = operands.pop()
                            b_end = oend.pop()
                            ostart.pop()
                            operands[-1] = add_op(top[1], (operands[-1], b), ostart[-1], b_end)
                            oend[-1] = b_end
                        elif top[0] == _PRE:
                            reduce()
                        else:
                            break
                    if not ops:
                        raise self.error("unmatched ')'", self.token(k))
                    mark = ops.pop()
                    end = starts[k] + 1
                    if mark[0] == _BARS:
                        raise ParseError("'|' is never closed", self.source,
                                         (mark[4], mark[5]), "add '|' before ')'")
                    if mark[0] == _PAREN:
                        ostart[-1] = mark[4]
                        oend[-1] = end
                    else:
                        op = mark[1]
                        n = argcounts.pop()
                        if n != op.arity:
                            problem = op.check_arity(n)
                            if problem:
                                raise ArityError(problem, self.source, (mark[4], end))
                        args = tuple(operands[-n:])
                        del operands[-n:], ostart[-n:], oend[-n:]
                        operands.append(add_op(op, args, mark[4], end))
                        ostart.append(mark[4])
                        oend.append(end)
                elif text == ",":
                    while ops and ops[-1][0] <= _PRE:
                        reduce()
                    if not ops or ops[-1][0] != _CALL:
                        raise self.error("unexpected ','", self.token(k),
                                         "commas separate a function's arguments")
                    argcounts[-1] += 1
                    expect_operand = True
                elif text == "[":
                    k = self.index(k, operands, ostart, oend)
                elif text == ".T":
                    op = OPS.get("transpose")
                    if op is None:
                        raise self.error("'.T' needs array support", self.token(k))
                    end = starts[k] + 2
                    operands[-1] = add_op(op, (operands[-1],), ostart[-1], end)
                    oend[-1] = end
                else:
                    raise self.expected_operator(self.token(k))
            elif kind == "sep" or kind == "end":
                break
            else:
                raise self.expected_operator(self.token(k))
            k += 1

        while ops:
            if ops[-1][0] > _PRE:
                mark = ops[-1]
                what = {_PAREN: "'('", _BARS: "'|'"}.get(mark[0]) or f"{mark[1].name}("
                close = "'|'" if mark[0] == _BARS else "')'"
                raise ParseError(f"{what} is never closed", self.source,
                                 (mark[4], mark[5]), f"add {close} before the end of the statement")
            reduce()
        return operands[0], first, k

    def index(self, k: int, operands: list, ostart: list, oend: list) -> int:
        """s[i], s[a:b], s[a:], s[:b] after an operand: positions are whole numbers written
        in the program. Returns the index of the closing ']'."""
        texts, kinds = self.texts, self.kinds
        open_tok = self.token(k)
        bounds: list[float | None] = []
        colon = False
        k += 1
        while True:
            sign = 1.0
            if texts[k] == "-" and kinds[k] == "op":
                sign = -1.0
                k += 1
            if kinds[k] == "num":
                bounds.append(sign * float(texts[k]))
                k += 1
            elif sign < 0:
                raise self.error("expected a whole number after '-'", self.token(k))
            else:
                bounds.append(None)
            if texts[k] == ":" and kinds[k] == "op" and not colon:
                colon = True
                k += 1
                continue
            if texts[k] == "]" and kinds[k] == "op":
                break
            tok = self.token(k)
            hint = "index one axis at a time, e.g. W[1][2]" if tok.text == "," else \
                "positions are whole numbers written in the program, e.g. s[2] or s[1:3]"
            raise self.error(f"expected a whole number, ':' or ']' but found {tok.text!r}",
                             tok, hint)
        end = self.starts[k] + 1
        if not colon and bounds[0] is None:
            raise ParseError("'[]' needs a position", self.source, (open_tok.start, end),
                             "e.g. s[0] for the first entry")
        g = self.graph
        for b in bounds:
            if b is not None and b != int(b):
                raise ParseError(f"the position {b:g} is not a whole number", self.source,
                                 (open_tok.start, end))
        if colon:
            start, stop = bounds
            args = [g.add_constant(start or 0.0, open_tok.start, end)]
            if stop is not None:
                args.append(g.add_constant(stop, open_tok.start, end))
            op = OPS["slice"]
        else:
            args = [g.add_constant(bounds[0], open_tok.start, end)]
            op = OPS["index"]
        operands[-1] = g.add_op(op, (operands[-1], *args), ostart[-1], end)
        oend[-1] = end
        return k

    def superscript(self, k: int, operands: list, ostart: list, oend: list) -> None:
        """x² (superscript digits after an operand) is x**2: the power binds tightest."""
        text = self.texts[k]
        digits = text.translate(SUPERSCRIPTS)
        start, end = self.starts[k], self.starts[k] + len(text)
        if not digits.lstrip("-").isdigit() or digits.count("-") > 1:
            raise self.error(f"the superscript {text} is not a whole number", self.token(k),
                             "write the power with **, e.g. x**-1")
        g = self.graph
        power = g.add_constant(float(digits), start, end)
        operands[-1] = g.add_op(OPS["pow"], (operands[-1], power), ostart[-1], end)
        oend[-1] = end

    def close_bars(self, k: int, ops: list, operands: list, ostart: list, oend: list) -> None:
        """The '|' that closes |x|: x's operators are applied, then abs."""
        while ops[-1][0] <= _PRE:
            self.reduce(ops, operands, ostart, oend)
        mark = ops.pop()
        if mark[0] != _BARS:  # a '(' or a call opened inside the bars is still open
            raise self.error("'|' closes before its '(' does", self.token(k),
                             "write abs(...) where bars and brackets interleave")
        end = self.starts[k] + 1
        operands[-1] = self.graph.add_op(mark[1], (operands[-1],), mark[4], end)
        ostart[-1] = mark[4]
        oend[-1] = end

    def reduce(self, ops: list, operands: list, ostart: list, oend: list) -> None:
        """Pop one operator and apply it to the operands on the stack."""
        g = self.graph
        kind, op, _bp, _right, start, _end = ops.pop()
        if kind == _BIN:
            b = operands.pop()
            b_end = oend.pop()
            ostart.pop()
            operands[-1] = g.add_op(op, (operands[-1], b), ostart[-1], b_end)
            oend[-1] = b_end
        else:  # prefix
            a = operands[-1]
            a_end = oend[-1]
            # A minus sign on a bare literal is part of the number: -2.5 is one constant.
            if op is PREFIX["-"] and a in g.consts and a not in g.names:
                operands[-1] = g.add_constant(-g.consts[a], start, a_end)
            else:
                operands[-1] = g.add_op(op, (a,), start, a_end)
            ostart[-1] = start

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
        if tok.text == "[":
            return self.error("unexpected '['", tok, "arrays are given as bindings, e.g. "
                              "x=[1,2]; s[i] indexes a value")
        return self.error(f"expected a number, a name or '(' but found {tok.text!r}", tok)

    def expected_operator(self, tok: Token) -> ParseError:
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
        import difflib  # only a misspelt function pays for it

        close = difflib.get_close_matches(name, list(FUNCTIONS), n=1)
        hint = f"did you mean {close[0]}?" if close else \
            "known functions: " + known_functions()
        return self.error(f"unknown function {name!r}", tok, hint, NameResolutionError)
