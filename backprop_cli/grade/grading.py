"""A backward pass written by hand, graded line by line against the engine's gradients.

Each line `dNAME = EXPR` (or `+=`) is evaluated twice: as written, reading the gradients the
earlier lines made, and with the engine's true gradients in place of every dNAME it reads (its
own rule, given a right upstream). A line whose own rule is right but whose value is wrong only
follows from an earlier wrong line; the first wrong line is the first whose own rule is wrong.

A gradient is graded once its last line has run, `+=` adding a share as the lecture's fan-out
rule says. A line before the last one of its gradient is graded against the shares the engine
sent that value, one per gate that reads it (the parts of `chain_step`): a line that adds the
share through one gate is right when it equals that share.

Statuses, per line:
  exact   equal to the engine's gradient bit for bit
  approx  within RTOL and ATOL entry by entry, as numpy's allclose: |v - g| <= ATOL + RTOL |g|
  wrong   a different value: the largest difference and where
  shape   a different shape: both named
  error   the line does not evaluate: the message, pointing at the line
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .. import exits
from ..engine.forward import forward
from ..errors import BackpropError, NameResolutionError
from . import diagnoses
from .comparing import ATOL, RIGHT, RTOL, Verdict, compare
from .reading import BackwardFile, BackwardLine, moved, read_backward
from .truth import Forward, run_forward


class Located(Exception):
    """Bad input in one of the two files: the error and the file it is in (for its prefix)."""

    def __init__(self, error: BackpropError, origin: str):
        super().__init__(error.message)
        self.error = error
        self.origin = origin


@dataclass(frozen=True)
class LineGrade:
    """One line of the backward file, graded."""

    line: int  # 1-based, in the backward file
    name: str  # dNAME
    text: str
    status: str
    max_diff: float | None
    why: str | None
    follows_from: int | None  # the earlier line whose wrong rule this line's value follows from
    own: str  # the status of the line's own rule, given a right upstream
    caret: tuple[str, str] | None = None  # for an error: the line and a caret under the place


@dataclass(frozen=True)
class GradeReport:
    """The graded lines; owns the exit code: 0 when every line is exact or approx, else 1."""

    lines: tuple[LineGrade, ...]
    first_wrong: LineGrade | None
    diagnosis: str | None
    missing: tuple[str, ...]
    rtol: float = RTOL
    atol: float = ATOL

    @property
    def status(self) -> str:
        return "pass" if all(g.status in RIGHT for g in self.lines) else "fail"

    @property
    def exit_code(self) -> int:
        return exits.OK if self.status == "pass" else exits.CHECK_FAILED


# --- running the lines ----------------------------------------------------------------------


class _Unread(Exception):
    """A line reads dNAME where no value of it exists (yet)."""

    def __init__(self, name: str, node: int, why: str, line: int | None = None):
        super().__init__(why)
        self.name = name
        self.node = node
        self.why = why
        self.line = line  # the line whose failure left dNAME without a value


@dataclass
class _Run:
    """One line's two evaluations."""

    written: Any = None
    rule: Any = None
    written_error: BackpropError | _Unread | None = None
    rule_error: BackpropError | None = None
    rule_values: list | None = None  # every node of the line's expression, given a right upstream
    reads: tuple[str, ...] = ()  # the gradients it reads (NAMEs)


def _evaluate(line: BackwardLine, source: str, lookup: Callable[[str, int], Any]):
    """EXPR's value and all its nodes' values, names looked up by `lookup(name, node)`."""
    g = line.graph
    env = {name: lookup(name, i) for name, i in g.variables.items()}
    try:
        values = forward(g, env)
    except BackpropError as err:
        raise moved(err, source, line.offset) from None
    return values[g.output], values


def _resolve(fw: Forward, back: BackwardFile) -> None:
    """Every name a line writes or reads is a forward name, a bound value or a gradient of
    one: anything else is bad input, pointed at."""
    gradable = set(fw.nodes) | set(fw.bindings)
    for line in back.lines:
        if line.target not in gradable:
            raise NameResolutionError(
                f"{line.grad_name}: {line.target} is neither a forward name nor a bound "
                "variable", back.source, (line.offset, line.offset + len(line.grad_name)),
                _suggest(line.target, gradable))
        node = fw.nodes.get(line.target)
        if node is not None and not fw.wants[node] and node not in fw.graph.variables.values():
            raise NameResolutionError(
                f"{line.grad_name}: {line.target} depends on no bound variable, so it has no "
                "gradient to write", back.source,
                (line.offset, line.offset + len(line.grad_name)))
        for name, i in line.graph.variables.items():
            if name in fw.nodes or name in fw.bindings:
                continue
            if name.startswith("d") and name[1:] in gradable:
                continue
            g = line.graph
            raise NameResolutionError(
                f"{name} is neither a forward name, a bound variable nor a gradient (dNAME)",
                back.source, (line.offset + g.starts[i], line.offset + g.ends[i]),
                _suggest(name, gradable | {"d" + n for n in gradable}))


