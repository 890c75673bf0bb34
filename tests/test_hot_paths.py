"""The hot paths take the same steps as the general ones they stand in for, to the bit.

The backward pass over numbers takes chain_step's steps for one and two inputs inline, and both
passes take `+` and `*` without calling their rows; the lexer splits a source with no comment or
continuation with a second regex; the parser's loop takes the commonest tokens' steps itself
rather than calling their handlers. Each is held equal here to the general path (chain_step per
node, the rows' own rules, the findall of every piece, every token sent to its handler) it
replaces.
"""

import random
from array import array

import pytest

from backprop_cli.engine.backward import backpropagate
from backprop_cli.engine.forward import forward
from backprop_cli.language.lexer import _pieces, scan
from backprop_cli.language.parser import parse
from backprop_cli.ops.registry import FUNCTIONS, INFIX

_UNARY = sorted(s for s, op in FUNCTIONS.items() if op.arity == 1 and op.samples and s.isalpha())
_BINARY = sorted(set(INFIX) - {"@"})


def _program(rng: random.Random, size: int) -> str:
    terms = ["x", "y", "z", "0.7", "x"]
    for _ in range(size):
        a, b = rng.choice(terms), rng.choice(terms)
        if rng.random() < 0.5:
            terms.append(f"({a} {rng.choice(_BINARY)} {b})")
        else:
            terms.append(f"{rng.choice(_UNARY)}({a})")
    return terms[-1]


@pytest.mark.parametrize("seed", range(40))
def test_the_inline_backward_steps_are_chain_steps(seed):
    rng = random.Random(seed)
    program = _program(rng, 12)
    at = {"x": 0.3, "y": 0.45, "z": 0.8}
    graph = parse(program)
    try:
        values = forward(graph, at)
        fast = backpropagate(graph, values)
    except Exception as exc:  # a point outside some domain: both paths must refuse alike
        with pytest.raises(type(exc)):
            backpropagate(graph, forward(graph, at), record=[])
        return
    slow = backpropagate(graph, values, record=[])  # recording takes chain_step per node
    assert list(map(repr, fast)) == list(map(repr, slow))  # -0.0 and nan too


_PIECES = ["x", "y2", "2", "3.5", "1e4", ".5", "5.", "(", ")", "+", "**", "*", "\t", " ", "\r",
           "\f", "\n", "x.T", "é", "²", "σ", "−", "!", ".", "e-3", ";", "**=", "\x0b", "\u00a0",
           "sum", "[", "]", ",", "=", "|"]


def test_the_blank_split_lexes_as_every_piece_does():
    rng = random.Random(25)
    for _ in range(20_000):
        source = "".join(rng.choice(_PIECES) for _ in range(rng.randint(0, 12)))
        kinds, texts, starts = scan(source)
        assert (kinds[:-1], texts[:-1], starts[:-1]) == _pieces(source), source


def test_a_parse_leaves_no_cycle_holding_its_tokens():
    # The collector is paused while parsing: a cycle left behind (the reducer closes over
    # the parser) would keep every token alive until its next run, 200 B a node at 10^6.
    import gc

    from backprop_cli.language.parser import _Parser

    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)  # what the collector finds stays in gc.garbage to look at
    try:
        graph = parse("q = (x + y) * z; w = -q ** 2; sin(w) + |q| + max(x, y, 2)")
        gc.collect()
        # Only the parser's own objects count: another thread (the test runner's, a budget's
        # watchdog) may leave a cycle of its own between the two collections.
        left = [o for o in gc.garbage if isinstance(o, _Parser) or
                getattr(o, "__self__", None).__class__ is _Parser or
                (isinstance(o, dict) and any(isinstance(v, _Parser) for v in o.values()))]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
    assert left == []
    assert len(graph) > 10


def _every_token_by_its_handler(source: str):
    """The parser's general path: every token goes to its handler in the two tables (an
    infix operator to `_no_operator`, which reads it as `_lazy_infix` does), never to the
    fast steps of `_Parser.program`'s loop. A statement's ends are `begin` and `closing`."""
    from backprop_cli.language import parser as p

    parser = p._Parser(source)
    k, parser.target = parser.begin(0)
    expect_operand = True
    while k >= 0:
        kind, text = parser.kinds[k], parser.texts[k]
        if expect_operand:
            handler = p._BEFORE.get(text if kind == "op" else kind, p._no_operand)
        elif kind in ("sep", "end"):  # the statement's end (no handler of its own)
            parser.reduce_above(-1, False)
            k, expect_operand = parser.closing(k)
            continue
        else:
            handler = p._AFTER.get(text if kind == "op" else kind, p._no_operator)
        k, expect_operand = handler(parser, k)
    return parser.finished(parser.last)


