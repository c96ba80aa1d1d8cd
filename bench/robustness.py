"""Benchmarks of the robustness chapter (registered in ``bench/run.py``).

Each function returns a float measured in one run on this machine.
"""

from __future__ import annotations

import time

from timing import best_of

PLACEBO_DRAWS = 1000  # the paper's number of random assignments


def placebo_speedup(draws: int = PLACEBO_DRAWS) -> float:
    """Speed ratio of the permutation placebo: refitting pyfixest for every draw / the
    Frisch-Waugh-Lovell version (:func:`citypilots.estimators.placebo.permutation_placebo`), for the same
    ``draws`` random reassignments of the dual-pilot years on the main 3,488-row panel with the
    six controls. Both are warmed up first (imports, numba compilation); the fast version is the
    best of five runs, the refits one run (about 20 s). Target: at least 100.
    """
    from citypilots.data.panel import CONTROLS
    from citypilots.estimators.placebo import permutation_placebo, refit_placebo
    from citypilots.simulation.generator import simulate_panel

    data = simulate_panel().data
    arguments = dict(data=data, y="Safety", cohort="dual_year", controls=CONTROLS, progress=False)
    fast = permutation_placebo(draws=draws, seed=1, **arguments)
    refit_placebo(assignments=fast.assignments[:3], **arguments)  # warm up
    fast_seconds = best_of(lambda: permutation_placebo(assignments=fast.assignments, **arguments), 5)
    start = time.perf_counter()
    refit_placebo(assignments=fast.assignments, **arguments)
    refit_seconds = time.perf_counter() - start
    return refit_seconds / fast_seconds