def _suggest(name: str, known: set[str]) -> str | None:
    import difflib

    close_ = difflib.get_close_matches(name, sorted(known), n=1)
    return f"did you mean {close_[0]}?" if close_ else None


def _is_grad(fw: Forward, name: str) -> bool:
    return not (name in fw.nodes or name in fw.bindings)


def grade(forward_source: str, backward_source: str, bindings: Mapping[str, Any],
          forward_origin: str = "forward", backward_origin: str = "backward") -> GradeReport:
    """Grade a backward file against the forward program at the bindings. Bad input raises
    Located (the error and which file it is in)."""
    try:
        fw = run_forward(forward_source, bindings)
    except BackpropError as err:
        raise Located(err, forward_origin) from None
    try:
        back = read_backward(backward_source)
        _resolve(fw, back)
    except BackpropError as err:
        raise Located(err, backward_origin) from None
    return _grade(fw, back)


def _grade(fw: Forward, back: BackwardFile) -> GradeReport:
    run = _Lines(fw, back)
    runs = [run.line(k, line) for k, line in enumerate(back.lines)]
    return _verdicts(fw, back, runs, run.state, run.failed, run.rule_state, run.rule_failed,
                     run.last, diagnoses)


class _Lines:
    """The lines run in order, twice each: the gradients as written so far (`state`), and as
    each line's own rule makes them from right upstreams (`rule_state`)."""

    def __init__(self, fw: Forward, back: BackwardFile):
        self.fw, self.lines, self.source = fw, back.lines, back.source
        out_name = fw.graph.names.get(fw.graph.output)
        # d(output)/d(output) is 1 before any line runs: a line may read it.
        self.state: dict[str, Any] = {out_name: 1.0} if out_name else {}
        self.failed: dict[str, int] = {}  # NAME -> the line whose failure left dNAME unset
        self.rule_state: dict[str, Any] = {}
        self.rule_failed: set[str] = set()
        self.last: dict[str, int] = {}
        self.first_line: dict[str, int] = {}
        for k, line in enumerate(self.lines):
            self.last[line.target] = k
            self.first_line.setdefault(line.target, k)

    def written(self, k: int, name: str, node: int) -> Any:
        """A name's value for line k as written: a forward value, or a gradient so far."""
        fw, lines = self.fw, self.lines
        if not _is_grad(fw, name):
            return fw.value(name)
        target = name[1:]
        if target in self.failed:
            raise _Unread(target, node, f"reads d{target}, which line "
                          f"{lines[self.failed[target]].number} could not compute",
                          self.failed[target])
        if target not in self.state:
            later = self.first_line.get(target)
            when = "no line assigns it" if later is None else \
                f"line {lines[later].number} assigns it later" if later > k else \
                "this line is the first to assign it"
            raise _Unread(target, node, f"reads d{target} before any line assigns it ({when})")
        return self.state[target]

    def rule(self, name: str, node: int) -> Any:
        fw = self.fw
        return fw.truth(name[1:]) if _is_grad(fw, name) else fw.value(name)

    def line(self, k: int, line: BackwardLine) -> _Run:
        run = _Run(reads=tuple(n[1:] for n in line.graph.variables if _is_grad(self.fw, n)))
        written_values = None
        try:
            run.written, written_values = _evaluate(
                line, self.source, lambda name, node: self.written(k, name, node))
        except (BackpropError, _Unread) as err:
            run.written_error = err
        if run.reads or run.written_error is not None:
            try:
                run.rule, run.rule_values = _evaluate(line, self.source, self.rule)
            except BackpropError as err:
                run.rule_error = err
        else:  # it reads no gradient: as written is its own rule
            run.rule, run.rule_values = run.written, written_values
        self._keep_written(line, k, run)
        self._keep_rule(line, run)
        return run

    def _keep_written(self, line: BackwardLine, k: int, run: _Run) -> None:
        name, state, failed = line.target, self.state, self.failed
        if run.written_error is not None:
            failed[name] = k
            state.pop(name, None)
        elif line.accumulate and name in state:
            state[name] = state[name] + run.written
            failed.pop(name, None)
        elif not (line.accumulate and name in failed):  # adding to no value: still none
            state[name] = run.written
            failed.pop(name, None)

    def _keep_rule(self, line: BackwardLine, run: _Run) -> None:
        name = line.target
        if run.rule_error is not None:
            self.rule_failed.add(name)
        elif line.accumulate and name in self.rule_state:
            self.rule_state[name] = self.rule_state[name] + run.rule
        elif not (line.accumulate and name in self.rule_failed):
            self.rule_state[name] = run.rule
            self.rule_failed.discard(name)


