"""Benchmarks of the mechanism and heterogeneity chapters (citypilots.estimators.mechanism, citypilots.estimators.heterogeneity).

Each function returns one float (seconds or a ratio, measured in one run on this machine).
Registered in ``bench/run.py``; run one with ``python bench/run.py mediation_bootstrap_seconds``.
"""

from __future__ import annotations

from timing import best_of


def mediation_bootstrap_seconds() -> float:
    """Wall time of the chapter's pairs cluster bootstrap of the TI channel: 999 resamples of the
    218 cities, three TWFE equations each, on the main 3,488-row panel (best of three)."""
    from citypilots.estimators import mechanism
    from citypilots.data.panel import CONTROLS
    from citypilots.simulation.generator import simulate_panel

    data = simulate_panel().data
    return best_of(lambda: mechanism.bootstrap_mediation(data, "Safety", "Dual_policy", "TI", CONTROLS,
                                                          n_boot=999, seed=0, progress=False))


def bootstrap_draw_speedup_over_pyfixest() -> float:
    """How many times faster one bootstrap draw is than refitting its equations with pyfixest.

    Ratio of the time of the three pyfixest fits of one resample (the duplicated units relabelled,
    as a plain refit must) to one weighted draw of :func:`citypilots.estimators.mechanism.mediation_paths_weighted`
    on the same resample (best of five each). The reason the bootstrap is written by hand.
    """
    import numpy as np
    import pandas as pd
    import pyfixest as pf

    from citypilots.estimators import mechanism
    from citypilots.data.panel import CONTROLS
    from citypilots.simulation.generator import simulate_panel

    data = simulate_panel().data
    cities = data["city"].unique()
    counts = pd.Series(np.random.default_rng(0).choice(cities, size=len(cities))).value_counts()
    weights = data["city"].map(counts).fillna(0).to_numpy()
    pieces = [data[data["city"] == city].assign(city=f"{city}_{copy}")
              for city, count in counts.items() for copy in range(count)]
    resample = pd.concat(pieces, ignore_index=True)
    controls = " + ".join(CONTROLS)

    def refit():
        pf.feols(f"Safety ~ Dual_policy + {controls} | city + year", data=resample)
        pf.feols(f"TI ~ Dual_policy + {controls} | city + year", data=resample)
        pf.feols(f"Safety ~ Dual_policy + TI + {controls} | city + year", data=resample)

    def draw():
        mechanism.mediation_paths_weighted(data, "Safety", "Dual_policy", "TI", CONTROLS, weights=weights)

    return best_of(refit, 5) / best_of(draw, 5)


def fully_interacted_to_split_twfe() -> float:
    """Wall time of the fully interacted regression by region (one pooled fit with its difference
    tests) as a ratio to the three split-sample regressions it reproduces (best of three each)."""
    from citypilots.estimators import heterogeneity
    from citypilots.data.panel import CONTROLS
    from citypilots.simulation.generator import simulate_panel

    sim = simulate_panel()
    region = sim.cities.set_index("adcode")["region"]
    pooled = best_of(lambda: heterogeneity.fully_interacted_twfe(sim.data, "Safety", "Dual_policy", region, CONTROLS))
    split = best_of(lambda: heterogeneity.split_twfe(sim.data, "Safety", "Dual_policy", region, CONTROLS))
    return pooled / split
