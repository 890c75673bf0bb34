"""Tokens -> graph, with an explicit operator stack (shunting-yard) instead of recursion.

The parser builds the flat graph directly, so nesting depth costs stack entries, never Python
frames: a 100,000-deep parenthesis nest parses like any other input. Precedence and
associativity come from the op registry's binding powers, the same ones the printer uses.

Its shape is tdop's: two handler tables, one for a token met where an operand is expected
(a number, a name, a call, '(' or '[' opening, a prefix sign) and one for a token met after an
operand (an infix operator, a closing bracket, ',', a subscript, a method). Every handler takes
the index of its token and returns (index of the next token, whether an operand comes next).
Brackets (parentheses, calls, lists, subscripts, |bars|) are entries of the same stack as the
operators, so an operator never reduces past one; `reduce` is the one place an operator is
applied.

Statements are separated by ';' or newlines; `name = expr` and `name op= expr` assign, and the
program's output is the value of the last statement. Inside a call, `name=value` is a keyword
argument whose value is written in the program (`sum(x, axis=0, keepdims=True)`).
"""

from __future__ import annotations

import gc
from typing import NamedTuple

from ..errors import ArityError, LimitError, NameResolutionError, ParseError
from ..graph import MAX_NODES, Graph
from ..ops.registry import (
    BP_UNARY,
    CONST,
    CONSTANTS,
    FUNCTIONS,
    INFIX,
    OPS,
    PREFIX,
    SOFT_NAMES,
    known_functions,
)
from .lexer import AUGMENTED, SUPERSCRIPTS, Token, bad_character, chunks

MAX_SOURCE_BYTES = 64 * 1024 * 1024

# Operator-stack entry kinds; every kind above _PRE is a bracket the reductions stop at.
_BIN, _PRE, _PAREN, _CALL, _BARS, _LIST, _SUB, _TUPLE = range(8)
_OPENED = {_PAREN: "'('", _BARS: "'|'", _LIST: "'['", _SUB: "'['", _TUPLE: "'('"}
_CLOSER = {_PAREN: "')'", _BARS: "'|'", _LIST: "']'", _SUB: "']'", _TUPLE: "')'", _CALL: "')'"}


class Entry(NamedTuple):
    """One entry of the operator stack: an operator waiting for its operands, or a bracket."""

    kind: int
    op: object  # the Op row (None for plain brackets)
    bp: int  # binding power; brackets have -1, below every closer's least (0): nothing
    # reduces past them, and the hot loop reads one field to know it
    right: bool  # operators: right-associative; calls the hot loop opens: takes one argument
    start: int  # source span of the operator or the opening bracket
    end: int
    base: int = 0  # brackets: the operand-stack height when they opened (their items follow)
    keywords: dict | None = None  # calls: keyword arguments, name -> (value, start, end)


_new = tuple.__new__  # an Entry without NamedTuple's Python-level __new__: once per bracket
_loaded = dict.get  # a loaded row of a lazy table, without its Python-level get


_RESERVED: list = [None, frozenset()]  # (the tables' sizes it was built for, the names)


def _reserved() -> frozenset[str]:
    """The names `name = ...` cannot simply name a value with: the constants and the functions,
    loaded or not (a soft name is assigned by `assign`, the others refused there). Rebuilt
    only when a table grows (a test may patch a row in)."""
    key = (dict.__len__(FUNCTIONS), len(FUNCTIONS.lazy), len(CONSTANTS))
    if _RESERVED[0] != key:
        _RESERVED[:] = [key, frozenset(CONSTANTS).union(FUNCTIONS)]
    return _RESERVED[1]


def _entry(kind: int, start: int, base: int) -> Entry:
    """A plain bracket's entry: it opens at `start`, its items above operand height `base`."""
    return _new(Entry, (kind, None, -1, False, start, start + 1, base, None))


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
        # Nothing refers back to the parser (no cycle): its tokens go as soon as it returns.
        return _Parser(source).program()
    finally:
        if enabled:
            gc.enable()


