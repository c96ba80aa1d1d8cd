"""Benchmarks of the spatial chapter (citypilots.estimators.spatial). Each function returns seconds.

Registered in ``bench/run.py``; run one with ``python bench/run.py spatial_sweep_seconds``.
Target (issue 7): the whole distance-band sweep under 20 s on 2 cores.
"""

from __future__ import annotations

from timing import best_of


def _main_panel():
    from citypilots.simulation.generator import simulate_panel

    sim = simulate_panel()
    data = sim.data.assign(planted_spillover=sim.truth.contrast("spillover").to_numpy())
    return data, sim.cities


def spatial_sweep_seconds() -> float:
    """Wall time of the chapter's distance-band sweep (25 bands of 100 km to 2,500 km, spatial Durbin
    with city and year effects, standard errors clustered by city, 500 impact draws per band, the
    realised spillover projected too) on the main 3,488-row panel. One warm-up run, then the best
    of three."""
    from citypilots.estimators import spatial
    from citypilots.data.panel import CONTROLS

    data, cities = _main_panel()

    def sweep():
        spatial.distance_band_sweep(data, "Safety", ["Dual_policy", *CONTROLS], cities, of="Dual_policy",
                                    alpha=0.10, target="planted_spillover", progress=False, vcov="cluster")

    return best_of(sweep, 3)


def spatial_durbin_seconds() -> float:
    """Wall time of one two-way fixed-effects spatial Durbin fit (Dual_policy and six controls, their
    W-lags, inverse-distance-squared weights, 1,000 impact draws) on the main panel; best of five."""
    from citypilots.estimators import spatial
    from citypilots.data.panel import CONTROLS

    data, cities = _main_panel()
    w = spatial.inverse_distance_weights(cities, power=2)

    def fit():
        spatial.spatial_durbin(data, "Safety", ["Dual_policy", *CONTROLS], w)

    return best_of(fit, 5)


def spatial_measure_seconds() -> float:
    """Wall time of the chapter's Monte Carlo measure on one panel (what each of its seeds costs
    besides the simulation: two clustered spatial Durbin fits with their ML impacts, the spillover
    received and the realised truths, and the DID with spillover rings); best of three."""
    from citypilots.chapters import spatial as chapter
    from citypilots.simulation.generator import simulate_panel

    panel = simulate_panel()
    return best_of(lambda: chapter.spatial_measure(panel), 3)


BENCHMARKS = {"spatial_sweep_seconds": spatial_sweep_seconds, "spatial_durbin_seconds": spatial_durbin_seconds,
              "spatial_measure_seconds": spatial_measure_seconds}

if __name__ == "__main__":
    for name, function in BENCHMARKS.items():
        print(f"{name}: {function():.4g}", flush=True)