def _verdicts(fw: Forward, back: BackwardFile, runs: list[_Run], state, failed, rule_state,
              rule_failed, last, diagnoses) -> GradeReport:
    lines = back.lines
    by_name: dict[str, list[int]] = {}
    for k, line in enumerate(lines):
        by_name.setdefault(line.target, []).append(k)
    written_v: list[Verdict | None] = [None] * len(lines)
    own_v: list[Verdict | None] = [None] * len(lines)
    why: list[str | None] = [None] * len(lines)
    for name, ks in by_name.items():
        truth = fw.truth(name)
        pairs = fw.shares.get(fw.nodes.get(name, -1), [])
        shares = [p for _, p in pairs]
        total_w = _error_verdict(runs[failed[name]].written_error) if name in failed \
            else compare(state[name], truth)
        total_r = Verdict("error") if name in rule_failed else compare(rule_state[name], truth)
        if len(ks) == 1:
            k = ks[0]
            written_v[k] = _line_error(runs[k]) or total_w
            own_v[k] = _rule_error(runs[k]) or total_r
            continue
        matched = [_match(runs[k].rule, shares) if runs[k].rule_error is None else None
                   for k in ks]
        for k, match in zip(ks, matched):
            own_v[k] = _rule_error(runs[k]) or (match if match is not None else total_r)
        if not total_r.right:
            bad = [k for k, match in zip(ks, matched) if match is None]
            resets = [k for k in ks[1:] if not lines[k].accumulate]
            if bad:
                for k in bad:
                    own_v[k] = _rule_error(runs[k]) or _unmatched(runs[k].rule, truth, shares)
            else:
                blamed = resets[0] if resets else ks[-1]
                own_v[blamed] = Verdict("wrong", total_r.max_diff, total_r.where)
                why[blamed] = diagnoses.fan_out(fw, name, lines, ks, blamed, pairs,
                                                rule_state.get(name))
        for k in ks:
            if runs[k].written_error is not None:
                written_v[k] = _line_error(runs[k])
            elif k == ks[-1]:
                written_v[k] = total_w
            else:
                match = _match(runs[k].written, shares)
                written_v[k] = match if match is not None else (
                    total_w if total_w.right else _unmatched(runs[k].written, truth, shares))
    return _finish(fw, back, runs, written_v, own_v, why, last, diagnoses)


def _finish(fw: Forward, back: BackwardFile, runs, written_v, own_v, why, last,
            diagnoses) -> GradeReport:
    lines = back.lines
    roots: list[int | None] = [None] * len(lines)
    grades: list[LineGrade] = []
    first_wrong: int | None = None
    for k, line in enumerate(lines):
        w, own = written_v[k], own_v[k]
        follows = None
        if not own.right:
            roots[k] = k
            first_wrong = k if first_wrong is None else first_wrong
            reason = why[k] or (diagnoses.diagnose(fw, line, runs[k], own)
                                if own.status != "error" else _error_text(runs[k].rule_error))
        elif not w.right:
            roots[k] = _root(lines, runs, k, roots, written_v)
            follows = lines[roots[k]].number if roots[k] is not None else None
            reason = _follows_text(lines, runs[k], k, follows, last)
        else:
            reason = why[k] or (f"within rtol {RTOL:g}, atol {ATOL:g}"
                                if w.status == "approx" else None)
        grades.append(_line_grade(line, runs[k], w, own, reason, follows))
    if first_wrong is None:
        first_wrong = next((k for k, g in enumerate(grades) if g.status not in RIGHT), None)
    first = grades[first_wrong] if first_wrong is not None else None
    return GradeReport(tuple(grades), first, first.why if first else None,
                       tuple(_missing(fw, lines)))


def _root(lines, runs, k: int, roots, written_v) -> int | None:
    """The line whose wrong rule line k's wrong value follows from, if one does."""
    line, err = lines[k], runs[k].written_error
    if isinstance(err, _Unread) and err.line is not None:
        return roots[err.line]
    if err is None or isinstance(err, _Unread):
        reads = (*runs[k].reads, line.target) if line.accumulate else runs[k].reads
        return _upstream_root(lines, reads, k, roots, written_v)
    return None