# The hot loop (`_Parser.program`): two states, an operand expected, then (its inner loop) an
# operator or the statement's end, so no flag is kept per token. A name already read, a number,
# '(', a loaded function's name and its '(', an infix operator, the ')' of a plain parenthesis
# or of a one-argument call take their steps in the loop over local names; a statement's end
# goes to `statement_end` (`name = value`, the next statement's start); every other token to
# its handler, whose steps these are (tests/test_hot_paths.py parses with every token sent to
# its handler and holds the two graphs, and errors, equal).
class _Parser:
    def __init__(self, source: str):
        self.source = source
        self.graph = Graph(source)
        self.assigned: dict[str, int] = {}
        # Every name read so far -> its node (an assigned value, else the variable's leaf): the
        # hot loop's one lookup (`assigned` alone tells a name assigned, for the messages).
        self.known: dict[str, int] = {}
        # Tokens as parallel lists, addressed by index: no token objects on the hot path. A
        # chunk of them at a time (lexer.chunks): `next_chunk` reads the next.
        self.chunks = chunks(source)
        self.kinds, self.texts, self.starts = next(self.chunks)
        self.after = _AFTER
        self.operands: list[int] = []
        self.ostart: list[int] = []
        self.oend: list[int] = []
        self.stack: list[Entry] = []
        self.target, self.last = -1, -1  # the statement's assignment target, the last one's node
        # Whether a node may end up read by no other (a statement's value never read, a folded
        # literal, a list spread into a call, an axis moved into the keywords): if not, every
        # node but the output feeds another and `Graph.finish` need not look. Set by every
        # step that could leave one, and by every step through calls.py (subscripts, lists,
        # methods: none is known to leave one, but the shortcut is only worth its promise).
        self.may_leave_dead = False
        g = self.graph  # what the hot loop reads, bound once per parse
        self.reserved = _reserved()
        self.hot = (self.operands, self.ostart, self.oend, self.stack, self.operands.append,
                    self.ostart.append, self.oend.append, self.known.get, g.variables.get,
                    _infix_specs().get, g)

    def token(self, k: int) -> Token:
        text = self.texts[k]
        return Token(self.kinds[k], text, self.starts[k], self.starts[k] + len(text))

    def error(self, message: str, tok: Token, hint: str | None = None,
              cls: type = ParseError) -> ParseError:
        if tok.kind == "bad":
            return bad_character(self.source, tok.start, tok.text)
        return cls(message, self.source, (tok.start, max(tok.end, tok.start + 1)), hint)

    def span_error(self, message: str, start: int, end: int, hint: str | None = None,
                   cls: type = ParseError) -> ParseError:
        return cls(message, self.source, (start, max(end, start + 1)), hint)

    # --- statements -------------------------------------------------------------------

    def program(self) -> Graph:
        """Every statement in one loop: the commonest tokens take their steps here (see
        "The hot loop" above), every other goes to its handler in the two tables. One long
        function on purpose: its steps share local names, and each step moved out into a
        function of its own measured 8-16 % slower on big programs."""
        (operands, ostart, oend, stack, push, push_start, push_end, known, read, specs,
         g) = self.hot
        ops, args, gstarts, gends, consts = g.ops, g.args, g.starts, g.ends, g.consts
        reserved, name_node, assigned, known_names = (self.reserved, g.names.setdefault,
                                                      self.assigned, self.known)
        k, self.target = self.begin(0)
        kinds, texts, starts = self.kinds, self.texts, self.starts  # begin may read a chunk
        while k >= 0:  # an operand expected; every operand so far is in the lists
            kind, text = kinds[k], texts[k]
            node = None
            if kind == "name":
                if (nxt := texts[k + 1]) == "(":
                    if (op := _loaded(FUNCTIONS, text)) is not None and texts[k + 2] != ")":
                        # `right` marks a call of one argument: its ')' is taken below
                        stack.append((_CALL, op, -1, op.arity == 1 and op.name not in _SPREAD,
                                      starts[k], starts[k + 1] + 1, len(operands), None))
                        k += 2
                        continue
                elif nxt != "=":  # (a superscript after it: `_superscript` reads the name)
                    if (node := known(text)) is None and (node := read(text)) is None and \
                            kinds[k + 1] != "sup" and kinds[k + 1] != "bad":
                        node = self.resolve(k)  # a name's first read: `_name`'s steps
            elif kind == "num" and (value := float(text)) != _INF:  # (most are read below)
                node = g.add_number(value, starts[k], starts[k] + len(text))
            elif text == "(":
                stack.append((_PAREN, None, -1, False, starts[k], starts[k] + 1, len(operands),
                              None))
                k += 1
                continue
            if node is not None:
                top_node, top_start, top_end = node, starts[k], starts[k] + len(text)
                k += 1
            else:
                k, operand_next = _BEFORE.get(text if kind == "op" else kind, _no_operand)(self, k)
                if self.kinds is not kinds:  # the handler read the next chunk
                    kinds, texts, starts = self.kinds, self.texts, self.starts
                if operand_next:
                    continue
                top_node, top_start, top_end = operands.pop(), ostart.pop(), oend.pop()
            # After an operand: an infix operator, a ')' or the statement's end. The operand
            # on top of the stack is held in the three top_ names, out of the lists: an
            # operator's reduction, a parenthesis or a call's ')' and the statement's end then
            # take no list steps for it. A handler gets it back in the lists (`by_handler`).
            while True:
                if (spec := specs(texts[k])) is not None:
                    while stack and (top := stack[-1])[2] >= spec[1]:  # a bracket's bp is -1
                        if top[0]:  # _PRE
                            top_node, top_start, top_end = self.prefix(top_node, top_start,
                                                                       top_end)
                            continue
                        stack.pop()  # `reduce`'s steps for an infix operator
                        if (node := len(ops)) >= MAX_NODES:
                            raise g.too_many(ostart[-1], top_end)
                        ops.append(top[1])
                        args.append((operands.pop(), top_node))
                        top_start = ostart.pop()
                        oend.pop()
                        gstarts.append(top_start)
                        gends.append(top_end)
                        top_node = node
                    if (entry := spec[0]) is not None:  # an infix operator
                        # `a op b` and then an operator that binds no tighter than op (or a
                        # closer): op would be applied as soon as that one is read, so it is
                        # applied now, b read here, nothing on the stacks (the same nodes, in
                        # the same order). Otherwise op waits on the stack for its right operand.
                        if ((bk := kinds[k + 1]) == "name" or bk == "num") and \
                                (after := specs(texts[k + 2])) is not None and \
                                after[1] <= entry[2]:
                            if bk == "name":
                                b = known(texts[k + 1])
                            elif (value := float(texts[k + 1])) != _INF:  # Graph.add_number's
                                if (b := len(ops)) >= MAX_NODES:
                                    raise g.too_many(starts[k + 1],
                                                     starts[k + 1] + len(texts[k + 1]))
                                ops.append(CONST)
                                args.append(())
                                gstarts.append(starts[k + 1])
                                gends.append(starts[k + 1] + len(texts[k + 1]))
                                consts[b] = value
                            else:
                                b = None
                            if b is not None:
                                if (node := len(ops)) >= MAX_NODES:
                                    raise g.too_many(top_start,
                                                     starts[k + 1] + len(texts[k + 1]))
                                ops.append(entry[1])
                                args.append((top_node, b))
                                gstarts.append(top_start)
                                top_node, top_end = node, starts[k + 1] + len(texts[k + 1])
                                gends.append(top_end)
                                k += 2
                                continue
                        push(top_node), push_start(top_start), push_end(top_end)
                        stack.append(entry)
                        k += 1
                        break
                    if stack and texts[k] == ")":
                        top = stack[-1]
                        if top[0] == _PAREN:  # (a + b)
                            stack.pop()
                            top_start, top_end, k = top[4], starts[k] + 1, k + 1
                            continue
                        if top[3] and top[0] == _CALL and top[7] is None and \
                                len(operands) == top[6]:  # sin(x): `_close_paren`'s steps
                            stack.pop()
                            if (node := len(ops)) >= MAX_NODES:
                                raise g.too_many(top[4], starts[k] + 1)
                            ops.append(top[1])
                            args.append((top_node,))
                            gstarts.append(top[4])
                            gends.append(starts[k] + 1)
                            top_node, top_start, top_end, k = node, top[4], starts[k] + 1, k + 1
                            continue
                    elif not stack and texts[k] != ")":  # the statement's end
                        if (target := self.target) >= 0 and texts[target + 1] == "=" and \
                                (name := texts[target]) not in reserved and texts[k] and \
                                kinds[k + 1] == "name" and texts[k + 2] == "=":
                            # `name = value`, then `name = ...`: statement_end's steps
                            name_node(top_node, name)  # the first name wins
                            assigned[name] = known_names[name] = self.last = top_node
                            self.target, self.may_leave_dead = k + 1, True
                            k += 3
                            break
                        k = self.statement_end(k, top_node)
                        if self.kinds is not kinds:  # the next statement is in the next chunk
                            kinds, texts, starts = self.kinds, self.texts, self.starts
                        break
                k, operand_next = self.by_handler(k, top_node, top_start, top_end)
                if self.kinds is not kinds:  # the handler read the next chunk
                    kinds, texts, starts = self.kinds, self.texts, self.starts
                if operand_next:
                    break
                top_node, top_start, top_end = operands.pop(), ostart.pop(), oend.pop()
        return self.finished(self.last)

    def by_handler(self, k: int, node: int, start: int, end: int) -> tuple[int, bool]:
        """Token k after the operand `node` (spanning start..end, held out of the lists by
        the hot loop), by its handler: a statement ending inside a bracket by `closing` (an
        error), any other by its handler in the table after an operand."""
        self.push_operand(node, start, end)
        if self.kinds[k] in ("sep", "end"):
            return self.closing(k)
        return self.after_operand(k)

    def prefix(self, node: int, start: int, end: int) -> tuple[int, int, int]:
        """The prefix operator on top of the stack applied to `node` (held out of the lists by
        the hot loop): the new operand."""
        self.push_operand(node, start, end)
        self.reduce()
        return self.operands.pop(), self.ostart.pop(), self.oend.pop()

    def closing(self, k: int) -> tuple[int, bool]:
        """A statement's end at token k, everything left applied (an open bracket is an
        error): (the next statement's first token, True)."""
        if self.stack:
            self.close_all()
        last = self.operands.pop()  # the one operand left
        self.ostart.pop()
        self.oend.pop()
        return self.statement_end(k, last), True

    def statement_end(self, k: int, last: int) -> int:
        """';', a new line or the end at token k, the statement's value `last` taken off the
        stack: it is named or assigned, and `last` set; returns the next statement's first
        operand token (`target` set to its assignment target), or -1 at the end."""
        target, texts = self.target, self.texts
        if target >= 0:
            name = texts[target]
            if texts[target + 1] == "=" and name not in self.reserved:
                self.graph.names.setdefault(last, name)  # the first name wins
                self.assigned[name] = self.known[name] = last
            else:
                last = self.assign(target, last, k)
        self.last = last
        if not texts[k]:
            self.target = -1
            return -1
        if self.kinds[k + 1] == "name" and texts[k + 2] == "=":  # `name = ...`
            self.target, self.may_leave_dead = k + 1, True  # begin's commonest answer
            return k + 3
        k, self.target = self.begin(k + 1)
        self.may_leave_dead |= k >= 0  # another statement: this one's value may go unread
        return k

    def finished(self, last: int) -> Graph:
        if last < 0:
            raise ParseError("the program is empty", self.source, (0, 1),
                             'give an expression, e.g. "(x+y)*z"')
        return self.graph.finish(last, every_node_read=not self.may_leave_dead)

    def after_operand(self, k: int) -> tuple[int, bool]:
        """Token k after an operand, when the hot loop did not take it: its handler's steps."""
        kind = self.kinds[k]
        return self.after.get(self.texts[k] if kind == "op" else kind, _no_operator)(self, k)

    def begin(self, k: int) -> tuple[int, int]:
        """A statement from token k on (separators skipped): (its expression's first token,
        its assignment target's token or -1); (-1, -1) at the end of the program."""
        while True:
            kinds, texts = self.kinds, self.texts
            while kinds[k] == "sep":
                k += 1
            if kinds[k] != "more":
                break
            k = self.next_chunk(False)
        if kinds[k] == "end":
            return -1, -1
        if kinds[k] == "name" and kinds[k + 1] == "op" and \
                (texts[k + 1] == "=" or texts[k + 1] in AUGMENTED):
            return k + 2, k
        return k, -1

    def next_chunk(self, carry: bool) -> int:
        """The next chunk's tokens in place of these: the index of its first one. With
        `carry` (a statement goes on into it), the statement's assignment target and its '='
        come first, so that `target` still reads them at the statement's end."""
        kinds, texts, starts = next(self.chunks)
        first = 0
        if carry and (target := self.target) >= 0:
            kinds[:0], texts[:0] = self.kinds[target:target + 2], self.texts[target:target + 2]
            starts[:0] = self.starts[target:target + 2]
            self.target, first = 0, 2
        self.kinds, self.texts, self.starts = kinds, texts, starts
        return first

    def assign(self, target: int, node: int, end: int) -> int:
        """`name = expr` or `name op= expr` at token `target`; returns the node named."""
        name = self.texts[target]
        if name in CONSTANTS or name in FUNCTIONS:
            self.check_assignable(self.token(target))
        augment = AUGMENTED.get(self.texts[target + 1])
        if augment is not None:
            old = self.resolve(target)
            node = self.graph.add_op(INFIX[augment], (old, node), self.starts[target],
                                     self.starts[end])
        self.graph.names.setdefault(node, name)  # Graph.name_node: the first name wins
        self.assigned[name] = self.known[name] = node
        return node

    def check_assignable(self, tok: Token) -> None:
        name = tok.text
        if name in CONSTANTS:
            raise self.error(f"cannot assign to the constant {name}", tok,
                             f"{name} is {CONSTANTS[name]:.6g}; give the value another name, "
                             f"e.g. {name}_ or {name}2")
        if name in FUNCTIONS and name not in SOFT_NAMES:
            raise self.error(f"cannot assign to {name}: it is a function", tok)

    def resolve(self, k: int) -> int:
        """The node the bare name at token k refers to: an assigned value, a constant or a
        variable."""
        name = self.texts[k]
        node = self.assigned.get(name)
        if node is not None:
            return node
        start = self.starts[k]
        if name in CONSTANTS:
            return self.graph.add_constant(CONSTANTS[name], start, start + len(name), name)
        if name in FUNCTIONS and name not in SOFT_NAMES:
            raise self.error(f"{name} is a function", self.token(k), f"call it as {name}(...)",
                             NameResolutionError)
        node = self.known[name] = self.graph.add_variable(name, start, start + len(name))
        return node

    # --- expressions ------------------------------------------------------------------

    def close_all(self) -> None:
        """At the end of a statement: apply what is left; an open bracket is an error."""
        self.reduce_above(-1, False)
        if self.stack:
            top = self.top_entry()
            what = _OPENED.get(top.kind) or f"{top.op.name}("
            raise self.span_error(f"{what} is never closed", top.start, top.end,
                                  f"add {_CLOSER[top.kind]} before the end of the statement")

    def push_operand(self, node: int, start: int, end: int) -> None:
        self.operands.append(node)
        self.ostart.append(start)
        self.oend.append(end)

    def reduce(self) -> None:
        """Pop one operator and apply it to the operands on the stack."""
        top = self.stack.pop()
        operands = self.operands
        if top[0] == _BIN:
            oend = self.oend
            b = operands.pop()
            b_end = oend.pop()
            self.ostart.pop()
            operands[-1] = self.graph.add_op(top[1], (operands[-1], b), self.ostart[-1], b_end)
            oend[-1] = b_end
            return
        g = self.graph  # prefix
        op, start = top[1], top[4]
        a = operands[-1]
        a_end = self.oend[-1]
        # A minus sign on a bare literal is part of the number: -2.5 is one constant.
        if op is PREFIX["-"] and a in g.consts and a not in g.names:
            operands[-1] = g.add_constant(-g.consts[a], start, a_end)
            self.may_leave_dead = True  # the literal's own node
        else:
            operands[-1] = g.add_op(op, (a,), start, a_end)
        self.ostart[-1] = start

    def reduce_above(self, bp: int, right: bool) -> None:
        """Apply the operators on top of the stack that bind at least as tightly as an infix
        operator of binding power `bp` (all of them, down to the innermost bracket, for -1);
        the hot loop takes these steps inline."""
        stack, least = self.stack, _least(bp, right)
        while stack and (top := stack[-1])[0] <= _PRE and top[2] >= least:
            self.reduce()

    def reduce_to_bracket(self) -> Entry | None:
        """Apply every operator above the innermost bracket; return that bracket (or None)."""
        self.reduce_above(-1, False)
        return self.top_entry()

    def top_entry(self) -> Entry | None:
        """The entry on top of the stack (None if it is empty) as an Entry: the hot loop
        pushes a plain tuple of the same fields for a '(' and a call (a third of the cost),
        made one here, in place, when a handler reads it by name."""
        if not self.stack:
            return None
        if type(top := self.stack[-1]) is tuple:
            top = self.stack[-1] = _new(Entry, top)
        return top

    def items(self, base: int) -> tuple[tuple[int, ...], int]:
        """Pop the operands above height `base`: (their nodes, the first one's start)."""
        operands = self.operands
        items = tuple(operands[base:])
        start = self.ostart[base] if len(operands) > base else -1
        del operands[base:], self.ostart[base:], self.oend[base:]
        return items, start

    # --- messages ---------------------------------------------------------------------

    def expected_operand(self, tok: Token) -> ParseError:
        if tok.kind == "end":
            return self.error("unexpected end of input: expected a number, a name or '('", tok)
        if tok.kind == "sep":
            return self.error("the statement ends too early: expected a number, a name or '('",
                              tok)
        if tok.text in (")", "]"):
            return self.error(f"expected a number, a name or '(' before {tok.text!r}", tok)
        if tok.text == "=":
            return self.error("unexpected '='", tok,
                              "assign with `name = expression` at the start of a statement")
        if tok.text == "/" and self.source[tok.start - 1:tok.start] == "/":
            return self.error("'//' (floor division) is not in the language", tok,
                              "floor has no gradient; x % y is the remainder, and "
                              "(x - x % y)/y the floored quotient")
        return self.error(f"expected a number, a name or '(' but found {tok.text!r}", tok)

    def expected_operator(self, tok: Token) -> ParseError:
        if tok.text == "=":
            return self.error("unexpected '='", tok,
                              "assign with `name = expression` at the start of a statement")
        hint = _PYTHON_WORDS.get(tok.text) if tok.kind == "name" else None
        if hint is None and (tok.kind in ("name", "num") or tok.text == "("):
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
        hint = _FUNCTION_HINTS.get(name) or (f"did you mean {close[0]}?" if close else
                                             "known functions: " + known_functions())
        return self.error(f"unknown function {name!r}", tok, hint, NameResolutionError)


