"""A peer engine run as a user would run it: program text in, gradients out (bench_core.py).

    python benchmarks/peer.py micrograd|torch FILE NAME=VALUE...

The program text is compiled as Python (the language's +, *, **, sin, tanh, exp and `name =`
statements are Python too), run on the peer's scalar values, differentiated with the peer's own
.backward(), and the gradients printed as JSON: {"value": ..., "gradients": {name: ...},
"seconds": the time from after the imports to the gradients}.
micrograd's Value has no sin, tanh or exp: they are added here the way its README adds ops,
one closure per node. Exit code 3 with one line on stderr when the peer cannot run the program
(a RecursionError in micrograd's topological sort, or Python's parser refusing the nesting).
"""

from __future__ import annotations

import json
import math
import sys
import time


def micrograd_namespace() -> tuple[dict, object]:
    from micrograd.engine import Value

    def unary(f, df):
        def op(a):
            a = a if isinstance(a, Value) else Value(a)
            out = Value(f(a.data), (a,), f.__name__)

            def _backward():
                a.grad += df(a.data, out.data) * out.grad
            out._backward = _backward
            return out
        return op

    names = {
        "sin": unary(math.sin, lambda x, y: math.cos(x)),
        "tanh": unary(math.tanh, lambda x, y: 1.0 - y * y),
        "exp": unary(math.exp, lambda x, y: y),
    }
    return names, Value


def torch_namespace() -> tuple[dict, object]:
    import torch

    torch.set_num_threads(1)  # 0-d tensors: threads only add overhead

    def leaf(x: float):
        return torch.tensor(x, dtype=torch.float64, requires_grad=True)

    return {"sin": torch.sin, "tanh": torch.tanh, "exp": torch.exp}, leaf


def main() -> int:
    engine, path, *words = sys.argv[1:]
    names, make = micrograd_namespace() if engine == "micrograd" else torch_namespace()
    start = time.perf_counter()  # imports done: from here on is the work on this program
    text = open(path, encoding="utf-8").read()
    leaves = {}
    for word in words:
        name, _, value = word.partition("=")
        leaves[name] = make(float(value))
    scope = {**names, **leaves}
    try:
        lines = [line for line in text.replace(";", "\n").splitlines() if line.strip()]
        *body, last = lines
        code = compile("\n".join(body + ["__out__ = " + last.split("=", 1)[-1]
                                         if _assigns(last) else "__out__ = " + last]),
                       path, "exec")
        exec(code, scope)  # our own generated benchmark program, never user input
        out = scope["__out__"]
        out.backward()
    except (RecursionError, SyntaxError, MemoryError) as exc:
        print(f"{engine}: {type(exc).__name__}: {str(exc)[:80]}", file=sys.stderr)
        return 3
    grad = {n: float(v.grad) for n, v in leaves.items()}
    value = float(out.data) if engine == "micrograd" else float(out.item())
    print(json.dumps({"value": value, "gradients": grad,
                      "seconds": time.perf_counter() - start}))
    return 0


def _assigns(line: str) -> bool:
    head, eq, _ = line.partition("=")
    return bool(eq) and head.strip().isidentifier()


if __name__ == "__main__":
    sys.exit(main())