def _follows_text(lines, run: _Run, k: int, follows: int | None, last) -> str | None:
    """Why a line whose own rule is right has a wrong value."""
    err = run.written_error
    if follows is not None:
        return f"right, given a right upstream; wrong because line {follows} is"
    if isinstance(err, _Unread):
        return f"{err.why}; its own rule is right, given a right upstream"
    early = [n for n in run.reads if last.get(n, -1) > k]
    if early:
        return (f"reads d{early[0]} before its last line (line "
                f"{lines[last[early[0]]].number}) has run")
    return _error_text(err) if err is not None else None


def _line_grade(line: BackwardLine, run: _Run, w: Verdict, own: Verdict, reason,
                follows) -> LineGrade:
    if reason is None:
        reason = _error_text(run.written_error) if w.status == "error" else \
            _where_text(w) if w.status == "wrong" else \
            _shape_text(w, line.target) if w.status == "shape" else None
    err = run.written_error if w.status == "error" else None
    caret = err.caret() if isinstance(err, BackpropError) else None
    return LineGrade(line.number, line.grad_name, line.text, w.status, w.max_diff, reason,
                     follows, own.status, caret)


def _missing(fw: Forward, lines) -> list[str]:
    """The gradients no line writes (information, not failure)."""
    written = {line.target for line in lines}
    missing = []
    for name, i in sorted(fw.nodes.items(), key=lambda pair: pair[1]):
        if name in written or i == fw.graph.output:
            continue
        if name in fw.graph.variables and _position(fw.bindings.get(name)):
            continue  # integer positions (an index array) have no gradient
        if name in fw.graph.variables or (fw.wants[i] and not fw.graph.ops[i].is_leaf):
            missing.append("d" + name)
    return missing


def _position(value: Any) -> bool:
    return getattr(getattr(value, "dtype", None), "kind", "f") in "iub"


def _upstream_root(lines, reads, k: int, roots, written_v) -> int | None:
    """The earliest root among the earlier lines of the gradients line k reads."""
    found = [roots[j] for j in range(k) if lines[j].target in reads
             and not written_v[j].right and roots[j] is not None]
    return min(found) if found else None


def _match(value: Any, shares: list) -> Verdict | None:
    """The best verdict of value against one of the shares, when one is right."""
    best = None
    for p in shares:
        v = compare(value, p)
        if v.right and (best is None or v.status == "exact" or
                        (best.status != "exact" and (v.max_diff or 0) < (best.max_diff or 0))):
            best = v
    return best


def _unmatched(value: Any, truth: Any, shares: list) -> Verdict:
    """A line of a fan-out that equals no share: wrong (against the nearest share), or shape."""
    verdicts = [compare(value, p) for p in shares] or [compare(value, truth)]
    same = [v for v in verdicts if v.status != "shape"]
    if not same:
        return compare(value, truth)
    return min(same, key=lambda v: v.max_diff or 0.0)


def _error_verdict(err) -> Verdict:
    return Verdict("error", error=err if isinstance(err, BackpropError) else None)


def _line_error(run: _Run) -> Verdict | None:
    return _error_verdict(run.written_error) if run.written_error is not None else None


def _rule_error(run: _Run) -> Verdict | None:
    return _error_verdict(run.rule_error) if run.rule_error is not None else None


def _error_text(err) -> str | None:
    if err is None:
        return None
    if isinstance(err, _Unread):
        return err.why
    loc = err.location()
    where = f"column {loc[1]}: " if loc else ""
    return f"{err.kind} at {where}{err.message}" + (f" ({err.hint})" if err.hint else "")


def _where_text(v: Verdict) -> str:
    at = f" at [{', '.join(map(str, v.where))}]" if v.where else ""
    return f"largest difference {v.max_diff:.3g}{at}"


def _shape_text(v: Verdict, name: str) -> str:
    from ..ops.shapes import fmt

    got, want = v.shapes
    return f"the line has shape {fmt(got)}; d{name} has {name}'s shape {fmt(want)}"


def read_and_grade(forward_source: str, backward_source: str, bindings) -> GradeReport:
    """grade() for tests: raises the BackpropError itself."""
    try:
        return grade(forward_source, backward_source, bindings)
    except Located as loc:
        raise loc.error from None


__all__ = ["ATOL", "RTOL", "GradeReport", "LineGrade", "Located", "compare", "grade",
           "read_and_grade", "run_forward"]
