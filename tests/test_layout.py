"""The pipeline's direction: text -> graph -> forward -> backward -> check -> render.

Every import in the package (at the top of a module or inside a function) is read from the
source, so a lazy import counts as much as an eager one.
"""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "backprop_cli"
CORE = ("ops", "language", "graph", "engine", "checks", "batch", "evaluate", "errors", "exits",
        "deadline", "exercises")
FRONT = ("click", "rich", "backprop_cli.render", "backprop_cli.commands", "backprop_cli.cli")
# What computes values or gradients: a renderer is handed results, it never makes them.
ENGINE_CALLS = {"forward", "backpropagate", "chain_step", "trace_rows", "evaluate",
                "local_jacobian", "cross_check", "cross_check_arrays", "finite_difference",
                "hessian", "output_jacobian", "check_hessian", "check_jacobian"}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> list[tuple[str, list[str]]]:
    """(module imported, names taken from it) for every import statement in the file."""
    here = module_name(path).split(".")
    package = here if path.name == "__init__.py" else here[:-1]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            target = ".".join(base + ([node.module] if node.module else []))
            names = [alias.name for alias in node.names]
            if node.module is None:  # `from . import arrays`: each name is a module
                found += [(f"{target}.{name}", []) for name in names]
            else:
                found.append((target, names))
    return found


def graph_of_modules() -> dict[str, list[tuple[str, list[str]]]]:
    return {module_name(p): imports(p) for p in PACKAGE.rglob("*.py")}


def test_the_core_never_imports_the_front_end():
    bad = []
    for module, deps in graph_of_modules().items():
        stage = module.split(".")[1] if "." in module else ""
        if stage not in CORE:
            continue
        for target, _ in deps:
            if any(target == f or target.startswith(f + ".") for f in FRONT):
                bad.append(f"{module} imports {target}")
    assert bad == []


def test_renderers_compute_no_gradients():
    bad = []
    for module, deps in graph_of_modules().items():
        if not module.startswith("backprop_cli.render"):
            continue
        for target, names in deps:
            if target.startswith("backprop_cli") and ENGINE_CALLS & set(names):
                bad.append(f"{module} takes {sorted(ENGINE_CALLS & set(names))} from {target}")
    assert bad == []


def test_no_module_imports_itself_back():
    modules = graph_of_modules()
    edges = {m: {t for t, _ in deps if t in modules and t != m} for m, deps in modules.items()}
    # A package's __init__ that re-exports its modules is the package's face, not a cycle:
    # `from ..ops import OPS` in a module of ops' own would be one, and is counted.
    for m in modules:
        edges[m] -= {p for p in edges[m] if m.startswith(p + ".")}
    cycles = []
    for start in edges:
        stack, seen = [(start, (start,))], set()
        while stack:
            node, path = stack.pop()
            for nxt in edges[node]:
                if nxt == start:
                    cycles.append(" -> ".join(path + (start,)))
                elif nxt not in seen:
                    seen.add(nxt)
                    stack.append((nxt, path + (nxt,)))
    assert cycles == []
