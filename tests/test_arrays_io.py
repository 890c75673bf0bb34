"""Arrays from files: each format loads the lecture's W, and each bad input is one clear line."""

import json

import numpy as np
import pytest
from click.testing import CliRunner

from backprop_cli.cli import cli
from backprop_cli.errors import BindingError
from backprop_cli.language.arrays_io import load_array

W = np.array([[0.1, 0.5], [-0.3, 0.8]])


@pytest.fixture
def files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    np.save("w.npy", W)
    np.save("ints.npy", np.array([[1, 2], [3, 4]]))
    np.savez("net.npz", W=W, x=np.array([0.2, 0.4]))
    np.savez("one.npz", weights=W)
    (tmp_path / "w.json").write_text(json.dumps(W.tolist()))
    (tmp_path / "net.json").write_text(json.dumps({"W": W.tolist(), "x": [0.2, 0.4]}))
    (tmp_path / "w.csv").write_text("0.1,0.5\n-0.3,0.8\n")
    (tmp_path / "x.csv").write_text("# the lecture's x\n0.2,0.4\n")
    np.save("strings.npy", np.array(["a", "b"]))
    np.save("objects.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    np.save("vector.npy", np.array([1.0, 2.0, 3.0]))
    (tmp_path / "garbage.npy").write_text("not numpy")
    (tmp_path / "header.csv").write_text("a,b\n1,2\n")
    (tmp_path / "ragged.csv").write_text("1,2\n3\n")
    (tmp_path / "nan.csv").write_text("1,nan\n2,3\n")
    (tmp_path / "empty.csv").write_text("")
    (tmp_path / "ragged.json").write_text("[[1, 2], [3]]")
    (tmp_path / "broken.json").write_text("[1, 2")
    (tmp_path / "words.json").write_text('["a", "b"]')
    (tmp_path / "text.json").write_text('"hello"')
    (tmp_path / "w.txt").write_text("1 2")
    return tmp_path


LOADS = [
    ("w.npy", "W", W),
    ("net.npz", "W", W),  # the member named like the binding
    ("net.npz:x", "W", [0.2, 0.4]),
    ("one.npz", "W", W),  # the only member
    ("w.json", "W", W),
    ("net.json", "x", [0.2, 0.4]),
    ("net.json:W", "A", W),
    ("w.csv", "W", W),
    ("x.csv", "x", [0.2, 0.4]),  # one row is a vector; '#' lines are comments
]


def test_integer_files_are_positions(files, tmp_path):
    # Whole numbers written as integers are positions (C[Xb]): int64, never differentiated.
    (tmp_path / "y.json").write_text("[0, 2, 1]")
    (tmp_path / "y.csv").write_text("0,2\n1,1\n")
    for spec, want in (("ints.npy", [[1, 2], [3, 4]]), ("y.json", [0, 2, 1]),
                       ("y.csv", [[0, 2], [1, 1]])):
        got = load_array("Y", spec)
        assert got.dtype == np.int64, spec
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("spec, name, want", LOADS)
def test_each_format_loads(files, spec, name, want):
    got = load_array(name, spec)
    assert got.dtype == np.float64
    np.testing.assert_array_equal(got, want)


BAD = [
    ("missing.npy", "W=@missing.npy: no such file"),
    (".", "W=@.: unknown file type '(none)'"),
    ("w.txt", "W=@w.txt: unknown file type '.txt'"),
    ("", "W=@: no file name after '@'"),
    ("garbage.npy", "W=@garbage.npy: not a .npy file"),
    ("strings.npy", "W=@strings.npy: holds <U1 values, not real numbers"),
    ("objects.npy", "W=@objects.npy: holds Python objects, not numbers"),
    ("net.npz:b", "W=@net.npz:b: no member 'b'"),
    ("w.csv:W", "W=@w.csv:W: only .npz and .json files have members to pick"),
    ("header.csv", "W=@header.csv: not a table of numbers (line 1, column 1 is not a number)"),
    ("ragged.csv", "W=@ragged.csv: not a table of numbers (line 2 has 1 cell, the lines before "
                   "it 2)"),
    ("nan.csv", "W=@nan.csv: has entries that are not finite numbers"),
    ("empty.csv", "W=@empty.csv: the file has no numbers"),
    ("ragged.json", "W=@ragged.json: not a regular numeric array"),
    ("broken.json", "W=@broken.json: not valid JSON"),
    ("words.json", "W=@words.json: has an entry that is not a number at [0]: a string"),
    ("text.json", "W=@text.json: holds a string, not numbers"),
]


@pytest.mark.parametrize("spec, message", BAD)
def test_bad_files_are_binding_errors(files, spec, message):
    with pytest.raises(BindingError) as info:
        load_array("W", spec)
    assert info.value.message.startswith(message)


def test_an_ambiguous_archive_lists_its_members(files):
    with pytest.raises(BindingError) as info:
        load_array("A", "net.npz")
    assert "2 members and none is named A" in info.value.message
    assert "members: W, x" in info.value.hint


def run(*args):
    return CliRunner().invoke(cli, list(args))


def test_the_lecture_from_files_on_the_command_line(files):
    result = run("eval", "sum((W @ x)**2)", "W=@w.npy", "x=@net.npz", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    np.testing.assert_allclose(data["gradients"]["W"], [[0.088, 0.176], [0.104, 0.208]])
    np.testing.assert_allclose(data["gradients"]["x"], [-0.112, 0.636])
    assert data["shapes"] == {"W": [2, 2], "x": [2]}


def test_a_file_of_the_wrong_shape_is_a_shape_error(files):
    result = run("eval", "sum((W @ x)**2)", "W=@vector.npy", "x=@net.npz")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "shape error" in result.stderr
    assert "cannot multiply shapes (3,) and (2,)" in result.stderr


@pytest.mark.parametrize("word, message", [
    ("W=@missing.npy", "binding error: W=@missing.npy: no such file\n"),
    ("W=@header.csv", "binding error: W=@header.csv: not a table of numbers"),
])
def test_bad_files_exit_2_with_one_line(files, word, message):
    result = run("eval", "sum(W)", word)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith(message)
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr
