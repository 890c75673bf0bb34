"""JSON Lines records -> Case: each field judged by the rules of a text line, and named in
the message when it is bad (`at.y`, `expect.value`); a bad field keeps the record's own id."""

from __future__ import annotations

from typing import Any

from ..checks import claims, expectations
from ..engine.bindings import number, parse_binding, parse_value
from ..errors import BackpropError, BindingError, ParseError, shown
from .case import Case


def json_case(index: int, lineno: int, text: str, folder: str = "") -> Case:
    import json

    try:
        obj = json.loads(text, parse_float=_Number, parse_int=_Number,
                         parse_constant=_Constant)
    except json.JSONDecodeError as exc:
        raise ParseError(f"not a JSON object: {exc.msg}", text, (exc.pos, exc.pos + 1)) \
            from None
    except RecursionError:
        raise BindingError("not a JSON object: nested too deeply") from None
    if not isinstance(obj, dict):
        raise BindingError("a JSON line must be an object like "
                           '{"expr": "(x+y)*z", "at": {"x": -2, "y": 5, "z": -4}}')
    case_id = obj.get("id")
    if isinstance(case_id, _Number):
        case_id = case_id.text
    if case_id is not None and not isinstance(case_id, str):
        raise BindingError('"id" must be a string')
    try:
        return _json_fields(index, lineno, text, obj, case_id, folder)
    except BackpropError as err:
        err.case_id = case_id  # a bad field is reported under the case's own id
        raise


def _json_fields(index: int, lineno: int, text: str, obj: dict, case_id: str | None,
                 folder: str) -> Case:
    """The record's fields, each judged as a text line's part is, into one Case."""
    unknown = [k for k in obj if k not in ("id", "expr", "at", "expect", "claims")]
    if unknown:
        raise BindingError(f"unknown field {shown(unknown[0], 40)!r}",
                           hint="fields: id, expr, at, expect, claims")
    program = _json_program(obj)
    bindings = _json_bindings(obj.get("at", {}), folder)
    named = _Named(program)
    expect = _json_expectations(obj.get("expect", {}), bindings, named)
    return Case(index, lineno, case_id if case_id is not None else f"line {lineno}", program,
                tuple(bindings.items()),
                expectations.resolve(expect, bindings, spelling=expectations.CASE_FILE,
                                     named=named),
                _json_column(text, program),
                claims.check_case_claims(claims.json_claims(obj.get("claims", {})), bindings,
                                         text), form="json")


def _json_program(obj: dict) -> str:
    program = obj.get("expr")
    if not isinstance(program, str):
        raise BindingError('"expr" must be a string holding the program',
                           hint='e.g. "expr": "(x+y)*z"')
    return program


def _json_bindings(at: Any, folder: str) -> dict[str, Any]:
    """"at": NAME -> a number, or a nested list of numbers (an array), each named in the
    message when it is bad (`at.y`)."""
    if not isinstance(at, dict):
        raise BindingError('"at" must be an object of NAME: value', hint='"at": {"x": -2}')
    bindings: dict[str, Any] = {}
    for name, value in at.items():
        field = f"at.{shown(name, 40)}"
        if "=" in name:
            raise BindingError(f"{shown(name, 40)!r} is not a valid name")
        if isinstance(value, _Number):
            bindings[_binding_name(name)] = number(field, value.text)
        elif isinstance(value, list):
            bindings[_binding_name(name)] = _json_array(name, field, value, folder)
        else:
            raise BindingError(f"{field} must be a number or a list of numbers, not "
                               f"{_json_kind(value)}")
    return bindings


def _json_array(name: str, field: str, value: list, folder: str) -> Any:
    """A nested list bound to `name`, read as the text word NAME=[...] is."""
    import json

    try:
        word = json.dumps(value, allow_nan=False)
    except RecursionError:  # the encoder recurses once per level, like the decoder
        raise BindingError(f"{field} is nested too deeply",
                           hint="numpy allows at most 32 dimensions") from None
    except ValueError:  # a number past float's range, read as inf
        raise BindingError(f"{field} has entries that are not finite numbers") from None
    if _holds_constant(value):
        raise BindingError(f"{field} has entries that are not finite numbers")
    try:
        return parse_value(name, word, folder)
    except BindingError as err:
        said = err.message
        said = f"{field} {said[len(name) + 1:]}" if said.startswith(name + " ") else \
            f"{field}: {said}"
        raise BindingError(said, hint=err.hint) from None


def _json_expectations(expect_obj: Any, bindings: dict, named: _Named) -> list[tuple[str, str]]:
    """"expect" as (NAME, answer text) pairs, as a text line's words after `expect:` give."""
    if not isinstance(expect_obj, dict):
        raise BindingError('"expect" must be an object',
                           hint='"expect": {"value": -12, "gradients": {"x": -4}}')
    unknown = [k for k in expect_obj if k not in ("value", "gradients", "values")]
    if unknown:
        raise BindingError(f"unknown field expect.{shown(unknown[0], 40)}",
                           hint="fields: value, gradients, values")
    expect: list[tuple[str, str]] = []
    if "value" in expect_obj:
        expect.append(("value", _answer_text("expect.value", expect_obj["value"])))
    expect += _expected_gradients(expect_obj.get("gradients", {}), bindings, named)
    expect += _expected_values(expect_obj.get("values", {}), bindings, named)
    return expect


