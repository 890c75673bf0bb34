"""Shared test settings: hypothesis profiles sized for CI (2 cores, a 15-minute run)."""

import os

from hypothesis import HealthCheck, settings

# CI runs the same examples every time (derandomize), so a landing never hinges on a lucky
# draw; the dev profile explores new ones on every run.
settings.register_profile("ci", max_examples=150, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", max_examples=40, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


def _warm_up() -> None:
    """Each test process (one per core under xdist) first runs a scalar and an array program
    through every check, with no budget armed: sympy and numpy build parts lazily on first use
    (numpy's matrix module, sympy's printers), and a test's deliberately tiny budget landing in
    the middle of that left them half built, so every later sympy check in that process failed
    with an AttributeError. `check`'s workers do the same (batch/run.py, warm_up)."""
    import numpy as np

    from backprop_cli.evaluate import evaluate
    from backprop_cli.language.parser import parse

    for program, at in (("tanh(x*y) + x**2", {"x": 1.5, "y": 0.5}),
                        ("sum(W @ v)", {"W": np.eye(2), "v": np.ones(2)})):
        evaluate(parse(program), at)


_warm_up()