# numpy and PyTorch functions the language spells otherwise: what to write instead.
_OUTER = "write a.reshape(-1, 1) @ b.reshape(1, -1) (a column times a row)"
_FUNCTION_HINTS = {
    "outer": _OUTER, "ger": _OUTER,
    "len": "a size is a number written in the program, e.g. x.reshape(32, -1)",
    "clamp": "write clip(x, lo, hi) (numpy's spelling)",
    "flatten": "write x.reshape(-1)", "ravel": "write x.reshape(-1)",
    "squeeze": "write x.reshape(...) with the sizes you keep",
    "expand_dims": "write x.reshape(...) with a size 1 where the new axis goes",
    "unsqueeze": "write x.reshape(...) with a size 1 where the new axis goes",
    "mm": "write a @ b", "bmm": "write a @ b",
}


# --- handlers for a token where an operand is expected ----------------------------------------


def _name(p: _Parser, k: int) -> tuple[int, bool]:
    """A variable, an assigned name or a constant; a call when '(' follows; a keyword
    argument when '=' follows inside a call."""
    kinds, texts = p.kinds, p.texts
    text = texts[k]
    nxt = texts[k + 1] if kinds[k + 1] == "op" else None
    if nxt == "(":
        return _open_call(p, k)
    if nxt == "=" and p.stack and p.top_entry().kind == _CALL:
        return _keyword(p, k)
    if kinds[k + 1] == "sup":
        _not_a_function_power(p, k + 1)
    node = p.assigned.get(text)
    if node is None:
        # A name already read as a variable is not a constant or a function.
        node = p.graph.variables.get(text)
        if node is None:
            if kinds[k + 1] == "bad":  # reported first, as a streaming lexer would
                raise p.error("", p.token(k + 1))
            node = p.resolve(k)
    start = p.starts[k]
    p.operands.append(node)
    p.ostart.append(start)
    p.oend.append(start + len(text))
    return k + 1, False


