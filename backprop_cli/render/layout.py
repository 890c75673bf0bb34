"""Dot text -> SVG or PNG bytes, by running a Graphviz layout engine as a separate program.

Two engines are known, tried in this order by `--engine auto`:
  pure    graphviz-pure, a Rust port of Graphviz's dot installed from PyPI with backprop itself
          (a core dependency); it bundles its fonts, so a drawing is the same bytes everywhere.
  system  Graphviz's own `dot`, from the system's packages (apt-get install graphviz).
Neither is a library call: each runs in a subprocess with a time limit, so a slow layout can be
stopped and a missing engine becomes one clear message (LayoutUnavailable), never a traceback.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

from ..errors import BackpropError

ENGINES = ("auto", "pure", "system")
LAYOUT_SECONDS = 120.0  # a 2,000-node graph lays out in a few seconds; this is a safety stop


class LayoutUnavailable(BackpropError):
    kind = "cannot draw"


@dataclass(frozen=True)
class Engine:
    name: str  # "pure" or "system"
    path: str

    def describe(self) -> str:
        return {"pure": "graphviz-pure", "system": "Graphviz dot"}[self.name] + f" ({self.path})"


def _pure_path() -> str | None:
    found = shutil.which("graphviz-pure")
    if found:
        return found
    # Run as `python -m backprop_cli` or from a venv not on PATH: look beside the interpreter.
    exe = "graphviz-pure.exe" if os.name == "nt" else "graphviz-pure"
    for folder in (sysconfig.get_path("scripts"), str(Path(sys.executable).parent)):
        candidate = Path(folder) / exe
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return None


def find_engine(choice: str = "auto") -> Engine:
    """The engine to use, or LayoutUnavailable saying how to get one and what works without."""
    if choice not in ENGINES:
        raise LayoutUnavailable(f"--engine {choice}: choose one of {', '.join(ENGINES)}")
    if choice in ("auto", "pure"):
        path = _pure_path()
        if path:
            return Engine("pure", path)
    if choice in ("auto", "system"):
        path = shutil.which("dot")
        if path:
            return Engine("system", path)
    wanted = {"auto": "no layout engine found", "pure": "graphviz-pure is not installed",
              "system": "Graphviz's dot is not installed"}[choice]
    raise LayoutUnavailable(
        wanted, hint="pip install graphviz-pure (or apt-get install graphviz); meanwhile "
        "--format dot, mermaid or text need no engine")


def render(dot: str, fmt: str, engine: Engine, timeout: float = LAYOUT_SECONDS) -> bytes:
    """Run the engine on dot text; fmt is 'svg' or 'png'."""
    try:
        # PNG at 144 dpi: twice the default, sharp on a high-density screen and in the docs.
        extra = ["-Gdpi=144"] if fmt == "png" else []
        done = subprocess.run([engine.path, f"-T{fmt}", *extra], input=dot.encode("utf-8"),
                              capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise LayoutUnavailable(f"{engine.describe()} took longer than {timeout:g} s",
                                hint="draw a smaller program, or use backprop trace") from None
    except OSError as exc:
        raise LayoutUnavailable(f"{engine.describe()} could not run: {exc.strerror}") from None
    if done.returncode != 0 or not done.stdout:
        why = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise LayoutUnavailable(f"{engine.describe()} failed"
                                + (f": {why[-1]}" if why else f" (exit {done.returncode})"))
    return done.stdout