def _expected_gradients(grads: Any, bindings: dict, named: _Named) -> list[tuple[str, str]]:
    if not isinstance(grads, dict):
        raise BindingError('"expect.gradients" must be an object of NAME: number')
    out = []
    for name, value in grads.items():
        # a named intermediate's gradient: "gradients": {"q": -4} is a text line's dq=-4
        key = name if name in bindings or name[:1] == "d" and name[1:] in named() \
            or name not in named() else "d" + name
        out.append((key, _answer_text(f"expect.gradients.{shown(name, 40)}", value)))
    return out


def _expected_values(values: Any, bindings: dict, named: _Named) -> list[tuple[str, str]]:
    """"values": the named intermediates' values (a text line's q=3)."""
    if not isinstance(values, dict):
        raise BindingError('"expect.values" must be an object of NAME: number',
                           hint='the named intermediates\' values: "values": {"q": 3}')
    out = []
    for name, value in values.items():
        if name in bindings or name not in named():
            raise BindingError(f"expect.values.{shown(name, 40)}: {shown(name, 40)} is not a "
                               "named intermediate of the program",
                               hint='e.g. "values": {"q": 3} for q = x + y; gradients go '
                                    "in expect.gradients")
        out.append((name, _answer_text(f"expect.values.{shown(name, 40)}", value)))
    return out


class _Named:
    """The program's named intermediates, read (parsed) only when a name asks for them."""

    def __init__(self, program: str):
        self.program = program
        self.names: list[str] | None = None

    def __call__(self) -> list[str]:
        if self.names is None:
            self.names = expectations.named_values(self.program)
        return self.names


def _binding_name(name: str) -> str:
    """A JSON "at" key judged by the rules of a NAME=VALUE word's name (not pi, not exp)."""
    return parse_binding(f"{name}=0")[0]


class _Number(float):
    """A JSON number that remembers how it was written, so '-0.2' is graded to one digit."""

    text: str

    def __new__(cls, text: str):
        obj = super().__new__(cls, text)
        obj.text = text
        return obj


class _Constant(str):
    """NaN, Infinity or -Infinity: JSON's decoder accepts them, the case format does not."""


def _holds_constant(data: list) -> bool:
    """Whether a nested list holds NaN or Infinity anywhere (a loop over a stack: the depth is
    the user's)."""
    stack = [data]
    while stack:
        for item in stack.pop():
            if isinstance(item, _Constant):
                return True
            if isinstance(item, list):
                stack.append(item)
    return False


def _json_kind(value: Any) -> str:
    """What a JSON value is, in JSON's words, for a message."""
    if isinstance(value, _Constant):
        return str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, str):
        return "a string"
    return "an object" if isinstance(value, dict) else "a list"


def _answer_text(where: str, value: Any) -> str:
    """An expectation as a text case file writes it: a JSON number as written (in the
    language's literal grammar, finite), a nested list of them (an array: `[0.1, 0.2]`), or a
    string holding arithmetic on numbers (`"0.0353*0.1966"`); a string holding one number is
    refused as in "at" (JSON says what is a number)."""
    if isinstance(value, _Number):
        if expectations.is_finite_number(value.text):
            return value.text
        raise BindingError(f"{where} is not a finite number")
    if isinstance(value, list):
        return _list_text(where, value)
    if isinstance(value, str) and not isinstance(value, _Constant):
        if expectations.is_finite_number(value.strip()):
            raise BindingError(f"{where} must be a number, not a string",
                               hint=f"write {value.strip()} without quotes")
        if expectations.is_answer(value):
            return value.strip()
        raise BindingError(f"{where} must be a number, not a string",
                           hint="a string holds arithmetic on numbers, e.g. \"0.0353*0.1966\"")
    raise BindingError(f"{where} must be a finite number, not {_json_kind(value)}")


_END = object()


def _list_text(where: str, value: list) -> str:
    """A nested list of JSON numbers as text, each number as written (a loop over a stack: the
    depth is the user's)."""
    out: list[str] = []
    stack = [iter([value])]
    first = [True]
    while stack:
        item = next(stack[-1], _END)
        if item is _END:
            stack.pop()
            first.pop()
            if stack:
                out.append("]")
            continue
        if not first[-1]:
            out.append(", ")
        first[-1] = False
        if isinstance(item, list):
            out.append("[")
            stack.append(iter(item))
            first.append(True)
        elif isinstance(item, _Number) and expectations.is_finite_number(item.text):
            out.append(item.text)
        else:
            kind = "a number past float's range" if isinstance(item, _Number) else \
                _json_kind(item)
            raise BindingError(f"{where} has an entry that is not a finite number: {kind}")
    return "".join(out)


def _json_column(line: str, program: str) -> int | None:
    if not program or any(ch in program for ch in '"\\') or not program.isprintable():
        return None  # escaped in the JSON text: columns inside it do not match the line
    at = line.find('"' + program + '"')
    return at + 2 if at >= 0 else None
