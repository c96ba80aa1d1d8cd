"""Benchmark of the synergy estimator: one fit (499 bootstrap draws, controls) as a ratio to one TWFE fit."""

from __future__ import annotations

from timing import best_of


def synergy_to_twfe() -> float:
    """Wall time of :func:`citypilots.estimators.synergy.synergy` on the main panel over that of
    the paper's TWFE specification, both timed in this run (best of five)."""
    from citypilots.data.panel import CONTROLS
    from citypilots.estimators.did import twfe
    from citypilots.estimators.synergy import synergy
    from citypilots.simulation.generator import simulate_panel

    data = simulate_panel().data
    one_twfe = best_of(lambda: twfe(data, "Safety", "Dual_policy", controls=CONTROLS))
    one_synergy = best_of(lambda: synergy(data, "Safety", "city", "year", "innovative_year", "smart_year",
                                          controls=CONTROLS, n_boot=499))
    return one_synergy / one_twfe
