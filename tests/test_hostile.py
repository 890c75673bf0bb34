"""Hostile input and huge batches, with real files, devices and processes: nothing hangs,
nothing is lost, nothing is echoed raw (issue 12)."""

import json
import os
import subprocess
import sys
import time
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backprop_cli.errors import shown

ROOT = Path(__file__).resolve().parent.parent
LECTURE = '"(x+y)*z" x=-2 y=5 z=-4 expect: value=-12 x=-4 y=-4 z=3'
WRONG = '"(x+y)*z" x=-2 y=5 z=-4 expect: x=-5'
UNCLOSED = '"(x+y*z" x=-2 y=5 z=-4'


def backprop(*args, stdin=None, timeout=60, **kw):
    """The real command as a process: (exit code, stdout, stderr)."""
    proc = subprocess.run([sys.executable, "-m", "backprop_cli", *args], input=stdin,
                          capture_output=True, text=True, timeout=timeout, cwd=kw.get("cwd"))
    return proc.returncode, proc.stdout, proc.stderr


def clean(stderr: str) -> None:
    """No traceback, no "Exception ignored", nothing a terminal would act on."""
    assert "Traceback" not in stderr and "Exception ignored" not in stderr, stderr
    assert all(ch.isprintable() or ch in "\t\n" for ch in stderr), ascii(stderr)


# --- bounded reading ----------------------------------------------------------------------


def test_dev_zero_is_refused_without_being_read():
    # Refused by the kind of file, before a byte is read (the subprocess timeout is only a
    # last guard against a hang: no assertion here depends on the clock).
    code, out, err = backprop("check", "/dev/zero", "--json")
    assert code == 2  # with --json, stdout holds the error as JSON (docs/json.md)
    assert json.loads(out)["error"]["message"].startswith("/dev/zero is not a regular file")
    assert err == ("error: /dev/zero is not a regular file, a pipe or a terminal (a character "
                   "device): it cannot be read as lines (save the cases to a file, or pipe "
                   "them in)\n")
    code, out, err = backprop("eval", "-f", "/dev/zero")
    assert (code, out) == (2, "")
    assert err.startswith("error: /dev/zero is not a regular file, a pipe or a terminal")


def test_an_endless_line_on_a_pipe_stops_at_the_byte_limit():
    # What ends the read is a count of bytes (the message says where); the timeout is only
    # a last guard against a hang.
    cat = subprocess.Popen(["cat", "/dev/zero"], stdout=subprocess.PIPE)
    proc = subprocess.run([sys.executable, "-m", "backprop_cli", "check", "-", "--json",
                           "--no-check"], stdin=cat.stdout, capture_output=True, text=True,
                          timeout=60)
    cat.kill()
    cat.wait()
    assert proc.returncode == 2
    assert proc.stderr == "<stdin>: 1 of 1 case could not run\n"
    (case,) = json.loads(proc.stdout)["cases"]
    assert case["error"]["message"] == ("<stdin>:1: error: no end of line within 268,435,457 "
                                        "bytes: reading stopped here")


def test_a_50_mb_line_is_its_own_error_and_the_next_line_still_runs(tmp_path):
    path = tmp_path / "cases.txt"
    with open(path, "w") as fh:
        fh.write('"x*y" x=1 y=2 ' + "#" * (50 << 20) + "\n")
        fh.write(LECTURE + "\n")
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from proc_tree import peak_tree_rss

    cmd = [sys.executable, "-m", "backprop_cli", "check", str(path), "--jsonl", "--jobs", "1",
           "--no-check", "--report", str(tmp_path / "r.jsonl")]
    peak, _seconds, code, _, err = peak_tree_rss(cmd, every=0.005)
    assert (code, err) == (2, f"{path}: 1 of 2 cases could not run\n")
    assert peak < 40 << 20  # the 50 MB line is never held: start-up (~20 MB) and the limit
    first, second, summary = (json.loads(line) for line in open(tmp_path / "r.jsonl"))
    assert first["line"] == 1 and first["status"] == "error"
    assert first["error"]["message"] == (
        f"{path}:1: error: the line is 52,428,814 bytes, over the limit of 1,048,576 "
        "(--max-line-bytes raises it)")
    assert (second["line"], second["status"]) == (2, "pass")
    assert summary["summary"]["errors"] == 1