def _number(p: _Parser, k: int) -> tuple[int, bool]:
    text = p.texts[k]
    value = float(text)  # the lexer only passes valid float literals
    start = p.starts[k]
    if value == _INF:
        raise p.error(f"the number {text} is too large for float64", p.token(k),
                      cls=LimitError)
    p.operands.append(p.graph.add_number(value, start, start + len(text)))
    p.ostart.append(start)
    p.oend.append(start + len(text))
    return k + 1, False


def _open_call(p: _Parser, k: int) -> tuple[int, bool]:
    """name( : a call, whose arguments are the operands pushed until its ')'."""
    text = p.texts[k]
    op = _loaded(FUNCTIONS, text) or FUNCTIONS.get(text)  # a loaded row without a method call
    if op is None:
        raise p.unknown_function(p.token(k))
    start = p.starts[k]
    p.stack.append(_new(Entry, (_CALL, op, -1, False, start, p.starts[k + 1] + 1,
                             len(p.operands), None)))
    k += 2
    if p.texts[k] == ")" and p.kinds[k] == "op":
        msg = op.check_arity(0) or f"{op.name}() needs arguments"
        raise ArityError(msg, p.source, (start, p.starts[k] + 1))
    return k, True


def _keyword(p: _Parser, k: int) -> tuple[int, bool]:
    """name=value inside a call: the value is written in the program (a number, True/False,
    or a tuple of numbers) and read here, so it never reaches the expression stack."""
    call = p.top_entry()
    if call.keywords is None:
        p.stack[-1] = call = call._replace(keywords={})
    name = p.texts[k]
    if name in call.keywords:
        raise p.error(f"the keyword argument {name} is given twice", p.token(k))
    value, after = _literal(p, k + 2)
    call.keywords[name] = (value, p.starts[k], p.starts[after - 1] + len(p.texts[after - 1]),
                           len(p.operands))
    # Its value is no operand: what follows is read here, a ',' or the call's ')' (any other
    # operator would apply to the argument before the keyword).
    if p.kinds[after] in ("sep", "end"):
        p.close_all()  # the call is never closed
    if p.kinds[after] != "op" or p.texts[after] not in (",", ")"):
        raise p.error(f"expected ',' or ')' after the keyword argument {name}= but found "
                      f"{p.texts[after]!r}", p.token(after),
                      "a keyword's value is written in the program, e.g. axis=0")
    return _AFTER[p.texts[after]](p, after)


