"""Output files, written one way: never onto an input or another output of the same run, and
always into a temporary file beside the target that is renamed into place once complete.

Every command that writes a file (`check --report/--junit`, `graph -o`, `quiz --worksheet/--key`)
goes through here:

  1. `refuse_clashes(inputs, outputs)` before anything is opened for writing: an output that is
     the same file as an input of the run, or as another output, is refused with one line naming
     both. Files are compared by device and inode (so `./c.txt`, a symbolic link and a hard link
     are all the same file as `c.txt`); an output that does not exist yet is compared by its
     resolved folder and name. Standard output counts as an output when it is a regular file
     (`> c.txt`).
  2. `OutputFile(path, what)`: the content goes to a temporary file in the target's folder
     (`.NAME.XXXXXXXX.tmp`); `commit()` renames it over the target, `discard()` removes it. So a
     run that fails leaves the old file whole, and two runs writing one file never interleave: the
     file is always one run's whole output (the last to finish). A target that is not a regular
     file (`/dev/stdout`, `/dev/null`, a pipe) is written in place, since it cannot be replaced.

A symbolic link is followed: the file it points at is replaced and the link is kept. A file with
other hard links is replaced by a new file under this name (the other names keep the old text).
"""

from __future__ import annotations

import os
import stat
import sys
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from typing import IO

from .errors import PATH_SHOWN, BackpropError, output_error, shown

STDOUT = "standard output"


class SameFileError(BackpropError):
    """An output that would overwrite an input of the run, or another output of it."""


@dataclass(frozen=True)
class Named:
    """A file a run reads or writes: `label` says which ("the case file", "--report")."""

    label: str
    path: str

    def __str__(self) -> str:
        if self.path == "-" or self.label == STDOUT:
            return self.label
        return f"{self.label} {shown(self.path, PATH_SHOWN)}"


def identity(path: str) -> tuple | None:
    """What makes two names one file: (device, inode) of a regular file that exists, the
    resolved path of one that does not yet, None for what is not a file to compare (a device,
    a pipe: writing to /dev/null destroys nothing)."""
    if path == "-":
        return _fd_identity(0)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return ("name", os.path.realpath(path))
    except OSError:  # a name that cannot be looked at is reported when it is opened
        return None
    return (st.st_dev, st.st_ino) if stat.S_ISREG(st.st_mode) else None


def stdout_identity() -> tuple | None:
    """Standard output's (device, inode) when it is a regular file (`> out.txt`), else None."""
    try:
        return _fd_identity(sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # a test runner's buffer has no descriptor
        return None


def _fd_identity(fd: int) -> tuple | None:
    try:
        st = os.fstat(fd)
    except OSError:
        return None
    return (st.st_dev, st.st_ino) if stat.S_ISREG(st.st_mode) else None


def refuse_clashes(inputs: Iterable[Named], outputs: Iterable[Named],
                   stdout: bool = False) -> dict[tuple, Named]:
    """Raise SameFileError when an output is the same file as an input or as an earlier output
    (`stdout`: standard output is one of the run's outputs). Returns the outputs by identity,
    so that files met later in the run (a case file's `@file`) can be held to the same rule."""
    seen_inputs = {}
    for item in inputs:
        key = identity(item.path)
        if key is not None and key[0] != "name":
            seen_inputs.setdefault(key, item)
    written: dict[tuple, Named] = {}
    candidates = list(outputs)
    if stdout:
        key = stdout_identity()
        if key is not None:
            written[key] = Named(STDOUT, "-")
            if key in seen_inputs:
                raise SameFileError(f"{STDOUT} is {seen_inputs[key]}: an output never "
                                    "overwrites an input of the run",
                                    hint="redirect the output to another file")
    for item in candidates:
        key = identity(item.path)
        if key is None:
            continue
        if key in seen_inputs:
            raise SameFileError(f"{item} is {seen_inputs[key]}: an output never overwrites an "
                                "input of the run", hint="choose another file name")
        if key in written:
            raise SameFileError(f"{item} is the same file as {written[key]}",
                                hint="give each output a file of its own")
        written[key] = item
    return written


class OutputFile:
    """One output file: written to a temporary file beside the target, renamed into place by
    `commit()`; `discard()` (or leaving a `with` block by an exception) leaves the target as
    it was. `what` names the file in the one-line message when a write fails."""

    def __init__(self, path: str, what: str | None = None, binary: bool = False):
        self.path = path
        self.what = what or shown(path, PATH_SHOWN)
        self.tmp: str | None = None
        self.folder: str | None = None  # where the temporary file is; None: written in place
        try:
            self.stream = self._open(binary)
        except OSError as exc:
            raise output_error(shown(path, PATH_SHOWN), exc) from None

    def _open(self, binary: bool) -> IO:
        mode, enc = ("wb", None) if binary else ("w", "utf-8")
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            st = None
        if st is not None and stat.S_ISDIR(st.st_mode):
            raise IsADirectoryError(21, "Is a directory")
        if st is not None and not stat.S_ISREG(st.st_mode):
            # A device or a pipe (/dev/full, /dev/stdout) cannot be replaced: written in place.
            return open(self.path, mode, encoding=enc)  # noqa: SIM115 - closed by commit
        target = os.path.realpath(self.path)  # through a symbolic link: the link stays
        folder, name = os.path.split(target)
        fd, self.tmp = tempfile.mkstemp(prefix=f".{name[:100]}.", suffix=".tmp", dir=folder)
        self.target = target
        self.folder = folder
        # mkstemp makes the file private: give it the old file's mode, else a new file's.
        mode_bits = stat.S_IMODE(st.st_mode) if st is not None else 0o666 & ~_umask()
        try:
            os.fchmod(fd, mode_bits)
        except OSError:  # pragma: no cover - a file system without modes
            pass
        return os.fdopen(fd, mode, encoding=enc)

    def write(self, data) -> None:
        try:
            self.stream.write(data)
        except OSError as exc:
            raise output_error(self.what, exc) from None

    def commit(self) -> None:
        """Close the temporary file and rename it over the target (a failure discards it)."""
        try:
            self.stream.close()
            if self.tmp is not None:
                os.replace(self.tmp, self.target)
                self.tmp = None
        except OSError as exc:
            self.discard()
            raise output_error(self.what, exc) from None

    def discard(self) -> None:
        """Drop what was written; the target keeps its old content (or stays absent)."""
        try:
            self.stream.close()
        except OSError:  # the failed write was reported; closing cannot flush it either
            pass
        if self.tmp is not None:
            try:
                os.unlink(self.tmp)
            except OSError:
                pass
            self.tmp = None

    def __enter__(self) -> OutputFile:
        return self

    def __exit__(self, kind, exc, tb) -> None:
        if kind is None:
            self.commit()
        else:
            self.discard()


def write_file(path: str, data: bytes | str, what: str | None = None) -> None:
    """Write a whole output file at once, the one way (after `refuse_clashes`)."""
    with OutputFile(path, what, binary=isinstance(data, bytes)) as out:
        out.write(data)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