def test_the_line_limit_is_an_option(tmp_path):
    path = tmp_path / "cases.txt"
    path.write_text(f'{LECTURE}\n"x" x=1 # {"padding " * 20}\n')
    code, out, err = backprop("check", str(path), "--max-line-bytes", "100", "--jsonl")
    first, second, _summary = map(json.loads, out.splitlines())
    assert first["status"] == "pass"
    assert second["error"]["message"] == (f"{path}:2: error: the line is 170 bytes, over the "
                                          "limit of 100 (--max-line-bytes raises it)")
    assert (code, err) == (2, f"{path}: 1 of 2 cases could not run\n")


# --- echo safely --------------------------------------------------------------------------


def test_a_right_to_left_override_is_named_never_echoed():
    code, out, err = backprop("eval", "x + \u202e y", "x=1")
    assert (code, out) == (2, "")
    assert err.splitlines() == [
        "parse error at column 5: unexpected character U+202E",
        "  x + U+202E y",
        "      ^^^^^^",  # under the whole escape, so the caret still points at it
    ]
    clean(err)


def test_a_case_file_echoes_no_raw_control_or_bidi_character(tmp_path):
    path = tmp_path / "cases.txt"
    path.write_text('"x + \u202e y" x=1\n'
                    '{"id": "q\u202eq", "expr": "x*y", "at": {"x": 1}}\n'
                    '"x*\x1b[31my" x=1\n', encoding="utf-8")
    code, out, err = backprop("check", str(path), "--junit", str(tmp_path / "j.xml"))
    assert code == 2
    clean(out)
    clean(err)
    assert out.splitlines()[:3] == [f"ERROR {path}:1:6: parse error: unexpected character U+202E",
                                    "  x + U+202E y", "      ^^^^^^"]
    xml = (tmp_path / "j.xml").read_text()
    assert "\u202e" not in xml and "\x1b" not in xml
    assert 'name="qU+202Eq: x*y"' in xml


def test_a_5000_digit_binding_is_shortened_to_its_two_ends():
    code, out, err = backprop("eval", "x", "x=" + "9" * 5000)
    assert (code, out) == (2, "")
    assert err == ("binding error: x=9999999999999999999\u20269999999999999999999 is not a "
                   "finite number\n")


@pytest.mark.parametrize("args", [
    ["eval", "x" * 5000],
    ["eval", "x", "x=" + "\u202e" * 3000],
    ["eval", "x", "\u202e" * 3000 + "=1"],
    ["eval", "--" + "x" * 5000],
    ["eval", "-f", "/no/such/" + "d" * 3000],
])
def test_the_first_line_of_stderr_stays_short_whatever_the_input(args):
    code, _out, err = backprop(*args)
    assert code == 2
    assert len(err.splitlines()[0]) < 300
    clean(err)


@given(st.text(max_size=400), st.integers(min_value=3, max_value=200))
def test_shown_text_is_printable_and_bounded(text, limit):
    out = shown(text, limit)
    assert len(out) <= max(limit, len("U+10FFFF"))
    assert all(ch.isprintable() or ch == "\t" for ch in out)
    if len(text) <= limit and text.isprintable():
        assert out == text


def test_shown_keeps_both_ends_of_long_text():
    assert shown("a" * 100 + "b" * 100, 21) == "a" * 10 + "\u2026" + "b" * 10
    assert shown("x=\u202e1", 40) == "x=U+202E1"
    assert all(unicodedata.category(c)[0] != "C" for c in shown("\x00\x1b\u200b\u2066", 80))


# --- output failures ----------------------------------------------------------------------


