"""Arrays from files for `NAME=@path` bindings: .npy, .npz (a member), .json and .csv.

Every reader is a data parser (numpy's loaders with pickling off, `json`), never an evaluator.
The result goes through `bindings.to_array`, so a file and a typed list obey the same rules:
float64, a regular shape, at least one entry, every entry finite; a file of integers gives
int64 positions (see `index_array`).

  W=@weights.npy          the array in the file
  W=@net.npz              the member named W, or the only member
  W=@net.npz:W1           the member W1
  W=@w.json               a number or nested lists; an object picks the key W (or :key)
  X=@data.csv             comma-separated numbers, one row per line ('#' starts a comment);
                          one row or one column gives a vector, as numpy.loadtxt does
"""

from __future__ import annotations

import json
import os
from typing import Any

from ..errors import BindingError
from .reads import LIMIT_OPTION, ReadScope, read_bytes

FORMATS = (".npy", ".npz", ".json", ".csv")
MAX_DIMS = 32


def load_array(name: str, spec: str, folder: str | ReadScope = "") -> Any:
    """The array (or number) `@spec` names, as a float64 numpy array; BindingError otherwise.

    `folder` is a ReadScope (reads.py: where the path may lead, how many bytes may be read),
    or the folder a relative path is read from on the command line. A message names the file
    and the place of the problem in it (line and column, or entry), never the file's content.
    """
    path, member = _split(spec)
    where = f"{name}=@{spec}"
    if not path:
        raise BindingError(f"{where}: no file name after '@'", hint="e.g. W=@weights.npy")
    ext = os.path.splitext(path)[1].lower()
    if ext not in FORMATS:
        raise BindingError(f"{where}: unknown file type {ext or '(none)'!r}",
                           hint="arrays load from " + ", ".join(FORMATS))
    if member is not None and ext not in (".npz", ".json"):
        raise BindingError(f"{where}: only .npz and .json files have members to pick")
    scope = ReadScope.of(folder)
    raw = read_bytes(scope, where, path)
    data = _READERS[ext](where, raw, name, member, scope.limit)
    if getattr(data, "dtype", None) is not None and data.dtype.kind not in "biuf":
        raise BindingError(f"{where}: holds {data.dtype} values, not real numbers",
                           hint="save a float or integer array")
    try:
        if _integers(ext, path, data):
            return index_array(name, data, quote=False)
        return to_array(name, data, quote=False)
    except BindingError as err:
        what = err.message.removeprefix(name + " ").removeprefix("is ")
        raise BindingError(f"{where}: {what}",
                           hint=err.hint) from None


# --- integer arrays are positions ----------------------------------------------------------
#
# An array file of whole numbers written as integers (an integer .npy/.npz dtype, JSON
# integers, a CSV without a '.' or an exponent) holds positions or labels: C[Xb], y in
# x[arange(n), y]. It is kept as int64 and gets no gradient. A typed list (x=[1,2]) stays
# float: a value to differentiate.


def _integers(ext: str, path: str, data: Any) -> bool:
    import numpy as np

    if ext == ".csv":
        with open(path, encoding="utf-8", errors="replace") as fh:
            text = "".join(line.split("#", 1)[0] for line in fh)
        return not any(c in text for c in ".eEnNiI")
    if isinstance(data, list):
        try:
            return np.array(data).dtype.kind == "i"  # to_array reports what is wrong
        except (ValueError, TypeError, OverflowError):
            return False
    kind = getattr(getattr(data, "dtype", None), "kind", "f")
    return kind in "iu" and np.ndim(data) > 0


def index_array(name: str, data: Any, quote: bool = True):
    """Whole numbers from a file -> an int64 array of positions (regular, non-empty);
    `quote` as for to_array."""
    import numpy as np

    arr = to_array(name, data, quote)  # the same checks as any array: shape, size, finite
    if not np.ndim(arr):
        return arr
    return arr.astype(np.int64)


def _split(spec: str) -> tuple[str, str | None]:
    """'net.npz:W1' -> ('net.npz', 'W1'); a colon only counts right after a known extension."""
    for ext in FORMATS:
        k = spec.lower().rfind(ext + ":")
        if k >= 0:
            cut = k + len(ext)
            return spec[:cut], spec[cut + 1:]
    return spec, None


def file_paths(words) -> list[str]:
    """The files `NAME=@file` words name (the inputs a run reads besides its program)."""
    paths = []
    for word in words:
        _, eq, value = word.partition("=")
        if eq and value.strip().startswith("@"):
            path, _member = _split(value.strip()[1:])
            if path:
                paths.append(os.path.expanduser(path))
    return paths


