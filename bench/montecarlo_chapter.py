"""Benchmarks of the estimator Monte Carlo chapter (registered in ``bench/run.py``).

Each function returns rates or ratios measured in one run on this machine.
"""

from __future__ import annotations

import time
import warnings

from timing import best_of

PANELS = 200
WARM_UP = 10  # panels that start and warm every worker (imports, the design's cached weights)


def _panels_per_second(n_jobs: int, overrides: dict) -> float:
    """The chapter's work per panel (simulation, the five NumPy estimators and their targets) over
    PANELS seeds, no cache, after warming the workers on WARM_UP other seeds."""
    from citypilots.chapters.montecarlo import estimator_measure
    from citypilots.simulation.montecarlo import replicate

    replicate(estimator_measure, seeds=range(WARM_UP), overrides=overrides, n_jobs=n_jobs, cache=False,
              progress=False)
    start = time.perf_counter()
    replicate(estimator_measure, seeds=range(1000, 1000 + PANELS), overrides=overrides, n_jobs=n_jobs, cache=False,
              progress=False)
    return PANELS / (time.perf_counter() - start)


def montecarlo_estimators_panels_per_second() -> str:
    """Panels per second of the chapter's Monte Carlo (world (b)) with one worker and with two, their
    ratio, and the cold run time of the chapter's default run that these rates imply."""
    from citypilots.chapters.montecarlo import PANELS as CHAPTER_PANELS, WORLDS

    overrides = WORLDS["b"].overrides
    one, two = _panels_per_second(1, overrides), _panels_per_second(2, overrides)
    total = CHAPTER_PANELS * len(WORLDS)
    return (f"{one:.2f} (1 worker), {two:.2f} (2 workers), speed-up {two / one:.2f}; "
            f"{total} panels take about {total / two:.0f} s with 2 workers")


def fast_estimators_speedup() -> str:
    """Seconds per panel of the five estimators through the packages (pyfixest, diff_diff) and
    through :mod:`citypilots.estimators.fast` (design built from the panel each time), on the dual-
    and never-pilot cities of the book's panel, and their ratio (best of five each)."""
    from citypilots.chapters.montecarlo import sample_rows
    from citypilots.estimators import did, fast
    from citypilots.estimators.stacked import stacked_did
    from citypilots.simulation.generator import simulate_panel

    simulated = simulate_panel()
    sample = simulated.data[sample_rows(simulated)]

    def packages():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            did.twfe(sample, "Safety", "Dual_policy")
            did.att_gt(sample, "Safety", "city", "year", "dual_year").aggregate("simple")
            did.sun_abraham(sample, "Safety", "city", "year", "dual_year")
            did.imputation(sample, "Safety", "city", "year", "dual_year")
            stacked_did(sample, "Safety", "city", "year", "dual_year")

    def numpy_versions():
        design = fast.BalancedDesign.from_long(sample, "city", "year", "dual_year")
        fast.fit_all(design, design.matrix(sample["Safety"].to_numpy()))

    slow, quick = best_of(packages, 5), best_of(numpy_versions, 5)
    return f"packages {slow:.3f} s, numpy {quick:.4f} s per panel: {slow / quick:.0f}x"
