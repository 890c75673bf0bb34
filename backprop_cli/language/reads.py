"""Where a `NAME=@file` binding may read, and how much: the one gate every `@file` read passes.

On the command line, `@file` reads the file the user names (`~` expanded, relative to the
current folder). In a case file it reads only inside the case file's own folder: no absolute
path, no `~`, no `..` leading out and no symbolic link leading out, unless the command line
widened the scope (`check --allow-read DIR`). Everywhere, only a regular file is read (a device
or a FIFO is refused before reading), at most `limit` bytes (`--max-file-bytes`), and never a
file the same run writes.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field

from ..errors import BindingError

MAX_FILE_BYTES = 64 << 20  # 64 MiB: the largest @file read unless an option raises it
LIMIT_OPTION = "--max-file-bytes"
WIDEN_OPTION = "--allow-read"


@dataclass(frozen=True)
class ReadScope:
    """How `@file` paths of one source are read. `folder` is where a relative path starts;
    `confined` keeps reads inside `folder` and `allowed` (resolved folders); `outputs` maps the
    (device, inode) of the run's outputs to their names, which are never read."""

    folder: str = ""
    confined: bool = False
    allowed: tuple[str, ...] = ()
    limit: int = MAX_FILE_BYTES
    outputs: dict = field(default_factory=dict, compare=False, hash=False)

    @classmethod
    def of(cls, folder: str | ReadScope) -> ReadScope:
        """A scope as given, or the command line's from a plain folder name."""
        return folder if isinstance(folder, ReadScope) else cls(folder)


def case_file_scope(case_file: str, allowed: tuple[str, ...] = (), limit: int = MAX_FILE_BYTES,
                    outputs: dict | None = None) -> ReadScope:
    """The scope of a case file's `@file` paths: its own folder ('-': the current folder)."""
    folder = "" if case_file == "-" else os.path.dirname(case_file)
    return ReadScope(folder, True, tuple(os.path.realpath(d) for d in allowed), limit,
                     outputs or {})


def read_bytes(scope: ReadScope, where: str, written: str) -> bytes:
    """The bytes of the file `written` names (as `where`, `W=@w.csv`, says it), within the
    scope; BindingError naming `where`, never the file's content, otherwise."""
    path = _resolve(scope, where, written)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    if scope.confined:  # the path was resolved and checked: a link put there since is refused
        flags |= getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags)  # non-blocking: a FIFO with no writer must not hang here
    except FileNotFoundError:
        raise BindingError(f"{where}: no such file") from None
    except OSError as exc:
        raise BindingError(f"{where}: cannot read the file ({exc.strerror or exc})") from None
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise BindingError(f"{where}: is a directory")
        if not stat.S_ISREG(st.st_mode):
            raise BindingError(f"{where}: is {file_kind(st.st_mode)}, not a regular file",
                               hint="array files are read from regular files only")
        label = scope.outputs.get((st.st_dev, st.st_ino))
        if label is not None:
            raise BindingError(f"{where}: is {label}, an output of this run",
                               hint="a run never reads what it writes")
        if st.st_size > scope.limit:
            raise _too_big(where, st.st_size, scope.limit)
        os.set_blocking(fd, True)
        chunks, size = [], 0
        while size <= scope.limit:
            chunk = os.read(fd, min(1 << 20, scope.limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > scope.limit:  # it grew while it was read
            raise _too_big(where, size, scope.limit, more=True)
        return b"".join(chunks)
    except OSError as exc:
        raise BindingError(f"{where}: cannot read the file ({exc.strerror or exc})") from None
    finally:
        os.close(fd)


def _resolve(scope: ReadScope, where: str, written: str) -> str:
    if not scope.confined:
        return os.path.join(scope.folder, os.path.expanduser(written))
    hint = f"a case file reads files in its own folder; {WIDEN_OPTION} DIR widens that"
    if written.startswith("~"):
        raise BindingError(f"{where}: '~' is not expanded in a case file", hint=hint)
    base = os.path.realpath(scope.folder or os.curdir)
    roots = (base, *scope.allowed)
    if os.path.isabs(written):
        if not any(_inside(os.path.realpath(written), r) for r in scope.allowed):
            raise BindingError(f"{where}: an absolute path in a case file", hint=hint)
        return os.path.realpath(written)
    lexical = os.path.normpath(os.path.join(base, written))
    real = os.path.realpath(lexical)
    if not any(_inside(real, r) for r in roots):
        if any(_inside(lexical, r) for r in roots):
            raise BindingError(f"{where}: a symbolic link leading outside the case file's "
                               "folder", hint=hint)
        raise BindingError(f"{where}: outside the case file's folder", hint=hint)
    return real


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def _too_big(where: str, size: int, limit: int, more: bool = False) -> BindingError:
    said = f"more than {limit:,}" if more else f"{size:,}"
    return BindingError(f"{where}: the file is {said} bytes, over the limit of {limit:,}",
                        hint=f"{LIMIT_OPTION} raises it")


_KINDS = ((stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
          (stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"))


def file_kind(mode: int, other: str = "not a regular file") -> str:
    """What a file is, in words, for a message refusing it (`other` when none of these)."""
    for test, words in _KINDS:
        if test(mode):
            return words
    return other
