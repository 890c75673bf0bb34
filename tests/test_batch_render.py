"""A pool worker renders each case for the run's outputs and sends back the texts, not the
record: every output must be the same, byte for byte, as when the command renders the case."""

import io
import json
import pickle

from click.testing import CliRunner

from backprop_cli.batch import cases as batch_cases
from backprop_cli.batch import pool as batch_pool
from backprop_cli.batch import run as batch_run
from backprop_cli.cli import cli
from backprop_cli.render import batch_report as out

# Every kind of case: pass, unchecked (a kink), a failed expectation, a warning (probabilities
# given to cross_entropy), a parse error, a bad binding, a JSON id with control characters, an
# error the program raises, array inputs.
LINES = [
    '"(x+y)*z" x=-2 y=5 z=-4 expect: value=-12 x=-4',
    '"relu(x) * y" x=0 y=2',
    '"(x+y)*z" x=-2 y=5 z=-4 expect: x=-5',
    '"cross_entropy(p, 2)" "p=[0.2,0.3,0.5]"',
    '"(x+y*z" x=1 y=2 z=3',
    '"x*y" x=1_000 y=2',
    '{"id": "q\\u0007\\u202e", "expr": "x*y", "at": {"x": 2, "y": 3}}',
    '"log(x) * 0 + exp(y)" x=1 y=800',
    '"sum(W @ v)" "W=[[1,2],[3,4]]" "v=[0.5,-1]"',
    '"x*2" x=3',
]


def results(settings):
    lines = [line + "\n" for line in LINES]
    return list(batch_pool.run_serial(batch_cases.read_cases(lines), settings))


def written(results) -> dict[str, str]:
    """What every output writes of these results."""
    stream, lines, junit = io.StringIO(), io.StringIO(), io.StringIO()
    sinks = [out.JsonStream(stream), out.JsonLines(lines, "standard output"),
             out.JUnitFile(io.StringIO(), "junit", junit)]
    for r in results:
        for sink in sinks:
            sink.add(r, "c.txt")
    text = ["\n".join(out.case_lines(r, "c.txt", 7)) for r in results]
    return {"json": stream.getvalue(), "jsonl": lines.getvalue(), "junit": junit.getvalue(),
            "text": "\n".join(text)}


def test_a_case_rendered_where_it_ran_is_written_byte_for_byte_the_same():
    for settings in (batch_run.Settings(origin="c.txt"),
                     batch_run.Settings(origin="c.txt", sympy=False, numeric=False)):
        here = results(settings)
        assert {r.status for r in here} >= {"unchecked", "fail", "error"}
        assert any(r.warnings for r in here)
        outputs = out.Outputs("c.txt", 7, json=True, junit=True, lines=True)
        sent = pickle.loads(pickle.dumps([out.rendered(r, outputs) for r in here]))
        assert all(r.record is None for r in sent)
        assert written(sent) == written(here)
    assert "pass" in {r.status for r in results(batch_run.Settings(origin="c.txt"))}


def test_only_what_the_outputs_write_is_rendered():
    here = results(batch_run.Settings(origin="c.txt", sympy=False, numeric=False))
    r = out.rendered(here[-1], out.Outputs("c.txt", json=True))
    assert set(r.rendered) == {"json"}
    assert json.loads(r.rendered["json"])["gradients"] == {"x": 2.0}
    plain = out.rendered(here[-1], out.Outputs("c.txt", lines=True))
    assert plain.rendered == {"lines": out.case_lines(here[-1], "c.txt")}
    assert plain.rendered["lines"][0] == "UNCHECKED c.txt:10: x*2"


def _without_times(text: str) -> str:
    import re

    text = re.sub(r'"(seconds|cases_per_second)": [0-9.e+-]+', r'"\1": 0', text)
    text = re.sub(r'time="[0-9.]+"', 'time="0"', text)
    return re.sub(r"(time|cases per second) +[0-9.,]+( s)?", r"\1", text)


def test_the_pool_writes_every_output_as_a_serial_run_does(tmp_path):
    path = tmp_path / "cases.txt"
    path.write_text("".join(LINES[k % len(LINES)] + "\n" for k in range(40)))
    got = {}
    for jobs in ("1", "2"):
        for mode in ([], ["--jsonl"], ["--json"]):
            report, junit = tmp_path / f"r{jobs}.jsonl", tmp_path / f"j{jobs}.xml"
            res = CliRunner().invoke(cli, ["check", str(path), "--jobs", jobs, "--report",
                                           str(report), "--junit", str(junit), *mode])
            assert res.exit_code == 2, res.output
            got[jobs, tuple(mode)] = [_without_times(x) for x in
                                      (res.output, report.read_text(), junit.read_text())]
    for mode in ([], ["--jsonl"], ["--json"]):
        assert got["1", tuple(mode)] == got["2", tuple(mode)]


def test_plain_number_bindings_read_fast_are_read_as_the_full_rules_read_them():
    """A line's `x=-2 y=5` is read without parse_bindings' per-word checks once each name was
    accepted: the same values in the same order, and anything else left to the full rules."""
    import random

    from backprop_cli.language.reads import ReadScope

    scope = ReadScope("", confined=True)
    rng = random.Random(1)
    names = ["x", "y", "w0", "pi", "exp", "e", "sum", "max", "_a", "x1", "x "]
    values = ["1", "-2.5", "1e3", "1e400", "+3", ".5", "5.", "1_0", "0x1", "nan", "inf",
              "1/3", "-0", "00", "1e-320", "1.5e+2", " 2", "@w.npy", "[1,2]", "١"]
    fast = 0
    for _ in range(5000):
        words = [f"{rng.choice(names)}={rng.choice(values)}" for _ in range(rng.randint(1, 4))]
        try:
            want = batch_cases._bindings(words, scope)
        except Exception as exc:  # noqa: BLE001 - the full rules refuse: so must the fast path
            want = exc
        got = batch_cases._plain_bindings(words)
        if got is not None:
            fast += 1
            assert isinstance(want, dict) and list(got.items()) == list(want.items()), words
    assert fast > 100


def test_xml_text_written_as_it_is_is_what_the_escapes_give():
    import random
    from xml.sax.saxutils import escape, quoteattr

    rng = random.Random(3)
    alphabet = list("ab =+*/()[]:;,.'\"&<>\n\r\t\x00\x07\x0b\x1f\x7f"
                    "\u202e\ud800\ufffe\uffff\u00e9#")
    for _ in range(20000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
        assert out._attr(text) == quoteattr(out._XML_BAD.sub("\ufffd", text)), repr(text)
        assert out._xml(text) == escape(out._XML_BAD.sub("\ufffd", text)), repr(text)
