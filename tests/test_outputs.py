"""Nothing lost, nothing leaked (issue 23): every output file is written one way (never onto an
input or another output, through a temporary file renamed into place), `@file` reads stay in
the case file's folder and are bounded, workers are bounded, and a quiz sheet is input."""

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import pytest

from backprop_cli.outputs import Named, OutputFile, SameFileError, refuse_clashes, write_file

ROOT = Path(__file__).resolve().parent.parent
LECTURE = '"(x+y)*z" x=-2 y=5 z=-4 expect: value=-12 x=-4 y=-4 z=3'
CASE = '"x*2" x=3\n'


def backprop(*args, cwd=None, stdin=None, stdout=None, limits=None, timeout=120):
    """The real command as a process: (exit code, stdout, stderr)."""
    def preexec():
        for what, value in (limits or {}).items():
            resource.setrlimit(what, (value, value))

    proc = subprocess.run([sys.executable, "-m", "backprop_cli", *map(str, args)], cwd=cwd,
                          input=stdin, stdout=stdout or subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, timeout=timeout, preexec_fn=preexec if limits else None)
    return proc.returncode, proc.stdout, proc.stderr


def no_temporary_files(folder: Path) -> bool:
    return list(folder.glob(".*.tmp")) == []


# --- the writer itself --------------------------------------------------------------------


