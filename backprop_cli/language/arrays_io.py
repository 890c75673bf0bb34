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

FORMATS = (".npy", ".npz", ".json", ".csv")
MAX_DIMS = 32


def load_array(name: str, spec: str, folder: str = "") -> Any:
    """The array (or number) `@spec` names, as a float64 numpy array; BindingError otherwise.

    A relative path is read from `folder` (a case file's own folder), else from here."""
    path, member = _split(spec)
    where = f"{name}=@{spec}"
    if not path:
        raise BindingError(f"{where}: no file name after '@'", hint="e.g. W=@weights.npy")
    path = os.path.join(folder, os.path.expanduser(path))
    ext = os.path.splitext(path)[1].lower()
    if ext not in FORMATS:
        raise BindingError(f"{where}: unknown file type {ext or '(none)'!r}",
                           hint="arrays load from " + ", ".join(FORMATS))
    if member is not None and ext not in (".npz", ".json"):
        raise BindingError(f"{where}: only .npz and .json files have members to pick")
    if not os.path.exists(path):
        raise BindingError(f"{where}: no such file")
    if os.path.isdir(path):
        raise BindingError(f"{where}: is a directory")
    try:
        data = _READERS[ext](where, path, name, member)
    except OSError as exc:
        raise BindingError(f"{where}: cannot read the file ({exc.strerror or exc})") from None
    if getattr(data, "dtype", None) is not None and data.dtype.kind not in "biuf":
        raise BindingError(f"{where}: holds {data.dtype} values, not real numbers",
                           hint="save a float or integer array")
    try:
        return index_array(name, data) if _integers(ext, path, data) else to_array(name, data)
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


def index_array(name: str, data: Any):
    """Whole numbers from a file -> an int64 array of positions (regular, non-empty)."""
    import numpy as np

    arr = to_array(name, data)  # the same checks as any array: shape, size, finite
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


def _npy(where: str, path: str, name: str, member: str | None):
    import numpy as np

    with open(path, "rb") as fh:
        if fh.read(6) != b"\x93NUMPY":
            raise BindingError(f"{where}: not a .npy file (it does not start with numpy's "
                               f"header)")
    try:
        return np.load(path, allow_pickle=False)
    except ValueError as exc:
        text = str(exc)
        if "pickle" in text.lower():
            raise BindingError(f"{where}: holds Python objects, not numbers",
                               hint="save a float array; pickled objects are never loaded") \
                from None
        raise BindingError(f"{where}: not a valid .npy file ({text})") from None
    except EOFError:
        raise BindingError(f"{where}: the file is empty or cut short") from None


def _npz(where: str, path: str, name: str, member: str | None):
    import zipfile

    import numpy as np

    try:
        with np.load(path, allow_pickle=False) as archive:
            if not hasattr(archive, "files"):
                raise BindingError(f"{where}: not an .npz archive (it holds one array)",
                                   hint="rename it to .npy")
            members = list(archive.files)
            key = _pick(where, name, member, members)
            return archive[key]
    except (zipfile.BadZipFile, EOFError):
        raise BindingError(f"{where}: not a valid .npz archive") from None
    except ValueError as exc:
        if "pickle" in str(exc).lower():
            raise BindingError(f"{where}: holds Python objects, not numbers") from None
        raise BindingError(f"{where}: not a valid .npz archive ({exc})") from None


def _pick(where: str, name: str, member: str | None, members: list[str]) -> str:
    if member is not None:
        if member not in members:
            raise BindingError(f"{where}: no member {member!r}",
                               hint="members: " + (", ".join(members) or "none"))
        return member
    if name in members:
        return name
    if len(members) == 1:
        return members[0]
    raise BindingError(f"{where}: the archive has {len(members)} members and none is "
                       f"named {name}", hint="pick one with @file:member; members: "
                       + (", ".join(members) or "none"))


def _json(where: str, path: str, name: str, member: str | None):
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except json.JSONDecodeError as exc:
        raise BindingError(f"{where}: not valid JSON",
                           hint=f"{exc.msg} at line {exc.lineno}, column {exc.colno}") from None
    except UnicodeDecodeError:
        raise BindingError(f"{where}: not UTF-8 text") from None
    if isinstance(data, dict):
        data = data[_pick(where, name, member, list(data))]
    elif member is not None:
        raise BindingError(f"{where}: the file holds a list, not an object with members")
    if isinstance(data, bool) or not isinstance(data, (int, float, list)):
        raise BindingError(f"{where}: holds {type(data).__name__} data, not numbers",
                           hint="a number or nested lists of numbers")
    return data


def _csv(where: str, path: str, name: str, member: str | None):
    import warnings

    import numpy as np

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # an empty file is reported below, not warned
            data = np.loadtxt(path, delimiter=",", dtype=float, comments="#", ndmin=1)
    except ValueError as exc:
        text = (str(exc).splitlines() or ["not numeric"])[0].split(";")[0].rstrip(".")
        raise BindingError(f"{where}: not a table of numbers ({text})",
                           hint="comma-separated numbers, the same count on every line; "
                                "no header line") from None
    except UnicodeDecodeError:
        raise BindingError(f"{where}: not UTF-8 text") from None
    if data.size == 0:
        raise BindingError(f"{where}: the file has no numbers")
    return data


_READERS = {".npy": _npy, ".npz": _npz, ".json": _json, ".csv": _csv}


# --- nested lists and loaded data -> checked float arrays -----------------------------------


def to_array(name: str, data: Any):
    """A nested list (or array) -> a float64 numpy array with a regular shape, finite entries."""
    import numpy as np

    if isinstance(data, list):
        _only_numbers(name, data)
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


def _only_numbers(name: str, data: list) -> None:
    """Refuse what numpy would quietly turn into a number (true -> 1, "2" -> 2, null -> nan)
    and nesting deeper than MAX_DIMS; a loop over a stack, since the depth is the user's."""
    stack = [(data, 1)]
    while stack:
        items, depth = stack.pop()
        if depth > MAX_DIMS:
            raise too_deep(name)
        kinds = set(map(type, items))  # one pass in C per list: cheap for a large array
        if kinds <= _NUMBER_TYPES:
            continue
        for item in items:
            kind = type(item)
            if kind is list:
                stack.append((item, depth + 1))
            elif kind not in _NUMBER_TYPES:
                shown = _JSON_WORDS[kind](item) if kind in _JSON_WORDS else \
                    json.dumps(item)[:40] if kind is str else "an object"
                raise BindingError(f"{name} has an entry that is not a number: {shown}",
                                   hint="entries must be numbers, e.g. [1, 2.5]")


def too_deep(name: str) -> BindingError:
    return BindingError(f"{name} is nested too deeply",
                        hint=f"numpy allows at most {MAX_DIMS} dimensions")