def _literal(p: _Parser, k: int) -> tuple[object, int]:
    """A keyword argument's value from token k: a number, True, False, None or a tuple of
    numbers; returns (value, index of the token after it)."""
    kinds, texts = p.kinds, p.texts
    if texts[k] == "(" and kinds[k] == "op":
        values = []
        k += 1
        while not (texts[k] == ")" and kinds[k] == "op"):
            value, k = _literal(p, k) if texts[k] != "(" else (None, k)
            if not isinstance(value, float):
                break
            values.append(value)
            if texts[k] == "," and kinds[k] == "op":
                k += 1
            elif not (texts[k] == ")" and kinds[k] == "op"):
                break
        else:
            return tuple(values), k + 1
        raise p.error(f"expected a number, ',' or ')' in a tuple but found {texts[k]!r}",
                      p.token(k), "a keyword's value is written in the program, e.g. "
                                  "axis=(0, 1)")
    sign = 1.0
    if texts[k] == "-" and kinds[k] == "op":
        sign, k = -1.0, k + 1
    if kinds[k] == "num":
        if (value := float(texts[k])) == _INF:  # (axis=1e999 was an internal error)
            raise p.error(f"the number {texts[k]} is too large for float64", p.token(k),
                          cls=LimitError)
        return sign * value, k + 1
    if sign > 0 and kinds[k] == "name" and texts[k] in _WORDS:
        return _WORDS[texts[k]], k + 1
    raise p.error(f"expected a value written in the program but found {texts[k]!r}",
                  p.token(k), "e.g. axis=0, axis=(0, 1), keepdims=True, ddof=1")