def test_a_failed_write_leaves_the_old_file_whole(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old\n")
    with pytest.raises(RuntimeError), OutputFile(str(target)) as out:
        out.write("half of the new")
        raise RuntimeError("the run failed")
    assert target.read_text() == "old\n"
    assert no_temporary_files(tmp_path)


def test_a_completed_write_replaces_the_file_and_keeps_its_mode_and_links(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old\n")
    target.chmod(0o640)
    link = tmp_path / "link.txt"
    link.symlink_to("out.txt")
    write_file(str(link), "new\n")
    assert link.is_symlink() and target.read_text() == "new\n"
    assert (target.stat().st_mode & 0o777) == 0o640
    assert no_temporary_files(tmp_path)


def test_while_writing_the_target_is_untouched(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old\n")
    out = OutputFile(str(target))
    out.write("new\n")
    out.stream.flush()
    assert target.read_text() == "old\n"
    (tmp,) = tmp_path.glob(".out.txt.*.tmp")
    assert tmp.read_text() == "new\n"
    out.commit()
    assert target.read_text() == "new\n" and no_temporary_files(tmp_path)


@pytest.mark.parametrize("other", ["same", "./same", "link", "hard", "sub/../same"])
def test_an_output_is_compared_by_device_and_inode(tmp_path, other, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("same").write_text("x")
    Path("sub").mkdir()
    os.symlink("same", "link")
    os.link("same", "hard")
    with pytest.raises(SameFileError) as info:
        refuse_clashes([Named("the case file", "same")], [Named("--report", other)])
    assert info.value.message == (f"--report {other} is the case file same: an output never "
                                  "overwrites an input of the run")


def test_two_outputs_not_yet_written_are_compared_by_folder_and_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("sub").mkdir()
    with pytest.raises(SameFileError) as info:
        refuse_clashes([], [Named("--worksheet", "sub/s.md"), Named("--key", "./sub/../sub/s.md")])
    assert info.value.message == "--key ./sub/../sub/s.md is the same file as --worksheet sub/s.md"
    refuse_clashes([], [Named("--worksheet", "s.md"), Named("--key", "k.md")])  # no clash


# --- check --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["c.txt", "./c.txt", "link.txt", "hard.txt"])
@pytest.mark.parametrize("option", ["--report", "--junit"])
def test_check_never_writes_onto_its_case_file(tmp_path, name, option):
    cases = tmp_path / "c.txt"
    cases.write_text(CASE)
    (tmp_path / "link.txt").symlink_to("c.txt")
    os.link(cases, tmp_path / "hard.txt")
    code, out, err = backprop("check", "c.txt", option, name, cwd=tmp_path)
    assert (code, out) == (2, "")
    assert err == (f"error: {option} {name} is the case file c.txt: an output never overwrites "
                   "an input of the run (choose another file name)\n")
    assert cases.read_text() == CASE


def test_check_refuses_its_case_file_on_standard_input_and_output(tmp_path):
    cases = tmp_path / "c.txt"
    cases.write_text(CASE)
    code, _out, err = backprop("check", "-", "--report", "c.txt", cwd=tmp_path, stdin=CASE)
    assert code == 0  # standard input here is a pipe: the report is a new file
    with open(cases) as fh:
        proc = subprocess.run([sys.executable, "-m", "backprop_cli", "check", "-", "--report",
                               "c.txt"], stdin=fh, cwd=tmp_path, capture_output=True, text=True)
    assert (proc.returncode, proc.stderr) == (2, (
        "error: --report c.txt is the case file on standard input: an output never overwrites "
        "an input of the run (choose another file name)\n"))
    cases.write_text(CASE)
    with open(cases, "a") as fh:
        code, _out, err = backprop("check", "c.txt", "--jsonl", cwd=tmp_path, stdout=fh)
    assert (code, err) == (2, "error: standard output is the case file c.txt: an output never "
                              "overwrites an input of the run (redirect the output to another "
                              "file)\n")
    assert cases.read_text() == CASE


def test_check_refuses_two_outputs_in_one_file(tmp_path):
    (tmp_path / "c.txt").write_text(CASE)
    code, _out, err = backprop("check", "c.txt", "--report", "r.xml", "--junit", "./r.xml",
                               cwd=tmp_path)
    assert (code, err) == (2, "error: --junit ./r.xml is the same file as --report r.xml (give "
                              "each output a file of its own)\n")
    assert not (tmp_path / "r.xml").exists()


def test_a_run_that_fails_leaves_the_old_report_whole(tmp_path):
    (tmp_path / "c.txt").write_text((LECTURE + "\n") * 20)
    (tmp_path / "r.jsonl").write_text("the last run's report\n")
    (tmp_path / "j.xml").write_text("<last/>\n")
    with open("/dev/full", "w") as full:
        code, _out, err = backprop("check", "c.txt", "--report", "r.jsonl", "--junit", "j.xml",
                                   "--jobs", "1", "--jsonl", cwd=tmp_path, stdout=full)
    assert (code, err) == (2, "output error: cannot write standard output: No space left on "
                              "device\n")
    assert (tmp_path / "r.jsonl").read_text() == "the last run's report\n"
    assert (tmp_path / "j.xml").read_text() == "<last/>\n"
    assert no_temporary_files(tmp_path)


def test_two_runs_writing_one_report_never_interleave(tmp_path):
    """Each run writes its own temporary file and renames it into place: the report is one
    whole run, never a mix (before: a line cut in half, 36 of 40 results lost, both exit 0)."""
    programs = {"a": "x*{k}", "b": "x+{k}"}
    for name, program in programs.items():
        (tmp_path / f"{name}.txt").write_text(
            "".join(f'"{program.format(k=k)}" x=3\n' for k in range(40)))
    procs = [subprocess.Popen([sys.executable, "-m", "backprop_cli", "check", f"{name}.txt",
                               "--report", "r.jsonl", "--jobs", "1", "--no-check"],
                              cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
             for name in programs]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    lines = [json.loads(line) for line in (tmp_path / "r.jsonl").read_text().splitlines()]
    assert len(lines) == 41 and lines[-1]["summary"]["total"] == 40
    origin = lines[-1]["summary"]["file"]
    want = programs[origin[0]]
    assert [c["program"] for c in lines[:-1]] == [want.format(k=k) for k in range(40)]
    assert no_temporary_files(tmp_path)


def test_the_report_replaces_a_symbolic_links_target_and_keeps_the_link(tmp_path):
    (tmp_path / "c.txt").write_text(CASE)
    (tmp_path / "old.jsonl").write_text("old\n")
    (tmp_path / "r.jsonl").symlink_to("old.jsonl")
    code, _out, _err = backprop("check", "c.txt", "--report", "r.jsonl", cwd=tmp_path)
    assert code == 0 and (tmp_path / "r.jsonl").is_symlink()
    last = (tmp_path / "old.jsonl").read_text().splitlines()[-1]
    assert json.loads(last)["summary"]["total"] == 1


def test_a_case_cannot_read_this_runs_output(tmp_path):
    (tmp_path / "w.json").write_text("[1, 2]")
    (tmp_path / "c.txt").write_text('"sum(W)" W=@w.json\n')
    code, _out, err = backprop("check", "c.txt", "--report", "w.json", "--jsonl", cwd=tmp_path)
    assert code == 2
    first = json.loads((tmp_path / "w.json").read_text().splitlines()[0])
    assert first["error"]["message"] == ("c.txt:1: binding error: W=@w.json: is --report w.json, "
                                         "an output of this run (a run never reads what it "
                                         "writes)")


# --- graph -o, quiz --worksheet/--key -----------------------------------------------------


def test_graph_never_draws_over_its_program_or_array_file(tmp_path):
    (tmp_path / "p.txt").write_text("x*y\n")
    (tmp_path / "w.json").write_text("[1, 2]")
    code, _out, err = backprop("graph", "-f", "p.txt", "x=1", "y=2", "-o", "./p.txt", "--format",
                               "svg", cwd=tmp_path)
    assert (code, err) == (2, "error: -o ./p.txt is the program file p.txt: an output never "
                              "overwrites an input of the run (choose another file name)\n")
    code, _out, err = backprop("graph", "sum(W)", "W=@w.json", "-o", "w.json", "--format", "dot",
                               cwd=tmp_path)
    assert (code, err) == (2, "error: -o w.json is the array file w.json: an output never "
                              "overwrites an input of the run (choose another file name)\n")
    assert (tmp_path / "p.txt").read_text() == "x*y\n"
    assert (tmp_path / "w.json").read_text() == "[1, 2]"
    code, _out, err = backprop("graph", "-f", "p.txt", "x=1", "y=2", "-o", "g.dot", cwd=tmp_path)
    assert code == 0 and (tmp_path / "g.dot").read_text().startswith("digraph")
    assert no_temporary_files(tmp_path)


def test_eval_never_prints_onto_its_program_file(tmp_path):
    (tmp_path / "p.txt").write_text("x*y\n")
    with open(tmp_path / "p.txt", "a") as fh:
        code, _out, err = backprop("eval", "-f", "p.txt", "x=1", "y=2", cwd=tmp_path, stdout=fh)
    assert (code, err) == (2, "error: standard output is the program file p.txt: an output "
                              "never overwrites an input of the run (redirect the output to "
                              "another file)\n")
    assert (tmp_path / "p.txt").read_text() == "x*y\n"


def test_the_worksheet_never_becomes_the_answer_key(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "s.md").symlink_to("sub/k.md")
    for sheet, key in (("s.md", "s.md"), ("sub/k.md", "s.md"), ("sub/../x.md", "x.md")):
        code, _out, err = backprop("quiz", "--seed", "3", "--worksheet", sheet, "--key", key,
                                   cwd=tmp_path)
        assert (code, err) == (2, f"error: --key {key} is the same file as --worksheet {sheet} "
                                  "(give each output a file of its own)\n")
    assert sorted(os.listdir(tmp_path)) == ["s.md", "sub"]
    assert os.listdir(tmp_path / "sub") == []
    code, _out, err = backprop("quiz", "--seed", "3", "--worksheet", "w.md", "--key", "s.md",
                               cwd=tmp_path)
    assert code == 0 and "| ∂f/∂" in (tmp_path / "sub" / "k.md").read_text()
    assert no_temporary_files(tmp_path)


# --- quiz --grade: the sheet is input -----------------------------------------------------


@pytest.fixture
def sheet(tmp_path):
    backprop("quiz", "--seed", "3", "--worksheet", "s.md", cwd=tmp_path)
    return tmp_path / "s.md"


@pytest.mark.parametrize("old, new, message", [
    ("--seed 3", "--seed " + "9" * 5000,
     "s.md:1:27: error: the sheet's --seed is not a whole number of at most 18 digits (write a "
     "new sheet with backprop quiz --worksheet FILE)"),
    ("--ops add,mul,max", "--ops foo",
     "s.md:1:35: error: the sheet's --ops foo: not an op a circuit can use (choose from: "),
    ("--ops add,mul,max", "--ops __class__",
     "s.md:1:35: error: the sheet's --ops __class__: not an op a circuit can use"),
    ("--nodes 4", "--nodes " + "9" * 5000,
     "s.md:1:55: error: the sheet's --nodes is not a number from 1 to 12"),
    ("--nodes 4", "--nodes 0", "s.md:1:55: error: the sheet's --nodes is not a number from 1"),
    ("--nodes 4 -->", "--nodes 4 --ops mul -->",
     "s.md:1:1: error: the exercise line is not '<!-- backprop quiz --seed N --ops LIST "
     "--nodes N -->'"),
])
def test_a_sheets_exercise_line_is_checked_as_input(sheet, old, new, message):
    sheet.write_text(sheet.read_text().replace(old, new, 1))
    code, out, err = backprop("quiz", "--grade", "s.md", cwd=sheet.parent)
    assert (code, out) == (2, "")
    assert err.startswith(message) and "internal error" not in err
    assert len(err.splitlines()[0]) < 300


def test_a_sheet_is_read_bounded(tmp_path):
    (tmp_path / "z.md").symlink_to("/dev/zero")
    code, _out, err = backprop("quiz", "--grade", "z.md", cwd=tmp_path, timeout=20)
    assert (code, err) == (2, "error: z.md is not a regular file, a pipe or a terminal (a "
                              "character device): it cannot be read as a worksheet\n")
    (tmp_path / "big.md").write_text("x" * (2 << 20))
    code, _out, err = backprop("quiz", "--grade", "big.md", cwd=tmp_path)
    assert (code, err) == (2, "limit exceeded: big.md holds more than 1,048,576 bytes: not a "
                              "worksheet\n")


# --- @file: where it reads, how much, and what it says ------------------------------------


@pytest.fixture
def homework(tmp_path):
    sub = tmp_path / "sub"
    sub.mkdir()
    (tmp_path / "w.json").write_text("[1, 2]")
    (sub / "in.json").write_text("[1, 2]")
    return sub


@pytest.mark.parametrize("spec, problem", [
    ("../w.json", "outside the case file's folder"),
    ("{top}/w.json", "an absolute path in a case file"),
    ("~/w.json", "'~' is not expanded in a case file"),
    ("out.json", "a symbolic link leading outside the case file's folder"),
    ("sub2/../../w.json", "outside the case file's folder"),
])
def test_a_case_files_reads_stay_in_its_folder(homework, spec, problem):
    top = homework.parent
    (homework / "out.json").symlink_to(top / "w.json")
    (homework / "c.txt").write_text(f'"sum(W)" W=@{spec.format(top=top)}\n'
                                    '"sum(W)" W=@in.json\n"sum(W)" W=@./x/../in.json\n')
    code, out, _err = backprop("check", "sub/c.txt", "--jsonl", "--no-check", cwd=top)
    first, second, third, _ = map(json.loads, out.splitlines())
    assert first["error"]["message"] == (
        f"sub/c.txt:1: binding error: W=@{spec.format(top=top)}: {problem} (a case file reads "
        "files in its own folder; --allow-read DIR widens that)")
    # --no-check: the cases that ran are "unchecked", as eval says of the same program
    assert (second["status"], third["status"], code) == ("unchecked", "unchecked", 2)
    code, out, _err = backprop("check", "sub/c.txt", "--jsonl", "--no-check", "--allow-read",
                               str(top), cwd=top)
    first = json.loads(out.splitlines()[0])
    assert first["status"] == ("error" if spec.startswith("~") else "unchecked"), first


def test_a_file_linked_to_etc_passwd_is_never_echoed(tmp_path):
    """Before: `could not convert string 'root:x:0:0:...'` on stdout, in --report and --junit."""
    sub = tmp_path / "sub"
    sub.mkdir()
    (tmp_path / "passwd.csv").write_text("root:x:0:0:root:/root:/bin/bash\n")
    (sub / "s.csv").symlink_to(tmp_path / "passwd.csv")
    (sub / "c.txt").write_text('"sum(W)" W=@s.csv\n')
    for extra in ([], ["--allow-read", str(tmp_path)]):
        code, out, err = backprop("check", "sub/c.txt", "--report", "r.jsonl", "--junit",
                                  "j.xml", *extra, cwd=tmp_path)
        assert code == 2
        for text in (out, err, (tmp_path / "r.jsonl").read_text(),
                     (tmp_path / "j.xml").read_text()):
            assert "root" not in text and "bash" not in text
    assert "W=@s.csv: not a table of numbers (line 1, column 1 is not a number)" in out


def test_a_json_files_keys_are_not_listed(tmp_path):
    (tmp_path / "k.json").write_text('{"secret_one": [1], "secret_two": [2]}')
    (tmp_path / "c.txt").write_text('"sum(W)" W=@k.json\n"sum(W)" W=@k.json:nope\n')
    code, out, _err = backprop("check", "c.txt", "--plain", cwd=tmp_path)
    assert code == 2 and "secret" not in out
    assert "W=@k.json: the file has 2 members and none is named W (pick one with @file:member)" \
        in out
    assert "W=@k.json:nope: no member 'nope' (the file has 2)" in out


@pytest.mark.parametrize("name", ["z.json", "z.csv", "z.npy"])
def test_a_file_linked_to_dev_zero_ends_at_once(tmp_path, name):
    (tmp_path / name).symlink_to("/dev/zero")
    (tmp_path / "c.txt").write_text(f'"sum(W)" W=@{name}\n')
    t0 = time.process_time()
    code, out, _err = backprop("check", "c.txt", "--jsonl", "--allow-read", "/dev",
                               cwd=tmp_path, timeout=30)
    first = json.loads(out.splitlines()[0])
    assert first["error"]["message"] == (f"c.txt:1: binding error: W=@{name}: is a character "
                                         "device, not a regular file (array files are read "
                                         "from regular files only)")
    code, _out, err = backprop("eval", "sum(W)", f"W=@{name}", cwd=tmp_path, timeout=30)
    assert (code, err.count("\n")) == (2, 1)
    assert time.process_time() - t0 < 5


def test_a_fifo_is_refused_without_waiting(tmp_path):
    os.mkfifo(tmp_path / "f.csv")
    code, _out, err = backprop("eval", "sum(W)", "W=@f.csv", cwd=tmp_path, timeout=30)
    assert (code, err) == (2, "binding error: W=@f.csv: is a FIFO, not a regular file (array "
                              "files are read from regular files only)\n")


def test_every_file_read_is_bounded_and_the_bound_is_an_option(tmp_path):
    (tmp_path / "w.csv").write_text("1,2,3\n" * 10)
    (tmp_path / "c.txt").write_text('"sum(W)" W=@w.csv\n')
    code, out, _err = backprop("check", "c.txt", "--jsonl", "--max-file-bytes", "50",
                               cwd=tmp_path)
    assert json.loads(out.splitlines()[0])["error"]["message"] == (
        "c.txt:1: binding error: W=@w.csv: the file is 60 bytes, over the limit of 50 "
        "(--max-file-bytes raises it)")
    code, _out, err = backprop("eval", "sum(W)", "W=@w.csv", "--max-file-bytes", "50",
                               cwd=tmp_path)
    assert (code, err) == (2, "binding error: W=@w.csv: the file is 60 bytes, over the limit "
                              "of 50 (--max-file-bytes raises it)\n")
    code, out, _err = backprop("eval", "sum(W)", "W=@w.csv", "--max-file-bytes", "60",
                               "--plain", cwd=tmp_path)
    assert code == 0 and out.startswith("value  60")


def test_a_small_archive_that_unpacks_to_a_huge_array_is_refused(tmp_path):
    np = pytest.importorskip("numpy")
    np.savez_compressed(tmp_path / "z.npz", W=np.zeros(1 << 20))
    code, _out, err = backprop("eval", "sum(W)", "W=@z.npz", "--max-file-bytes", "100000",
                               cwd=tmp_path)
    assert (code, err) == (2, "binding error: W=@z.npz: member 'W' unpacks to 8,388,736 bytes, "
                              "over the limit of 100,000 (--max-file-bytes raises it)\n")


# --- bounded workers ----------------------------------------------------------------------


def test_jobs_are_capped_and_the_cap_is_said(tmp_path):
    (tmp_path / "e.txt").write_text("".join(f'"x*{k}" x=3\n' for k in range(8)))
    cores = len(os.sched_getaffinity(0))
    code, _out, err = backprop("check", "e.txt", "--jobs", "100", "--no-check", cwd=tmp_path)
    if 4 * cores <= 8:
        note = f"capped at {4 * cores} (4 per core, {cores} core{'s' * (cores != 1)})"
    else:
        note = "capped at 8: the file has 8 lines"
    assert (code, err) == (0, f"note: --jobs 100 {note}\n")


def test_running_out_of_descriptors_is_one_line_and_keeps_the_results(tmp_path):
    (tmp_path / "e.txt").write_text("".join(f'"x*{k}" x=3\n' for k in range(300)))
    code, _out, err = backprop("check", "e.txt", "--jobs", "8", "--no-check", "--report",
                               "r.jsonl", cwd=tmp_path, limits={resource.RLIMIT_NOFILE: 14})
    assert code == 2
    assert err.startswith("error: cannot start worker process ")
    assert err.endswith(": Too many open files (lower --jobs, or raise the limits: ulimit -n, "
                        "ulimit -u); the summary counts the cases that finished\n")
    assert err.count("\n") == 1
    summary = json.loads((tmp_path / "r.jsonl").read_text().splitlines()[-1])["summary"]
    assert (summary["interrupted"], summary["exit_code"]) == (True, 2)