@pytest.mark.parametrize("args", [
    ["eval", "(x+y)*z", "x=-2", "y=5", "z=-4"],
    ["eval", "(x+y)*z", "x=-2", "y=5", "z=-4", "--json"],
    ["check", "{cases}"],
    ["check", "{cases}", "--json"],
    ["check", "{cases}", "--jsonl", "--jobs", "2"],
])
def test_a_full_disk_is_one_line_and_exit_2(tmp_path, args):
    cases = tmp_path / "cases.txt"
    cases.write_text((LECTURE + "\n") * 50)
    argv = [a.format(cases=cases) for a in args]
    with open("/dev/full", "w") as full:
        proc = subprocess.run([sys.executable, "-m", "backprop_cli", *argv], stdout=full,
                              stderr=subprocess.PIPE, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr == "output error: cannot write standard output: No space left on device\n"


@pytest.mark.parametrize("option, what", [
    ("--report", "the report /dev/full"),
    ("--junit", "the JUnit report /dev/full"),
])
def test_a_report_that_cannot_be_written_is_named(tmp_path, option, what):
    cases = tmp_path / "cases.txt"
    cases.write_text((LECTURE + "\n") * 3)
    code, out, err = backprop("check", str(cases), option, "/dev/full")
    assert code == 2
    assert err == f"output error: cannot write {what}: No space left on device\n"
    code, out, err = backprop("check", str(cases), option, str(tmp_path / "no" / "r.txt"))
    assert (code, out) == (2, "")
    assert err == (f"output error: cannot write {tmp_path / 'no' / 'r.txt'}: No such file or "
                   "directory\n")
    assert os.path.exists("/dev/full") and not os.path.isfile("/dev/full")


def test_a_reader_that_leaves_early_is_quiet(tmp_path):
    cases = tmp_path / "cases.txt"
    cases.write_text((WRONG + "\n") * 3000)  # a failure is written in detail in every format
    for fmt in ("--jsonl", "--json", "--plain"):
        proc = subprocess.Popen([sys.executable, "-m", "backprop_cli", "check", str(cases),
                                 fmt, "--no-check", "--jobs", "2"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        proc.stdout.readline()
        proc.stdout.close()  # as `| head -1` does
        err = proc.stderr.read().decode()
        assert (fmt, proc.wait(timeout=60), err) == (fmt, 141, "")


# --- streaming output ---------------------------------------------------------------------


def test_check_json_writes_each_case_as_it_finishes():
    """The second case is not written yet when the first is read back: nothing waits for
    the end of the file."""
    proc = subprocess.Popen([sys.executable, "-m", "backprop_cli", "check", "-", "--jsonl",
                             "--jobs", "1"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    proc.stdin.write(LECTURE + "\n")
    proc.stdin.flush()
    first = json.loads(proc.stdout.readline())  # would hang if output waited for the end
    assert (first["line"], first["status"]) == (1, "pass")
    proc.stdin.write(WRONG + "\n")
    proc.stdin.close()
    second, summary = map(json.loads, proc.stdout.read().splitlines())
    assert (second["line"], second["status"]) == (2, "fail")
    assert summary["summary"]["failed"] == 1
    assert (proc.wait(timeout=30), proc.stderr.read()) == (1, "<stdin>: 1 of 2 cases failed\n")


def test_check_json_flushes_each_case_before_the_next_is_read():
    """--json's one object arrives piece by piece: the first case's object is on the pipe
    while the command still waits for the second line of its input."""
    import select

    proc = subprocess.Popen([sys.executable, "-m", "backprop_cli", "check", "-", "--json",
                             "--jobs", "1"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    proc.stdin.write((LECTURE + "\n").encode())
    proc.stdin.flush()
    got = b""
    deadline = time.monotonic() + 300  # only a last guard against a hang
    while b'"status": "pass"' not in got and time.monotonic() < deadline:
        if select.select([proc.stdout], [], [], 1.0)[0]:
            got += os.read(proc.stdout.fileno(), 65536)
    assert b'"line": 1' in got and b'"status": "pass"' in got
    proc.stdin.write((WRONG + "\n").encode())
    proc.stdin.close()
    whole = json.loads(got + proc.stdout.read())
    assert [c["status"] for c in whole["cases"]] == ["pass", "fail"]
    assert proc.wait(timeout=30) == 1


def test_json_lines_output_is_one_object_per_case_then_the_summary(tmp_path):
    cases = tmp_path / "cases.txt"
    cases.write_text(f"{LECTURE}\n{WRONG}\n{UNCLOSED}\n")
    code, out, err = backprop("check", str(cases), "--jsonl")
    lines = [json.loads(line) for line in out.splitlines()]
    assert [c["status"] for c in lines[:3]] == ["pass", "fail", "error"]
    assert lines[3]["summary"]["total"] == 3
    assert (code, err) == (2, f"{cases}: 1 of 3 cases could not run, 1 failed\n")


# --- the case file's own folder and words -------------------------------------------------


def test_relative_files_are_read_from_the_case_files_folder(tmp_path):
    folder = tmp_path / "homework"
    folder.mkdir()
    (folder / "w.json").write_text("[1, 2, 3]")
    (folder / "cases.txt").write_text('"sum(w*w)" w=@w.json expect: value=14\n'
                                      '{"expr": "sum(w)", "at": {"w": [1, 2]}}\n')
    code, out, err = backprop("check", "homework/cases.txt", "--jsonl", cwd=tmp_path)
    first = json.loads(out.splitlines()[0])
    assert (code, first["status"], first["value"]) == (0, "pass", 14.0)
    assert err == ""


def test_a_bad_field_keeps_the_cases_own_id(tmp_path):
    cases = tmp_path / "cases.jsonl"
    cases.write_text('{"id": "q7", "expr": "x*y", "at": {"x": 1, "y": NaN}}\n'
                     '{"id": "q8", "expr": "x*y", "at": {"x": 1, "y": "2"}}\n'
                     '{"id": "q9", "expr": "x*y", "at": {"x": 1, "y": 1e999}}\n')
    code, out, _err = backprop("check", str(cases), "--jsonl")
    rows = [json.loads(line) for line in out.splitlines()[:3]]
    assert [(r["id"], r["error"]["message"].split(": ", 1)[1]) for r in rows] == [
        ("q7", "binding error: at.y must be a number or a list of numbers, not NaN"),
        ("q8", "binding error: at.y must be a number or a list of numbers, not a string"),
        ("q9", "binding error: at.y is not a finite number"),
    ]
    assert code == 2


# --- flat memory --------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("output, jobs", [(["--json"], "1"), (["--jsonl"], "0"),
                                          (["--junit", "{tmp}/j.xml"], "1"),
                                          (["--report", "{tmp}/r.jsonl"], "0")])
def test_memory_stays_flat_over_100000_cases(tmp_path, output, jobs):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from bench_batch import generate
    from proc_tree import peak_tree_rss

    path = tmp_path / "cases.txt"
    generate(str(path), 100_000)
    cmd = [sys.executable, "-m", "backprop_cli", "check", str(path), "--no-check", "--quiet",
           "--jobs", jobs, *(a.format(tmp=tmp_path) for a in output)]
    peak, _seconds, code, samples, err = peak_tree_rss(cmd, every=0.05)
    assert (code, err) == (0, "")
    quarter = len(samples) // 4
    early, late = max(samples[quarter:2 * quarter]), max(samples[3 * quarter:])
    assert late - early < 8 << 20, (early, late)  # a case kept per result would add ~300 MB
    assert peak < 200 << 20


# --- the front door: click's own output --------------------------------------------------


@pytest.mark.parametrize("args", [["--help"], ["--version"], ["eval", "--help"],
                                  ["check", "--help"]])
def test_help_and_version_into_a_full_disk_are_one_line_and_exit_2(args):
    with open("/dev/full", "w") as full:
        proc = subprocess.run([sys.executable, "-m", "backprop_cli", *args], stdout=full,
                              stderr=subprocess.PIPE, text=True, timeout=60)
    assert (proc.returncode, proc.stderr) == (
        2, "output error: cannot write standard output: No space left on device\n")


@pytest.mark.parametrize("args", [["eval"], [], ["--help"], ["eval", "x", "x=1"]])
def test_stdout_and_stderr_both_full_is_still_exit_2(args):
    # `backprop eval > /dev/full 2>&1`: nothing can be said, so the exit code says it (a
    # traceback, unseen, would have made it 1).
    with open("/dev/full", "w") as full:
        proc = subprocess.run([sys.executable, "-m", "backprop_cli", *args], stdout=full,
                              stderr=full, timeout=60)
    assert proc.returncode == 2


def test_backprop_alone_prints_the_help_as_help_does():
    code, out, err = backprop()
    assert (code, out) == (2, "")
    assert err == backprop("--help")[1]
    assert err.startswith("Usage: backprop [OPTIONS] COMMAND [ARGS]...\n\n")
    assert "\n  eval " in err and "U+000A" not in err


@pytest.mark.parametrize("args, stderr", [
    (["check"], "error: missing argument 'FILE' (usage: backprop check [OPTIONS] FILE; see "
                "backprop check --help)\n"),
    (["eval", "--precision", "0", "x", "x=1"],
     "error: invalid value for '--precision': 0 is not in the range 1<=x<=17 (usage: backprop "
     "eval [OPTIONS] PROGRAM [NAME=VALUE]...; see backprop eval --help)\n"),
    (["ev\u202eal"], "error: no such command 'ev\\u202eal'. Did you mean 'eval'? (usage: "
                     "backprop [OPTIONS] COMMAND [ARGS]...; see backprop --help)\n"),
])
def test_a_usage_error_is_one_line_in_the_project_style(args, stderr):
    code, out, err = backprop(*args)
    assert (code, out, err) == (2, "", stderr)
    clean(err)


def test_a_batch_error_says_error_once(tmp_path):
    path = tmp_path / "cases.txt"
    path.write_text(f'{LECTURE}\n"x" x=1 # {"padding " * 20}\n')
    code, out, err = backprop("check", str(path), "--max-line-bytes", "100", "--plain")
    assert code == 2
    assert (f"ERROR {path}:2: the line is 170 bytes, over the limit of 100 (--max-line-bytes "
            "raises it)") in out.splitlines()
