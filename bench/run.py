"""Benchmarks. ``python bench/run.py`` runs all; ``python bench/run.py NAME`` runs one.

Each benchmark prints one line ``NAME: value`` (seconds or a ratio, measured in one run on this
machine). Speed targets are stated as ratios here, never as timed tests. Later chapters add
their benchmarks to ``BENCHMARKS``.
"""

from __future__ import annotations

import sys

from book import book_build_cached_seconds, book_build_cold_seconds, book_build_peak_mb
from montecarlo import montecarlo_panels_per_second
from mechanism import bootstrap_draw_speedup_over_pyfixest, fully_interacted_to_split_twfe, mediation_bootstrap_seconds
from robustness import placebo_speedup
from spatial import spatial_durbin_seconds, spatial_measure_seconds, spatial_sweep_seconds
from synergy import synergy_to_twfe
from threshold import threshold_bootstrap_seconds
from timing import best_of


def simulate_seconds() -> float:
    """Wall time of one simulation of the main paper's 3,488-row panel (best of three)."""
    from citypilots.simulation.generator import simulate_panel

    return best_of(simulate_panel, 3)


def validate_panel_seconds() -> float:
    """Wall time of validating and loading the simulated 3,488-row panel from CSV (best of three)."""
    import tempfile
    from pathlib import Path

    from citypilots.data.panel import load_panel, to_csv
    from citypilots.simulation.generator import simulate_panel

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "panel.csv"
        to_csv(simulate_panel().data, path)
        return best_of(lambda: load_panel(path), 3)


def estimator_to_twfe(estimator: str):
    """A benchmark: one fit of ``estimator`` on the main 3,488-row panel, as a ratio to one TWFE fit.

    Both are timed in the same run (best of five). Callaway-Sant'Anna includes its four
    aggregations; the robust estimators use dual-pilot and never-pilot cities, as the chapter does.
    """
    def ratio() -> float:
        from citypilots.estimators import did
        from citypilots.data.panel import CONTROLS
        from citypilots.data.samples import keep_groups, pilot_groups
        from citypilots.simulation.generator import simulate_panel

        sim = simulate_panel()
        cities = sim.cities.set_index("adcode")
        sample = keep_groups(sim.data, pilot_groups(cities["innovation_year"], cities["smart_year"]), ["dual", "none"])
        fits = {
            "event_study": lambda: did.event_study(sim.data, "Safety", "dual_year", controls=CONTROLS),
            "att_gt": lambda: [did.att_gt(sample, "Safety", "city", "year", "dual_year").aggregate(kind)
                               for kind in ("simple", "dynamic", "group", "calendar")],
            "sun_abraham": lambda: did.sun_abraham(sample, "Safety", "city", "year", "dual_year"),
            "imputation": lambda: did.imputation(sample, "Safety", "city", "year", "dual_year"),
            "bacon_decomposition": lambda: did.bacon_decomposition(sample, "Safety", "city", "year", "dual_year"),
        }
        one_twfe = best_of(lambda: did.twfe(sim.data, "Safety", "Dual_policy", controls=CONTROLS))
        return best_of(fits[estimator]) / one_twfe
    return ratio


BENCHMARKS = {
    "simulate_seconds": simulate_seconds,
    "validate_panel_seconds": validate_panel_seconds,
    **{f"{name}_to_twfe": estimator_to_twfe(name)
       for name in ("event_study", "att_gt", "sun_abraham", "imputation", "bacon_decomposition")},
    "mediation_bootstrap_seconds": mediation_bootstrap_seconds,
    "bootstrap_draw_speedup_over_pyfixest": bootstrap_draw_speedup_over_pyfixest,
    "fully_interacted_to_split_twfe": fully_interacted_to_split_twfe,
    "placebo_speedup": placebo_speedup,
    "spatial_sweep_seconds": spatial_sweep_seconds,
    "spatial_durbin_seconds": spatial_durbin_seconds,
    "spatial_measure_seconds": spatial_measure_seconds,
    "montecarlo_panels_per_second": montecarlo_panels_per_second,
    "synergy_to_twfe": synergy_to_twfe,
    "threshold_bootstrap_seconds": threshold_bootstrap_seconds,
    "book_build_cold_seconds": book_build_cold_seconds,
    "book_build_cached_seconds": book_build_cached_seconds,
    "book_build_peak_mb": book_build_peak_mb,
}

# The estimator Monte Carlo chapter (bench/montecarlo_chapter.py).
from montecarlo_chapter import fast_estimators_speedup, montecarlo_estimators_panels_per_second  # noqa: E402

BENCHMARKS.update({
    "montecarlo_estimators_panels_per_second": montecarlo_estimators_panels_per_second,
    "fast_estimators_speedup": fast_estimators_speedup,
})


def main(names: list[str]) -> None:
    unknown = [name for name in names if name not in BENCHMARKS]
    if unknown:
        sys.exit(f"unknown benchmark {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}")
    for name in names or list(BENCHMARKS):
        value = BENCHMARKS[name]()
        print(f"{name}: {value if isinstance(value, str) else format(value, '.4g')}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