def _npy(where: str, raw: bytes, name: str, member: str | None, limit: int):
    import io

    import numpy as np

    if raw[:6] != b"\x93NUMPY":
        raise BindingError(f"{where}: not a .npy file (it does not start with numpy's "
                           f"header)")
    try:
        return np.load(io.BytesIO(raw), allow_pickle=False)
    except ValueError as exc:
        if "pickle" in str(exc).lower():
            raise BindingError(f"{where}: holds Python objects, not numbers",
                               hint="save a float array; pickled objects are never loaded") \
                from None
        raise BindingError(f"{where}: not a valid .npy file (its header or size is wrong)") \
            from None
    except (EOFError, OSError):
        raise BindingError(f"{where}: the file is empty or cut short") from None


def _npz(where: str, raw: bytes, name: str, member: str | None, limit: int):
    import io
    import zipfile

    import numpy as np

    try:
        with np.load(io.BytesIO(raw), allow_pickle=False) as archive:
            if not hasattr(archive, "files"):
                raise BindingError(f"{where}: not an .npz archive (it holds one array)",
                                   hint="rename it to .npy")
            members = list(archive.files)
            key = _pick(where, name, member, members, listed=True)
            size = archive.zip.getinfo(key + ".npy").file_size
            if size > limit:  # a small archive may unpack to a huge array
                raise BindingError(f"{where}: member {key!r} unpacks to {size:,} bytes, over "
                                   f"the limit of {limit:,}", hint=f"{LIMIT_OPTION} raises it")
            return archive[key]
    except (zipfile.BadZipFile, EOFError, OSError, KeyError):
        raise BindingError(f"{where}: not a valid .npz archive") from None
    except ValueError as exc:
        if "pickle" in str(exc).lower():
            raise BindingError(f"{where}: holds Python objects, not numbers") from None
        raise BindingError(f"{where}: not a valid .npz archive (a member's header or size is "
                           "wrong)") from None


def _pick(where: str, name: str, member: str | None, members: list[str],
          listed: bool = False) -> str:
    """The member to load. Only an .npz archive's member names are listed in a hint: a .json
    file's keys are its content, and a message never shows a file's content."""
    from ..errors import shown

    names = "; members: " + (", ".join(shown(m, 40) for m in members[:20]) or "none") \
        if listed else ""
    if member is not None:
        if member not in members:
            raise BindingError(f"{where}: no member {member!r}",
                               hint=f"the file has {len(members)}{names}")
        return member
    if name in members:
        return name
    if len(members) == 1:
        return members[0]
    raise BindingError(f"{where}: the file has {len(members)} members and none is "
                       f"named {name}", hint="pick one with @file:member" + names)


def _json(where: str, raw: bytes, name: str, member: str | None, limit: int):
    try:
        data = json.loads(raw.decode("utf-8"))
    except json.JSONDecodeError as exc:
        raise BindingError(f"{where}: not valid JSON at line {exc.lineno}, column {exc.colno}",
                           hint=exc.msg.lower()) from None
    except UnicodeDecodeError as exc:
        line, col = _place(raw, exc.start)
        raise BindingError(f"{where}: not UTF-8 text at line {line}, column {col}") from None
    except RecursionError:
        raise BindingError(f"{where}: nested too deeply",
                           hint=f"numpy allows at most {MAX_DIMS} dimensions") from None
    if isinstance(data, dict):
        data = data[_pick(where, name, member, list(data))]
    elif member is not None:
        raise BindingError(f"{where}: the file holds a list, not an object with members")
    if isinstance(data, bool) or not isinstance(data, (int, float, list)):
        raise BindingError(f"{where}: holds {_json_kind(data)}, not numbers",
                           hint="a number or nested lists of numbers")
    return data


def _json_kind(data: Any) -> str:
    return {bool: "true or false", type(None): "null", str: "a string",
            dict: "an object"}.get(type(data), type(data).__name__ + " data")