def _graph_or_error(parse_fn, source: str):
    try:
        g = parse_fn(source)
    except Exception as exc:  # both paths must refuse alike, with the same message and span
        return type(exc).__name__, str(exc), getattr(exc, "span", None)
    return ([op.name for op in g.ops], g.args, list(g.starts), list(g.ends), g.names, g.consts,
            g.variables, g.output)


_STATEMENT_PIECES = ["x", "y", "t1", "q", "2", "0.5", "1e999", "(", ")", "+", "-", "*", "**",
                     "/", " ", "\n", ";", "=", "+=", "sin", "tanh", "exp", "max", "sum", ",",
                     "|", "[", "]", "x.T", "²", "pi", "axis", "std", "relu"]


def test_the_fast_steps_of_the_parse_loop_are_the_handlers_steps():
    rng = random.Random(2025)
    programs = [_program(rng, 10) for _ in range(300)]
    programs += ["".join(rng.choice(_STATEMENT_PIECES) for _ in range(rng.randint(1, 16)))
                 for _ in range(6000)]
    programs += ["q = sin(x*y) + 2\nw = tanh(q + x)*0.5; q = q*w\nexp(q) + max(q, w)",
                 "t0 = x\nt1 = sin(t0*y)\nt2 = t1*0.5+z\n", "((x))", "sin((x + y))*(z)",
                 "x.sum()", "abs(x, )", "sin()", "sin(x, y)", "pi = 2", "q = 1; q += x"]
    for source in programs:
        assert _graph_or_error(parse, source) == \
            _graph_or_error(_every_token_by_its_handler, source), source


@pytest.mark.parametrize("seed", range(20))
def test_the_forward_loop_takes_each_rows_steps(seed):
    # forward's loop adds and multiplies without calling the add and mul rows: the values are
    # each row's own, to the bit.
    from backprop_cli.ops.registry import SCALAR

    graph = parse(_program(random.Random(seed), 12))
    at = {"x": 0.3, "y": 0.45, "z": 0.8}
    try:
        fast = forward(graph, at)
    except Exception:  # a point outside some row's domain: nothing to compare
        return
    slow = [0.0] * len(graph)
    for i, op in enumerate(graph.ops):
        a = graph.args[i]
        slow[i] = at[graph.names[i]] if op.name == "var" else graph.consts[i] \
            if op.name == "const" else op.forward(SCALAR, *[slow[j] for j in a])
    assert list(map(repr, fast)) == list(map(repr, slow))


def test_the_rows_the_loops_inline_are_add_and_mul():
    from backprop_cli.engine.forward import ADD, MUL
    from backprop_cli.ops.registry import SCALAR

    for a, b in [(0.3, -2.5), (-0.0, 0.0), (1e308, 10.0), (2.0, float("inf"))]:
        assert repr(ADD.forward(SCALAR, a, b)) == repr(a + b)
        assert repr(MUL.forward(SCALAR, a, b)) == repr(a * b)
        assert ADD.local(SCALAR, a, b, a + b) == (1.0, 1.0)
        assert MUL.local(SCALAR, a, b, a * b) == (b, a)


def test_a_program_read_a_chunk_at_a_time_is_the_program_read_whole(monkeypatch):
    # The parser reads a big program's tokens a chunk at a time (lexer.chunks). With a chunk
    # of one character, a chunk ends at every place one may (after each new line, after each
    # ' + '): every graph, and every error with its place, is still the one read whole, by
    # the hot loop and by the handlers alike.
    from backprop_cli.language import lexer

    rng = random.Random(7)
    programs = [_program(rng, 10).replace("+", " + ") for _ in range(200)]
    programs += ["".join(rng.choice(_STATEMENT_PIECES + [" + ", "\n", "# c + d\n", "\\\n"])
                         for _ in range(rng.randint(1, 20))) for _ in range(4000)]
    programs += ["q = x + y\nf = q * z", "q = x + y + z; q += x + 1\nq", "c = 1\nc += x + 2",
                 "sum(x, axis=0) + y", "x +\ny", "(x + \ny)", "sin(x) + max(x, y + 1)",
                 "x + y # a + b\n+ z", "a = x + \\\n y + z"]
    whole = [_graph_or_error(parse, s) for s in programs]
    monkeypatch.setattr(lexer, "CHUNK", 1)
    assert len(list(lexer.chunks("q = x + y\nf = q * z"))) == 3
    for source, expected in zip(programs, whole):
        assert _graph_or_error(parse, source) == expected, source
        assert _graph_or_error(_every_token_by_its_handler, source) == expected, source


