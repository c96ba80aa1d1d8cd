"""The spatial chapter: its tables' truths, the claims of its prose and of every exercise solution.

Each exercise test runs the solution as the chapter states it and checks the claim the solution
makes. The prose claims that rest on the Monte Carlo runs call the same functions as the chapter
(with its seeds), so they read the cache the book build leaves behind.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from citypilots.chapters import spatial as chapter
from citypilots.data.panel import CONTROLS
from citypilots.estimators import spatial
from citypilots.report.datasource import PANEL_VARIABLE, chapter_data
from citypilots.simulation.generator import simulate_panel
from citypilots.simulation.specification import null_world


@pytest.fixture(scope="module")
def book():
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv(PANEL_VARIABLE, raising=False)
        return chapter_data()


@pytest.fixture(scope="module")
def sp(book):
    return chapter.located(book)


# ----------------------------------------------------------------------------------------------
# The truths each number is read as
# ----------------------------------------------------------------------------------------------

def test_table7_truths_are_the_stated_realised_contrasts(book, sp):
    rows = chapter.spatial_measure(book)
    label = "(2) inverse-distance-squared W"
    assert rows[f"{label}: direct effect [ML]"]["truth"] == pytest.approx(book.truth.dual_vs_none())
    assert rows[f"{label}: spillover received [clustered]"]["truth"] == pytest.approx(book.truth.spillover())
    # The indirect effect's counterpart: the realised spillover projected on the same design.
    w = chapter.weight_matrices(sp)["inverse distance squared"]
    data = sp.data.assign(s=book.truth.contrast("spillover").to_numpy())
    projected = spatial.spatial_durbin(data, "s", chapter.X, w, fix_rho=0.0, draws=2)
    assert rows[f"{label}: indirect effect [ML]"]["truth"] == pytest.approx(projected.params["W_Dual_policy"])
    total = rows[f"{label}: total effect [ML]"]
    assert total["truth"] == pytest.approx(book.truth.dual_vs_none() + projected.params["W_Dual_policy"])
    assert np.isnan(rows[f"{label}: rho [ML]"]["truth"])
    # ML and clustered rows share the estimate, not the standard error.
    ml, cl = rows[f"{label}: indirect effect [ML]"], rows[f"{label}: indirect effect [clustered]"]
    assert ml["estimate"] == cl["estimate"] and cl["std_error"] > ml["std_error"]


def test_in_the_null_world_every_spillover_truth_is_zero():
    null = simulate_panel(overrides=null_world("spillover"))
    rows = chapter.spatial_measure(null)
    for label, values in rows.items():
        if "indirect" in label or "received" in label or "km" in label:
            assert values["truth"] == 0.0, label


def test_ring_truths_are_the_realised_spillover_projected_on_the_ring_design(sp, book):
    rows = chapter.ring_rows(sp)
    data = sp.data.assign(s=book.truth.contrast("spillover").to_numpy())
    projected = spatial.ring_did(data, "s", "Dual_policy", sp.cities, chapter.RINGS_KM, controls=CONTROLS)
    for (low, high), term in zip(chapter.RINGS_KM, projected.extra["rings"]):
        assert rows[chapter._ring_label(low, high)]["truth"] == pytest.approx(projected.estimate(term))
    assert rows[chapter.RING_OWN]["truth"] == pytest.approx(book.truth.dual_vs_none())


def test_the_economic_matrix_uses_only_years_before_the_first_dual_pilot(sp):
    level = chapter.economic_level(sp)
    early = sp.data[sp.data["year"] < sp.first_dual_year]
    assert sp.first_dual_year == int(sp.data.loc[sp.data["Dual_policy"] == 1, "year"].min())
    assert np.allclose(level.to_numpy(), early.groupby("city")["lnGDP"].mean().loc[level.index].to_numpy())


# ----------------------------------------------------------------------------------------------
# The identity check on the paper's printed numbers
# ----------------------------------------------------------------------------------------------

def test_identity_flags_the_papers_column_2_and_not_this_books(sp):
    identity = chapter.identity_table(chapter.table7_fits(sp, draws=50))
    numbers = chapter.identity_numbers(identity)
    assert numbers["identity_paper_implied_2"] == "-5.64" and numbers["identity_paper_total_2"] == "-2.890"
    assert numbers["identity_paper_implied_1"] == "-9.85"
    assert abs(float(numbers["identity_paper_drawn_1"]) - (-10.337)) < abs(-9.85 - (-10.337))
    assert abs(float(numbers["identity_paper_drawn_2"]) - (-2.890)) > 2
    assert numbers["identity_unit_note"].startswith("Curiously")
    book_rows = identity.xs("This book", level="source")
    assert (book_rows["gap"].abs() < 1e-9).all()
    assert (book_rows["direct + indirect - total"].abs() < 1e-12).all()


# ----------------------------------------------------------------------------------------------
# The prose claims that rest on the Monte Carlo runs (the chapter's own calls)
# ----------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def table7(book):
    return chapter.table7(chapter.evidence(book, seeds=range(20), n_jobs=2))


@pytest.fixture(scope="module")
def drivers():
    return chapter.drivers_table(seeds=range(20), n_jobs=2)


def test_the_sdm_indirect_effect_is_as_significant_without_the_spillover_as_with_it(table7):
    numbers = table7.attrs["numbers"]
    for label in chapter.TABLE7_WEIGHTS:
        ml = numbers[f"{label}: indirect effect [ML]"]
        cl = numbers[f"{label}: indirect effect [clustered]"]
        # "significant" with ML in many seeds, as often in the null world: the spillover plays no part.
        assert ml["rejection_rate"] >= 0.3 and ml["null_rejection_rate"] >= ml["rejection_rate"] - 0.1
        # clustered standard errors bring the null world's rejections down and coverage up
        assert cl["null_rejection_rate"] < ml["null_rejection_rate"] and cl["coverage"] > ml["coverage"]
        # "this one flatters the model": the book's seed is closer to its truth than the seeds' mean to theirs
        assert abs(ml["estimate"] - ml["truth"]) < abs(ml["seed_mean"] - ml["seed_truth"])


def test_the_slx_indirect_effect_carries_the_same_bias_and_clustering_tames_its_tests(book):
    evidence = chapter.evidence(book, seeds=range(20), n_jobs=2)
    slx, table7 = chapter.slx_table(evidence), chapter.table7(evidence)
    for label in chapter.TABLE7_WEIGHTS:
        ml = slx.attrs["numbers"][f"{label}: SLX indirect effect [ML]"]
        cl = slx.attrs["numbers"][f"{label}: SLX indirect effect [clustered]"]
        sdm = table7.attrs["numbers"][f"{label}: indirect effect [ML]"]
        assert abs(ml["seed_mean"] - ml["seed_truth"]) > 0.05  # biased, as the SDM's
        assert abs(ml["seed_mean"] - sdm["seed_mean"]) < 0.25 * abs(sdm["seed_mean"])
        assert cl["null_rejection_rate"] < ml["null_rejection_rate"]


def test_drivers_claims_hold(drivers):
    spread = [group for group in drivers.columns.levels[0] if group.startswith("over")][0]
    worlds = list(dict.fromkeys(drivers.index.get_level_values("world")))
    for name in chapter.DRIVER_WEIGHTS[:2]:
        means = [drivers.loc[(world, name), (spread, "mean")] for world in worlds]
        # the spillover contributes (almost) nothing; the own effects more than the other policies
        assert abs(means[0] - means[1]) < 0.1 * abs(means[1])
        assert abs(means[2] - means[3]) > abs(means[1] - means[2]) > 0
        assert abs(means[3]) < 0.1
    last = worlds[-1]
    for name in chapter.DRIVER_WEIGHTS[1:]:
        row = drivers.loc[(last, name), spread]
        assert row["rejects 0 ML"] > 0.05 >= row["rejects 0 clustered"] - 1e-12
    whole = drivers.loc[(worlds[0], chapter.DRIVER_WEIGHTS[0]), "book's seed"]
    nospill = drivers.loc[(worlds[1], chapter.DRIVER_WEIGHTS[0]), "book's seed"]
    assert whole["p ML"] < 0.01 and nospill["p ML"] < 0.01  # the earlier, spurious number


def test_the_band_sweep_cannot_see_the_planted_spillover_on_the_main_panel(book):
    sweeps = chapter.band_sweeps(book)
    numbers = chapter.sweep_numbers(book, sweeps)
    assert numbers["sweep_verdict"].startswith("The design cannot see")
    main, null = sweeps[(chapter.THIS_PANEL, "annular")], sweeps[(chapter.NULL_PANEL, "annular")]
    assert len(main) == 25 and (null["target_indirect"] == 0).all()
    assert np.corrcoef(main["indirect"], null["indirect"])[0, 1] > 0.9  # nearly the same picture
    cumulative = sweeps[(chapter.THIS_PANEL, "cumulative")]
    width = cumulative["ci_high"] - cumulative["ci_low"]
    assert width.iloc[-5:].mean() > 3 * width.iloc[:5].mean()  # intervals widen with the threshold


def test_the_teaching_world_shows_the_signs_and_borrows_beyond_the_planted_bands():
    simulated, table = chapter.strong_world()
    numbers = chapter.strong_numbers(simulated, table)
    assert float(numbers["strong_near"]) < 0 and float(numbers["strong_near_projected"]) < 0
    assert float(numbers["strong_far"]) > 0 and float(numbers["strong_far_projected"]) > 0
    assert int(numbers["strong_far_excludes_zero"]) >= 3
    assert simulated.truth.bound_share() < 0.03  # the floor and guard rarely bind in this world


# ----------------------------------------------------------------------------------------------
# Exercises
# ----------------------------------------------------------------------------------------------

def test_exercise_boundary_solution():
    simulated = simulate_panel(overrides={"effects.spillover.bands_km": [[0, 400, -0.02], [400, 1000, 0.015]],
                                          "effects.homogeneous": True, "outcome.shock.ar1": 0.0})
    table = chapter.sweep(chapter.located(simulated), "annular", vcov="ml")
    near, middle, far = table["high_km"] <= 400, (table["low_km"] >= 400) & (table["high_km"] <= 1000), \
        table["low_km"] >= 1000
    assert table.loc[near, "indirect"].mean() < 0 < table.loc[middle, "indirect"].mean()
    excludes = (table["ci_low"] > 0) | (table["ci_high"] < 0)
    assert (excludes & far).sum() >= far.sum() / 4
    assert table.loc[far, "target_indirect"].abs().mean() > 0.02
    assert table.loc[far, "target_indirect"].mean() < 0  # "this time mostly negative"


def test_exercise_counts_solution(book, sp):
    panel, cities = sp.data, sp.cities
    data = panel.assign(spillover=book.truth.contrast("spillover").to_numpy())
    fits, truths = {}, {}
    for name, rings in (("one", [(0, 800)]), ("three", chapter.RINGS_KM)):
        fits[name] = spatial.ring_did(panel, "Safety", "Dual_policy", cities, rings, controls=CONTROLS)
        truths[name] = spatial.ring_did(data, "spillover", "Dual_policy", cities, rings, controls=CONTROLS)
    term = "exposure_0_800km"
    move = abs(fits["one"].estimate(term) - fits["three"].estimate(term))
    assert move < 0.5 * min(fits["one"].std_error(term), fits["three"].std_error(term))
    truth_move = abs(truths["one"].estimate(term) - truths["three"].estimate(term))
    assert truth_move < 0.2 * abs(truths["three"].estimate(term))
    for name in fits:
        assert abs(fits[name].estimate(term) - truths[name].estimate(term)) > move
    exposure = spatial.ring_exposure(panel, cities, "Dual_policy", chapter.RINGS_KM)
    within = pd.concat([panel[["city", "year"]], exposure], axis=1)
    for column in exposure.columns:
        within[column] = (within[column] - within.groupby("city")[column].transform("mean")
                          - within.groupby("year")[column].transform("mean") + within[column].mean())
    correlation = within[exposure.columns].corr()
    assert abs(correlation.iloc[0, 1]) < 0.5 < abs(correlation.iloc[0, 2])
    outer = truths["three"].estimate("exposure_1400_2000km")
    assert abs(outer) < 0.25 * abs(truths["three"].estimate(term))


def test_exercise_moran_solution(sp):
    strong_sp = chapter.located(simulate_panel(overrides=chapter.STRONG_OVERRIDES))

    def significant_years(panel_sp, w):
        fit = spatial.spatial_durbin(panel_sp.data, "Safety", chapter.X, w, durbin=[], fix_rho=0.0, draws=2)
        return int((spatial.moran_by_period(fit.residuals, "residual", w)["p_value"] < 0.05).sum())

    band = significant_years(strong_sp, spatial.distance_band_weights(strong_sp.cities, 0, 800))
    squared = significant_years(strong_sp, spatial.inverse_distance_weights(strong_sp.cities, power=2))
    economic = significant_years(strong_sp, chapter.weight_matrices(strong_sp, as_frame=False)["economic-geographic"])
    on_book = significant_years(sp, spatial.distance_band_weights(sp.cities, 0, 800))
    assert band > squared > economic and band > on_book
