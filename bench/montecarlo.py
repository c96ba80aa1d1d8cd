"""Benchmarks of citypilots.montecarlo: simulated panels per second, one and two local workers."""

from __future__ import annotations

import sys
import tempfile
import time

import cloudpickle

cloudpickle.register_pickle_by_value(sys.modules[__name__])

PANELS = 24


def baseline_twfe(simulated) -> dict:
    """One panel's work: the paper's TWFE specification."""
    from citypilots.estimators.did import twfe
    from citypilots.data.panel import CONTROLS

    return {"estimate": twfe(simulated.data, "Safety", "Dual_policy", controls=CONTROLS).estimate()}


def panels_per_second(n_jobs: int) -> float:
    """Simulated panels (simulation plus one TWFE fit) per second over PANELS seeds, no cache."""
    from citypilots.montecarlo import replicate

    replicate(baseline_twfe, seeds=range(2), n_jobs=n_jobs, cache=False, progress=False)  # warm the workers
    start = time.perf_counter()
    replicate(baseline_twfe, seeds=range(100, 100 + PANELS), n_jobs=n_jobs, cache=False, progress=False)
    return PANELS / (time.perf_counter() - start)


def montecarlo_panels_per_second() -> str:
    """Panels per second with one worker and with two, and their ratio (the parallel speed-up)."""
    with tempfile.TemporaryDirectory():
        one, two = panels_per_second(1), panels_per_second(2)
    return f"{one:.2f} (1 worker), {two:.2f} (2 workers), speed-up {two / one:.2f}"