_WORDS = {"True": True, "False": False, "None": None}


def _open_paren(p: _Parser, k: int) -> tuple[int, bool]:
    start = p.starts[k]
    p.stack.append(_entry(_PAREN, start, len(p.operands)))
    return k + 1, True


def _open_list(p: _Parser, k: int) -> tuple[int, bool]:
    """[a, b, ...]: a list literal, stacked into an array along a new first axis."""
    start = p.starts[k]
    p.stack.append(Entry(_LIST, OPS.get("stack"), -1, False, start, start + 1, len(p.operands)))
    if p.texts[k + 1] == "]" and p.kinds[k + 1] == "op":
        raise p.span_error("'[]' is an empty list", start, p.starts[k + 1] + 1,
                           "a list literal needs entries, e.g. [x, x + 2]")
    return k + 1, True


def _open_bars(p: _Parser, k: int) -> tuple[int, bool]:
    texts, starts = p.texts, p.starts
    if texts[k + 1] == "|" and starts[k + 1] == starts[k] + 1:
        raise p.error("'||' is ambiguous", p.token(k),
                      "write norm(x) for the norm ||x||, or abs(abs(x))")
    p.stack.append(Entry(_BARS, OPS["abs"], -1, False, starts[k], starts[k] + 1))
    return k + 1, True


def _prefix(p: _Parser, k: int) -> tuple[int, bool]:
    text = p.texts[k]
    start = p.starts[k]
    p.stack.append(Entry(_PRE, PREFIX[text], BP_UNARY, True, start, start + len(text)))
    return k + 1, True


def _unary_plus(p: _Parser, k: int) -> tuple[int, bool]:
    return k + 1, True  # unary plus is the identity: no node


def _more(p: _Parser, k: int) -> tuple[int, bool]:
    """A chunk's end (lexer.chunks): the expression goes on in the next."""
    return p.next_chunk(True), True


def _no_operand(p: _Parser, k: int) -> tuple[int, bool]:
    raise p.expected_operand(p.token(k))


_BEFORE = {"name": _name, "num": _number, "(": _open_paren, "[": _open_list, "|": _open_bars,
           "more": _more, "+": _unary_plus, **{text: _prefix for text in PREFIX}}

# --- handlers for a token after an operand ----------------------------------------------------


def _least(bp: int, right: bool) -> int:
    """The least binding power an operator on the stack has to have to be applied before an
    infix operator of binding power `bp` (`right`: right-associative) goes on: the same bp
    binds first unless right-associative (binding powers are whole numbers)."""
    return bp + 1 if right else bp


