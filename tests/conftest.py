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