@pytest.mark.parametrize("seed", range(20))
def test_the_forward_pass_lists_every_node_the_kink_scan_looks_at(seed):
    # evaluate's kink scan reads the forward pass's list of nodes whose op has kinks instead of
    # every node: the same warnings, in the same order, as the scan of every node.
    from backprop_cli.checks.scalar import kinks

    graph = parse(_program(random.Random(seed), 12))
    for at in ({"x": 0.3, "y": 0.45, "z": 0.8}, {"x": 0.0, "y": 0.0, "z": 0.7}):
        kinked = array("i")
        try:
            values = forward(graph, at, kinked)
        except Exception:  # a point outside some row's domain: nothing to compare
            continue
        assert kinked.tolist() == [i for i, op in enumerate(graph.ops) if op.branch is not None]
        assert kinks(graph, values, kinked) == kinks(graph, values)


def test_no_row_the_forward_pass_skips_for_kinks_has_one():
    # The forward pass looks for kinks past add, mul and the leaves only.
    from backprop_cli.engine.forward import ADD, MUL
    from backprop_cli.ops.registry import ROWS

    assert ADD.branch is None and MUL.branch is None
    assert all((op.min_arity if op.arity is None else op.arity) > 0
               for op in ROWS if op.branch is not None)


@pytest.mark.parametrize("seed", range(40))
def test_the_inline_backward_steps_name_the_node_that_fails_as_chain_steps_do(seed):
    # sqrt has no finite derivative at 0: the fast loop finds the failing node by its
    # iterator's position, and must name the one the recorded (chain_step) pass names.
    import re

    from backprop_cli.errors import BackpropError

    graph = parse(re.sub(r"\bx\b", "sqrt(x)", _program(random.Random(seed), 12)))
    try:
        values = forward(graph, {"x": 0.0, "y": 0.45, "z": 0.8})
    except BackpropError:
        return
    errors = []
    for record in (None, []):
        try:
            backpropagate(graph, values, record=record)
        except BackpropError as exc:
            errors.append((type(exc).__name__, str(exc), exc.span))
        else:
            errors.append(None)
    assert errors[0] == errors[1]


def test_a_parse_that_vouches_every_node_is_read_is_right():
    # Graph.finish skips its look for unread nodes when the parser saw no step that could
    # leave one (one statement, no folded literal, none of numpy's call forms): across random
    # programs, whenever it vouches, every node but the output does feed another.
    from itertools import chain

    from backprop_cli.errors import BackpropError
    from backprop_cli.language.parser import _Parser

    rng = random.Random(31)
    programs = [_program(rng, 10) for _ in range(300)]
    programs += ["".join(rng.choice(_STATEMENT_PIECES + ["-2", "[x, y]", "x[0]", "x.T"])
                         for _ in range(rng.randint(1, 16))) for _ in range(6000)]
    vouched = 0
    for source in programs:
        parser = _Parser(source)
        try:
            graph = parser.program()
        except BackpropError:
            continue
        if not parser.may_leave_dead:
            vouched += 1
            assert len(set(chain.from_iterable(graph.args))) == len(graph) - 1, source
    assert vouched > 500  # the shortcut is taken, and tested, often


def test_a_chunk_ends_where_a_line_ends_or_after_a_sum_and_continued_lines_go_on():
    # lexer._cut, against its definition read character by character: the first place at or
    # after `at` just past a new line that does not continue a line, or just past a ' + '
    # (where the source holds no comment), never the source's end.
    from backprop_cli.language.lexer import _cut

    def by_definition(source, at, plus):
        for i in range(at, len(source)):
            if source[i] == "\n" and source[i - 1:i] != "\\" and i + 1 < len(source):
                return i + 1
            if plus and source.startswith(" + ", i) and i + 3 < len(source):
                return i + 3
            if plus and source.startswith(" + ", i) or source[i] == "\n" and \
                    source[i - 1:i] != "\\":
                return -1
        return -1

    rng = random.Random(3)
    for _ in range(3000):
        source = "".join(rng.choice(["x", " + ", "\n", "\\\n", "*", " ", "y"])
                         for _ in range(rng.randint(1, 30)))
        for at in range(len(source) + 1):
            for plus in (True, False):
                assert _cut(source, at, plus) == by_definition(source, at, plus), \
                    (source, at, plus)