_SPECS: dict[str, tuple[Entry | None, int]] = {}
_SPECS_OF: dict = {}
# What closes an operand's run as an infix operator of binding power 0 would (everything down
# to the innermost bracket, whose binding power is -1, applied): ')', a statement's separators
# and the end's empty text.
_CLOSERS = {text: (None, 0) for text in (")", ";", "\n", "")}


def _spec(op) -> tuple[Entry, int]:
    """An infix row's stack entry and the least binding power it applies before it goes on.
    A binary entry's span is never read (its node spans its operands), so one entry serves."""
    return Entry(_BIN, op, op.bp, op.right_assoc, 0, 0), _least(op.bp, op.right_assoc)


def _infix_specs() -> dict[str, tuple[Entry | None, int]]:
    """Each loaded infix spelling's spec (a row not loaded yet is read by `_lazy_infix`), and
    the closers'. Checked against INFIX at every parse (a test may patch a row into it),
    rebuilt only when INFIX changed."""
    if INFIX != _SPECS_OF:  # dict's comparison: the rows loaded so far, nothing imported
        _SPECS.clear()
        _SPECS.update(_CLOSERS)
        for text, op in dict.items(INFIX):
            _SPECS[text] = _spec(op)
        _SPECS_OF.clear()
        _SPECS_OF.update(dict.items(INFIX))
    return _SPECS


def _lazy_infix(p: _Parser, k: int) -> tuple[int, bool]:
    """An infix spelling whose row module is not loaded yet (@, <, %): load it, then read the
    token as any infix operator."""
    text = p.texts[k]
    op = _SPECS_OF[text] = INFIX[text]  # reading the row loads its module
    entry, _ = _SPECS[text] = _spec(op)
    p.reduce_above(op.bp, op.right_assoc)
    p.stack.append(entry)
    return k + 1, True


def _close_paren(p: _Parser, k: int) -> tuple[int, bool]:
    mark = p.reduce_to_bracket()
    if mark is not None and mark[0] == _CALL:  # the commonest bracket to get here
        p.stack.pop()
        end = p.starts[k] + 1
        operands, base = p.operands, mark[6]
        args = tuple(operands[base:])
        del operands[base:], p.ostart[base:], p.oend[base:]
        op = mark[1]
        if mark.keywords is None and op.name not in _SPREAD and \
                (len(args) == op.arity or op.check_arity(len(args)) is None):  # sin(x): plain
            node = p.graph.add_op(op, args, mark.start, end)
        else:  # keywords, a list to spread, or a wrong count: numpy's call forms
            from .calls import call

            p.may_leave_dead = True  # (a spread list, an axis moved into the keywords)

            node = call(p, mark, args, end)
        p.push_operand(node, mark.start, end)
        return k + 1, False
    if mark is None:
        raise p.error("unmatched ')'", p.token(k))
    end = p.starts[k] + 1
    if mark.kind == _BARS:
        raise p.span_error("'|' is never closed", mark.start, mark.end, "add '|' before ')'")
    if mark.kind in (_LIST, _SUB):
        raise p.error(f"')' closes before {_OPENED[mark.kind]} does", p.token(k),
                      "add ']' first")
    p.stack.pop()
    if mark.kind == _PAREN:
        p.ostart[-1] = mark.start
        p.oend[-1] = end
    else:
        _close_tuple(p, k, mark)
    return k + 1, False


def _close_tuple(p: _Parser, k: int, mark: Entry) -> None:
    """(a, b) as a call's argument: its items become arguments of the call, as numpy's
    reshape(x, (n, -1)) reads reshape(x, n, -1)."""
    outer = p.top_entry()
    if outer is None or outer.kind != _CALL:
        raise p.span_error("a tuple (a, b) is only read as a function's argument",
                           mark.start, p.starts[k] + 1,
                           "e.g. reshape(x, (n, -1)); for an array write a list [a, b]")


def _close_bracket(p: _Parser, k: int) -> tuple[int, bool]:
    mark = p.reduce_to_bracket()
    if mark is None or mark.kind not in (_LIST, _SUB):
        if mark is not None and mark.kind == _BARS:
            raise p.span_error("'|' is never closed", mark.start, mark.end,
                               "add '|' before ']'")
        raise p.error("unmatched ']'", p.token(k))
    p.stack.pop()
    end = p.starts[k] + 1
    args, _ = p.items(mark.base)
    from .calls import gather, stack

    p.may_leave_dead = True

    if mark.kind == _LIST:
        node = stack(p, mark, args, end)
        p.push_operand(node, mark.start, end)
    else:
        start = p.ostart[-1]
        p.operands[-1] = gather(p, mark, (p.operands[-1], *args), start, end)
        p.oend[-1] = end
    return k + 1, False


