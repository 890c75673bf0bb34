"""The pipeline's direction: text -> graph -> forward -> backward -> check -> render.

Every import in the package (at the top of a module or inside a function) is read from the
source, so a lazy import counts as much as an eager one. The stages come in one order
(`STAGES`): a module imports only from its own stage or from stages before it, so no stage
reaches back upstream, even where no cycle of modules would show it (language/bindings.py once
imported engine/forward.py while engine/trace.py imported language/labels.py).
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


# The stages in pipeline order; stages on one line are side by side and import neither other.
# An import under `if TYPE_CHECKING:` names a type for the checker only and never runs, so it
# does not count for the order (ops/shapes.py names the Graph a shape rule is given).
STAGES = (
    ("errors", "exits", "deadline", "values", "__version__"),  # the base every stage may use
    ("outputs",),  # the one way an output file is written
    ("ops",),  # the registry: one row per op
    ("graph",),
    ("language",),  # text -> tokens -> graph, and the one printer
    ("engine",),  # values and gradients (and bindings: a constant expression is evaluated)
    ("checks",),
    ("evaluate", "record"),  # one case end to end, and its one record (eval --json, check)
    ("exercises", "batch", "grade"),  # quizzes, case files, backward files
    ("render",),
    ("commands",),
    ("cli",),
    ("__main__",),
)
RANK = {stage: k for k, names in enumerate(STAGES) for stage in names}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> list[tuple[str, list[str]]]:
    """(module imported, names taken from it) for every import statement in the file."""
    here = module_name(path).split(".")
    package = here if path.name == "__init__.py" else here[:-1]
    return _typed(path, package)


def _typed(path: Path, package: list[str]) -> list[tuple[str, list[str]]]:
    """Every import; one under `if TYPE_CHECKING:` has the name "(type only)" added."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    typed = {id(n) for block in ast.walk(tree) if isinstance(block, ast.If)
             and getattr(block.test, "id", "") == "TYPE_CHECKING" for n in ast.walk(block)}
    found = []
    for node in ast.walk(tree):
        mark = ["(type only)"] if id(node) in typed else []
        if isinstance(node, ast.Import):
            found += [(alias.name, mark) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            target = ".".join(base + ([node.module] if node.module else []))
            names = [alias.name for alias in node.names]
            if node.module is None:  # `from . import arrays`: each name is a module
                found += [(f"{target}.{name}", mark) for name in names]
            else:
                found.append((target, names + mark))
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


def stage_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def order_violations(modules: dict[str, list[tuple[str, list[str]]]]) -> list[str]:
    """Every import that reaches a later stage, or a side-by-side one."""
    bad = []
    for module, deps in modules.items():
        here = stage_of(module)
        for target, names in deps:
            if not target.startswith("backprop_cli.") or "(type only)" in names:
                continue
            there = stage_of(target)
            if there != here and RANK[there] >= RANK[here]:
                bad.append(f"{module} ({here}) imports {target} ({there})")
    return bad


def test_every_module_belongs_to_a_stage():
    assert sorted({stage_of(m) for m in graph_of_modules()} - set(RANK) - {""}) == []


def test_stages_import_only_upstream():
    assert order_violations(graph_of_modules()) == []


def test_the_order_check_sees_a_stage_reaching_back():
    # What language/bindings.py once did, and what no cycle of modules showed.
    old = {"backprop_cli.language.bindings": [("backprop_cli.engine.forward", ["forward"])]}
    assert order_violations(old) == ["backprop_cli.language.bindings (language) imports "
                                     "backprop_cli.engine.forward (engine)"]
    assert order_violations({"backprop_cli.render.tables": [("backprop_cli.commands.common",
                                                            ["x"])]})
    assert order_violations({"backprop_cli.batch.run": [("backprop_cli.exercises.grading",
                                                        ["x"])]})
    assert not order_violations({"backprop_cli.engine.trace": [("backprop_cli.language.labels",
                                                               ["x"])]})