def _csv(where: str, raw: bytes, name: str, member: str | None, limit: int):
    import io
    import warnings

    import numpy as np

    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line, col = _place(raw, exc.start)
        raise BindingError(f"{where}: not UTF-8 text at line {line}, column {col}") from None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # an empty file is reported below, not warned
            data = np.loadtxt(io.StringIO(text), delimiter=",", dtype=float, comments="#",
                              ndmin=1)
    except ValueError:
        # numpy's message quotes the cell it could not read: the place is found here instead.
        raise BindingError(f"{where}: not a table of numbers ({_csv_problem(text)})",
                           hint="comma-separated numbers, the same count on every line; "
                                "no header line") from None
    if data.size == 0:
        raise BindingError(f"{where}: the file has no numbers")
    return data


def _csv_problem(text: str) -> str:
    """Where a CSV table stops being numbers, by line and column (never the cell's text)."""
    width = None
    for lineno, line in enumerate(text.splitlines(), 1):
        body = line.split("#", 1)[0]
        if not body.strip():
            continue
        col = 1
        cells = body.split(",")
        for cell in cells:
            if not _is_float(cell):
                lead = len(cell) - len(cell.lstrip())
                what = "is empty" if not cell.strip() else "is not a number"
                return f"line {lineno}, column {col + lead} {what}"
            col += len(cell) + 1
        if width is None:
            width = len(cells)
        elif len(cells) != width:
            return (f"line {lineno} has {len(cells)} cell{'s' * (len(cells) != 1)}, the lines "
                    f"before it {width}")
    return "numpy could not read it"


def _is_float(cell: str) -> bool:
    cell = cell.strip()
    if not cell or "_" in cell:
        return False
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _place(raw: bytes, offset: int) -> tuple[int, int]:
    """1-based (line, column) of a byte offset, the column counted in bytes."""
    line_start = raw.rfind(b"\n", 0, offset) + 1
    return raw.count(b"\n", 0, offset) + 1, offset - line_start + 1


_READERS = {".npy": _npy, ".npz": _npz, ".json": _json, ".csv": _csv}


# --- nested lists and loaded data -> checked float arrays -----------------------------------


def to_array(name: str, data: Any, quote: bool = True):
    """A nested list (or array) -> a float64 numpy array with a regular shape, finite entries.

    `quote`: a bad entry is quoted (the user typed it); else, for data read from a file, only
    its place is named (`at [2][0]`)."""
    import numpy as np

    if isinstance(data, list):
        _only_numbers(name, data, quote)
    try:
        arr = np.array(data, dtype=float)
    except (ValueError, TypeError):
        raise BindingError(f"{name} is not a regular numeric array",
                           hint="every row needs the same length, and entries must be numbers") \
            from None
    except OverflowError:  # an integer past float's range, e.g. 10**400 written out
        raise BindingError(f"{name} has entries that are not finite numbers") from None
    if arr.ndim > MAX_DIMS:  # an array file can hold up to numpy's 64
        raise too_deep(name)
    if arr.ndim == 0:
        return float(arr)
    if arr.size == 0:
        raise BindingError(f"{name} is an empty array")
    if not np.all(np.isfinite(arr)):
        raise BindingError(f"{name} has entries that are not finite numbers")
    return arr


_NUMBER_TYPES = frozenset({int, float})
_JSON_WORDS = {bool: lambda v: "true" if v else "false", type(None): lambda v: "null"}


def _only_numbers(name: str, data: list, quote: bool = True) -> None:
    """Refuse what numpy would quietly turn into a number (true -> 1, "2" -> 2, null -> nan)
    and nesting deeper than MAX_DIMS; a loop over a stack, since the depth is the user's."""
    stack: list[tuple[list, tuple[int, ...]]] = [(data, ())]
    while stack:
        items, place = stack.pop()
        if len(place) >= MAX_DIMS:
            raise too_deep(name)
        kinds = set(map(type, items))  # one pass in C per list: cheap for a large array
        if kinds <= _NUMBER_TYPES:
            continue
        for k, item in enumerate(items):
            kind = type(item)
            if kind is list:
                stack.append((item, (*place, k)))
            elif kind not in _NUMBER_TYPES:
                if kind in _JSON_WORDS:
                    shown = _JSON_WORDS[kind](item)
                elif kind is str:
                    shown = json.dumps(item)[:40] if quote else "a string"
                else:
                    shown = "an object"
                at = "" if quote else " at " + "".join(f"[{i}]" for i in (*place, k))
                raise BindingError(f"{name} has an entry that is not a number{at}: {shown}",
                                   hint="entries must be numbers, e.g. [1, 2.5]")


def too_deep(name: str) -> BindingError:
    return BindingError(f"{name} is nested too deeply",
                        hint=f"numpy allows at most {MAX_DIMS} dimensions")