def _comma(p: _Parser, k: int) -> tuple[int, bool]:
    mark = p.reduce_to_bracket()
    if mark is not None and mark.kind == _PAREN:  # (a, b): a tuple
        p.stack[-1] = mark._replace(kind=_TUPLE)
    elif mark is None or mark.kind not in (_CALL, _LIST, _SUB, _TUPLE):
        raise p.error("unexpected ','", p.token(k), "commas separate a function's arguments")
    if mark.kind == _CALL and mark.keywords and p.texts[k + 1] not in (")",) and \
            not (p.kinds[k + 1] == "name" and p.texts[k + 2] == "="):
        raise p.error("a positional argument follows a keyword argument", p.token(k + 1),
                      "give the positional arguments first, e.g. sum(x, 0, keepdims=True)")
    if p.texts[k + 1] == ")" and p.kinds[k + 1] == "op" and p.top_entry().kind == _TUPLE:
        return k + 1, False  # (n,): a tuple of one, as in reshape(x, (n,))
    return k + 1, True


def _subscript(p: _Parser, k: int) -> tuple[int, bool]:
    """x[...] after an operand: positions written in the program (x[2], x[1:3], x[::-1],
    x[0, 1]) are read here; any other index (x[idx], x[arange(n), y]) is an expression."""
    from .calls import static_subscript

    p.may_leave_dead = True

    done = static_subscript(p, k)
    if done >= 0:
        return done + 1, False
    start = p.starts[k]
    p.stack.append(Entry(_SUB, None, -1, False, start, start + 1, len(p.operands)))
    if p.texts[k + 1] == "]" and p.kinds[k + 1] == "op":
        raise p.span_error("'[]' needs a position", start, p.starts[k + 1] + 1,
                           "e.g. s[0] for the first entry")
    return k + 1, True


def _attribute(p: _Parser, k: int) -> tuple[int, bool]:
    """.T, or a method: x.sum(axis=1) is sum(x, axis=1), with x its first argument."""
    from .calls import method

    p.may_leave_dead = True

    op = method(p, k)
    end = p.starts[k] + len(p.texts[k])
    if op is None:  # x.T
        p.operands[-1] = p.graph.add_op(OPS["transpose"], (p.operands[-1],), p.ostart[-1], end)
        p.oend[-1] = end
        return k + 1, False
    base = len(p.operands) - 1  # the value before the dot is the first argument
    p.stack.append(Entry(_CALL, op, -1, False, p.ostart[-1], p.starts[k + 1] + 1, base))
    k += 2
    return k, not (p.texts[k] == ")" and p.kinds[k] == "op")


def _not_a_function_power(p: _Parser, k: int) -> None:
    """sin² (a superscript right after a function's name) could mean sin(x)² or sin(x²): an
    error, whether or not the name was given a value."""
    name = p.texts[k - 1]
    if p.kinds[k - 1] == "name" and name in FUNCTIONS:
        raise p.error(f"{name}{p.texts[k]} is ambiguous", p.token(k),
                      f"write {name}(x)**{p.texts[k].translate(SUPERSCRIPTS)}"
                      f" for the power of {name}(x)")


def _superscript(p: _Parser, k: int) -> tuple[int, bool]:
    """x² (superscript digits after an operand) is x**2: the power binds tightest."""
    _not_a_function_power(p, k)
    text = p.texts[k]
    digits = text.translate(SUPERSCRIPTS)
    start, end = p.starts[k], p.starts[k] + len(text)
    if not digits.lstrip("-").isdigit() or digits.count("-") > 1:
        raise p.error(f"the superscript {text} is not a whole number", p.token(k),
                      "write the power with **, e.g. x**-1")
    g = p.graph
    power = g.add_constant(float(digits), start, end)
    p.operands[-1] = g.add_op(OPS["pow"], (p.operands[-1], power), p.ostart[-1], end)
    p.oend[-1] = end
    return k + 1, False


def _close_bars(p: _Parser, k: int) -> tuple[int, bool]:
    """The '|' that closes |x|: x's operators are applied, then abs."""
    if not any(e[0] == _BARS for e in p.stack):
        raise p.expected_operator(p.token(k))
    mark = p.reduce_to_bracket()
    if mark.kind != _BARS:  # a '(' or a call opened inside the bars is still open
        raise p.error("'|' closes before its '(' does", p.token(k),
                      "write abs(...) where bars and brackets interleave")
    p.stack.pop()
    end = p.starts[k] + 1
    p.operands[-1] = p.graph.add_op(mark.op, (p.operands[-1],), mark.start, end)
    p.ostart[-1] = mark.start
    p.oend[-1] = end
    return k + 1, False


def _no_operator(p: _Parser, k: int) -> tuple[int, bool]:
    if p.kinds[k] == "op" and p.texts[k] in INFIX:  # a row not loaded yet
        return _lazy_infix(p, k)
    raise p.expected_operator(p.token(k))


_AFTER = {")": _close_paren, "]": _close_bracket, ",": _comma, "[": _subscript,
          "|": _close_bars, "sup": _superscript, "attr": _attribute}
_INF = float("inf")
# Python's words a numpy user may type after a value, and what the language writes instead.
_PYTHON_WORDS = {
    "if": "a choice is where(cond, a, b), e.g. where(x > 0, x**2, 0)",
    "else": "a choice is where(cond, a, b), e.g. where(x > 0, x**2, 0)",
    "and": "for 'and' multiply the tests, (x > 0) * (x < 1)",
    "or": "for 'or' take the larger test, maximum(x < 0, x > 1)",
    "for": "a loop is written with arrays: sum(x**2) rather than a sum over a for",
    "in": "a loop is written with arrays: sum(x**2) rather than a sum over a for",
}
_SPREAD = ("concatenate", "stack")  # their one list argument is spread (language/calls.py)
