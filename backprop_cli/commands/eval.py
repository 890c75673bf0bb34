"""The `eval` command: one program at one point, its gradients cross-checked."""

from __future__ import annotations

import sys

import click

from .common import (
    CONTEXT,
    ProgramCommand,
    console,
    emit_json,
    output_options,
    parse_binding_words,
    parse_expect,
    program_options,
    read_program,
    report_errors,
    run_program,
    use_rich,
)

# --- shared with trace: the lecture's views, and running the program's words ------------

_LECTURE_OPTIONS = (
    click.option("--why-zero", is_flag=True,
                 help="Say why each zero gradient is zero: no path, blocked at a gate, or "
                      "vanished through saturated gates."),
    click.option("--nudge", type=float, metavar="H",
                 help="Per input, the predicted change of the output (gradient x H) against "
                      "the actual change (an array input: every entry moved by H)."),
    click.option("--lr", type=float, metavar="ETA",
                 help="Take one gradient-descent step on the inputs (with eval --wrt, on those "
                      "only) and say whether the output went down."),
    click.option("--frameworks", is_flag=True,
                 help="At a kink, what PyTorch, JAX, micrograd and sympy would return."),
    click.option("--float32", is_flag=True,
                 help="Replay both passes in float32: per-node relative error against "
                      "float64, and the tolerance a float32 check needs."),
)


def lecture_options(fn):
    """The lecture's views, declared once for eval and trace (commands/lecture.py runs them)."""
    for option in reversed(_LECTURE_OPTIONS):
        fn = option(fn)
    return fn


def lecture_views(result, asked: dict) -> list:
    """The views asked for; commands/lecture.py is imported only when one is."""
    if not any(v is not None and v is not False for v in asked.values()):
        return []
    from .lecture import lecture_views as views

    return views(result, **asked)


def view_lines(views: list) -> list[str]:
    """The views' lines; on a terminal, broken at spaces to its width (never in a number)."""
    from ..render.wrap import hang_all, terminal_width
    from .lecture import view_lines as lines

    return hang_all(lines(views), terminal_width(sys.stdout))  # piped: as they are


def view_fields(views: list) -> dict:
    if not views:
        return {}
    from .lecture import view_fields as fields

    return fields(views)


def run_words(words, program_file, options, groups: tuple[str, ...] = ()):
    """The program and its bindings read from the command's words, then evaluated: (source,
    result); bad input exits 2 with one line."""
    source, origin, bind_words = read_program(words, program_file)
    bindings = parse_binding_words(bind_words)
    result, _ = run_program(source, origin, bindings, options, groups)
    return source, result


@click.command("eval", cls=ProgramCommand, context_settings=CONTEXT)
@program_options
@output_options
@click.option("--no-check", is_flag=True, help="Skip both cross-checks (fastest).")
@click.option("--no-sympy", is_flag=True, help="Skip the symbolic check.")
@click.option("--no-numeric", is_flag=True, help="Skip the finite-difference check.")
@click.option("--wrt", metavar="NAMES", help="Only these gradients, comma-separated: --wrt x,y")
@click.option("--expect", "expects", multiple=True, metavar="NAME=VALUE",
              help="Grade a hand-derived number: a gradient (x=-4 or dx=-4), value=..., or a "
                   "named intermediate's value (q=3) or gradient (dq=-4); repeatable.")
@click.option("--claim", "claims", multiple=True, metavar="dNAME=FORMULA",
              help="Grade a derivative formula, e.g. --claim \"dx=2*x*cos(x**2)\": by sympy "
                   "and at 33 points; repeatable.")
@click.option("--symbolic", is_flag=True, help="Also print sympy's derivative formula.")
@click.option("--seed", metavar="VALUE",
              help="Upstream gradient for a non-scalar output (a number or a list); without "
                   "it, a non-scalar output gets its full Jacobian.")
@click.option("--hessian", is_flag=True,
              help="Also the Hessian (second derivatives) of a scalar output, cross-checked.")
@lecture_options
@report_errors
def eval_cmd(words, program_file, as_json, plain, precision, no_check, no_sympy, no_numeric,
             wrt, expects, claims, symbolic, seed, hessian, **lecture):
    """Evaluate PROGRAM and print d(output)/d(name) for every bound name, cross-checked.

    Each gradient is checked against sympy's symbolic derivative and against central finite
    differences. A non-scalar output (and no --seed) gets its full Jacobian instead; --hessian
    adds the matrix of second derivatives. Exit code 0: no check disagreed (a gradient no
    check could confirm is reported as unchecked, with why); 1: a check disagreed; 2: bad
    input; 3: internal error.

    Only a known option spelled in full, as its own word, is an option: every other word is
    the program or a binding, so a program may start with '-' ("-softplus(x)", "-x*f").

    \b
    Examples:
      backprop eval "(x+y)*z" x=-2 y=5 z=-4
      backprop eval "-x*y" x=2 y=3 --expect x=-3
      backprop eval "sin(x**2)" x=1.5 --claim "dx=2*x*cos(x**2)"
      backprop eval "q = x + y; f = q * z" x=-2 y=5 z=-4 --json
      backprop eval "sum((W @ x)**2)" "W=[[0.1,0.5],[-0.3,0.8]]" "x=[0.2,0.4]"
      backprop eval "(x+y)*z" x=-2 y=5 z=-4 --hessian
      backprop eval "relu(x - 0.5)" "x=[0.2,0.9,1.5]"
      backprop eval - x=1 < program.txt
      backprop eval "relu(x)*y" x=-2 y=3 --why-zero
      backprop eval "x**2*y" x=1.5 y=2 --nudge 0.01 --lr 0.1
      backprop eval "max(x, y)" x=1 y=1 --frameworks
      backprop eval "1 - cos(x)" x=1e-3 --float32
    """
    options = eval_options(no_check, no_sympy, no_numeric, wrt, expects, claims, symbolic,
                           seed, hessian)
    source, result = run_words(words, program_file, options)
    views = lecture_views(result, lecture)
    show_eval(result, source.strip(), views, as_json, plain, precision)
    sys.exit(result.exit_code)


def eval_options(no_check, no_sympy, no_numeric, wrt, expects, claims, symbolic, seed,
                 hessian):
    """eval's options as the evaluator takes them."""
    from ..evaluate import Options

    seed_value = None
    if seed is not None:
        from ..engine.bindings import parse_value

        seed_value = parse_value("--seed", seed)
    return Options(
        check=not no_check, sympy=not no_sympy, numeric=not no_numeric,
        wrt=tuple(n.strip() for n in wrt.split(",") if n.strip()) if wrt else None,
        expect=parse_expect(expects), symbolic=symbolic, seed=seed_value, full_jacobian=True,
        hessian=hessian, claims=claims)


def show_eval(result, program: str, views: list, as_json: bool, plain: bool,
              precision: int) -> None:
    if as_json:
        from ..render.json_out import eval_json

        emit_json({**eval_json(result, program), **view_fields(views)})
        return
    if use_rich(plain):
        from ..render.tables import eval_view

        console().print(eval_view(result, program, precision))
    else:
        from ..render.plain import eval_text

        click.echo(eval_text(result, precision))
    if views:
        click.echo("\n".join(view_lines(views)))
