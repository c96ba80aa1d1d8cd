"""The estimator Monte Carlo chapter: its measure, its truths, its summary and its exercises.

Claims about targets are checked on a few panels (targets hardly vary from panel to panel);
claims about noise use the chapter's own computed verdicts (citypilots.chapters.montecarlo.verdicts),
whose logic is tested here on small runs.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest

from citypilots.chapters import montecarlo as mc
from citypilots.estimators import fast
from citypilots.report.datasource import chapter_data
from citypilots.simulation.generator import simulate_panel

PANELS = 6


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """A private cache for the small runs of these tests."""
    folder = tmp_path_factory.mktemp("mc-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CITYPILOTS_CACHE", str(folder))
        yield folder


@pytest.fixture(scope="module")
def small_run(cache):
    return mc.summary(mc.monte_carlo(panels=PANELS, n_jobs=1))


def test_callaway_santanna_and_sun_abraham_target_the_change_since_the_year_before():
    simulated = simulate_panel(seed=3, overrides=mc.WORLDS["b"].overrides)
    measured = mc.estimator_measure(simulated)
    change = simulated.truth.change_since("dual_vs_none", reference=-1)
    assert abs(measured["Callaway-Sant'Anna|target"] - change) < 1e-10
    assert abs(measured["Sun-Abraham|target"] - change) < 1e-10
    assert measured["ATT"] == simulated.truth.dual_vs_none()
    # the estimator minus its own target is the estimator applied to the untreated outcomes
    rows = mc.sample_rows(simulated)
    design = fast.BalancedDesign.from_long(simulated.data[rows], "city", "year", "dual_year")
    untreated = design.matrix(simulated.truth.potential_outcomes["Safety_none"].to_numpy()[rows])
    for label, estimator in fast.ESTIMATORS.items():
        error = measured[f"{label}|estimate"] - measured[f"{label}|target"]
        assert abs(error - estimator(design, untreated).estimate()) < 1e-9, label


def test_in_world_a_every_target_is_the_att():
    simulated = simulate_panel(seed=4, overrides=mc.WORLDS["a"].overrides)
    measured = mc.estimator_measure(simulated)
    for label in fast.ESTIMATORS:
        assert abs(measured[f"{label}|target"] - measured["ATT"]) < 2e-3, label


def test_the_parallel_trends_worlds_share_their_untreated_outcomes():
    """The chapter: the error around the own target is the same in worlds (a), (b) and (c)."""
    errors = []
    for key in ("a", "b", "c"):
        measured = mc.estimator_measure(simulate_panel(seed=7, overrides=mc.WORLDS[key].overrides))
        errors.append([measured[f"{label}|estimate"] - measured[f"{label}|target"] for label in fast.ESTIMATORS])
    assert np.allclose(errors[0], errors[1], atol=1e-9) and np.allclose(errors[0], errors[2], atol=1e-9)


def test_parallel_trends_hold_in_the_shared_worlds_and_fail_in_the_books(cache):
    """The estimators applied to untreated outcomes: about zero with PARALLEL_TRENDS, negative in (d)."""
    def mean_error(overrides):
        values = []
        for seed in range(101, 125):
            simulated = simulate_panel(seed=seed, overrides=overrides)
            rows = mc.sample_rows(simulated)
            design = fast.BalancedDesign.from_long(simulated.data[rows], "city", "year", "dual_year")
            untreated = design.matrix(simulated.truth.potential_outcomes["Safety_none"].to_numpy()[rows])
            values.append([estimator(design, untreated).estimate() for estimator in fast.ESTIMATORS.values()])
        values = np.array(values)
        return values.mean(axis=0), values.std(axis=0, ddof=1) / np.sqrt(len(values))
    mean, se = mean_error(mc.WORLDS["b"].overrides)
    assert np.all(np.abs(mean) < 3 * se + 0.01), mean
    mean, se = mean_error(mc.WORLDS["d"].overrides)
    assert np.all(mean + 3 * se < 0), mean
    # the chapter: largest for TWFE and imputation, smallest for the stacked DID
    labels = list(fast.ESTIMATORS)
    assert min(-mean[labels.index("TWFE")], -mean[labels.index("imputation")]) > -mean[labels.index("stacked")]


def test_a_real_panel_has_estimates_but_no_truths(tmp_path, monkeypatch):
    from citypilots.data.panel import to_csv

    path = tmp_path / "panel.csv"
    to_csv(simulate_panel().data, path)
    monkeypatch.setenv("CITYPILOTS_PANEL", str(path))
    book = chapter_data()
    measured = mc.estimator_measure(book)
    assert all(math.isnan(measured[f"{label}|target"]) for label in fast.ESTIMATORS)
    assert math.isnan(measured["ATT"]) and not math.isnan(measured["TWFE|estimate"])
    table = mc.estimates_on_panel(book)
    assert table["own target"].isna().all() and table["estimate"].notna().all()
    assert "real panel" in mc.describe_panel(book)


def test_estimates_on_the_panel_match_the_fast_estimators():
    simulated = simulate_panel(seed=9)
    book = chapter_data(seed=9)
    measured = mc.estimator_measure(simulated)
    table = mc.estimates_on_panel(book)
    for label in fast.ESTIMATORS:
        assert abs(table.loc[label, "estimate"] - round(measured[f"{label}|estimate"], 3)) < 1e-12
        assert abs(table.loc[label, "own target"] - round(measured[f"{label}|target"], 3)) < 1e-12


def test_summary_and_its_table(small_run):
    table = small_run
    assert len(table) == len(mc.WORLDS) * len(fast.ESTIMATORS)
    assert set(table.attrs["panels"].values()) == {PANELS}
    shown = mc.summary_table(table)
    assert list(shown.columns) == list(mc.SUMMARY_COLUMNS)
    row = table.loc[(mc.WORLDS["b"].label, "Callaway-Sant'Anna")]
    assert abs(row["bias vs ATT"] - (row["bias"] + row["target - ATT"])) < 1e-12
    assert 0 <= row["coverage"] <= 1
    # Callaway-Sant'Anna and Sun-Abraham: same estimates, same targets
    cs, sa = (table.xs(label, level="estimator") for label in ("Callaway-Sant'Anna", "Sun-Abraham"))
    assert np.allclose(cs["mean estimate"], sa["mean estimate"]) and np.allclose(cs["target"], sa["target"])


def test_verdicts_follow_the_numbers(small_run):
    table = small_run.copy()
    out = mc.verdicts(table)
    assert set(out) >= {"abc_bias_verdict", "abc_max_bias", "d_bias_min", "d_bias_largest"}
    forced = table.copy()
    key = (mc.WORLDS["a"].label, "stacked")
    forced.loc[key, "bias"], forced.loc[key, "bias MC s.e."] = 1.0, 0.1
    assert mc.verdicts(forced)["abc_bias_verdict"].endswith("except for stacked")
    forced["bias"] = 0.0
    assert mc.verdicts(forced)["abc_bias_verdict"] == "within two Monte Carlo standard errors of zero"
    book = forced.xs(mc.WORLDS["d"].label, level="world", drop_level=False).index
    forced.loc[book, "bias"] = [-0.3, -0.2, -0.2, -0.1, -0.05]
    out = mc.verdicts(forced)
    assert (out["d_bias_min"], out["d_bias_max"]) == (-0.3, -0.05)
    assert (out["d_bias_largest"], out["d_bias_smallest"]) == ("TWFE", "stacked")


def test_estimator_weights_and_cohort_weights():
    weights = mc.estimator_weights()
    post = weights[weights["event_time"] >= 0].groupby("estimator")["weight"].sum()
    assert np.allclose(post, 1)
    assert np.allclose(weights.groupby("estimator")["weight"].sum(), 0, atol=1e-12)
    cohorts = mc.cohort_weights(weights, decimals=12)
    assert np.allclose(cohorts["Callaway-Sant'Anna"], cohorts["share of dual city-years"])
    assert np.allclose(cohorts["imputation"], cohorts["share of dual city-years"])
    # The chapter: TWFE gives the first cohort less than its share; no TWFE weight on a dual city-year is negative.
    assert cohorts["TWFE"].iloc[0] < cohorts["share of dual city-years"].iloc[0]
    twfe = weights[(weights["estimator"] == "TWFE") & (weights["event_time"] >= 0)]
    assert twfe["weight"].min() > 0
    first = twfe[twfe["cohort"] == twfe["cohort"].min()].sort_values("event_time")["weight"].to_numpy()
    assert first[-1] < first[0] and np.all(np.diff(first) <= 1e-12)  # falls with years since adoption
    # The stacked DID puts no weight on the cohort it trims, CS the whole pre-period weight on -1.
    stacked = weights[weights["estimator"] == "stacked"]
    assert np.allclose(stacked.loc[stacked["cohort"] == 2022, "weight"], 0)
    cs = weights[(weights["estimator"] == "Callaway-Sant'Anna") & (weights["event_time"] < -1)]
    assert np.allclose(cs["weight"], 0)
    figure = mc.weights_figure(weights)
    assert len(figure.axes) == 2 * len(fast.ESTIMATORS)


def test_estimators_that_use_every_untreated_year_are_the_most_precise():
    """The chapter's reading of the RMSE ranking, from the weights alone: with independent noise
    of equal variance the variance of an estimate is proportional to the sum of its squared
    weights, smallest for TWFE and imputation, largest for the stacked DID."""
    design = mc.design_of()
    squares = {label: float((fast.weights(design, label) ** 2).sum()) for label in fast.ESTIMATORS}
    assert max(squares["TWFE"], squares["imputation"]) < squares["Callaway-Sant'Anna"] < squares["stacked"]


def test_worlds_table_names_every_override():
    table = mc.worlds_table()
    assert list(table.index) == [world.label for world in mc.WORLDS.values()]
    assert "PARALLEL_TRENDS" in table.loc[mc.WORLDS["c"].label, "overrides"]
    assert "dual_by_cohort" in table.loc[mc.WORLDS["c"].label, "overrides"]
    assert table.loc[mc.WORLDS["d"].label, "overrides"].startswith("none")


def test_cohort_multipliers_reach_the_effects():
    simulated = simulate_panel(seed=2, overrides=mc.WORLDS["c"].overrides)
    effect = simulated.truth.contrast("dual_vs_none")
    status = simulated.truth.status
    dual_year = simulated.data["dual_year"]
    by_cohort = effect[status["Dual_policy"] == 1].groupby(dual_year[status["Dual_policy"] == 1]).mean()
    plain = simulate_panel(seed=2, overrides=mc.WORLDS["a"].overrides)
    base = plain.truth.contrast("dual_vs_none")[status["Dual_policy"] == 1].mean()
    mediated = base - (-0.20)  # the homogeneous dual size; the mediated part is not multiplied
    for year, multiple in mc.COHORT_MULTIPLIERS.items():
        assert abs(by_cohort[year] - (-0.20 * multiple + mediated)) < 0.01, year


def test_the_default_world_is_unchanged_by_the_cohort_key():
    from citypilots.simulation.specification import load_spec

    assert load_spec()["effects"]["dual_by_cohort"] == {}
    a = simulate_panel(seed=1)
    b = simulate_panel(seed=1, overrides={"effects.dual_by_cohort": {}})
    assert a.data.equals(b.data)


def test_bias_coverage_figure(small_run):
    figure = mc.bias_coverage_figure(small_run)
    assert len(figure.axes) == 2 * len(mc.WORLDS)


# ----------------------------------------------------------------------------------------------
# The exercises' solutions
# ----------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def answers(cache):
    return mc.exercise_answers(panels=mc.EXERCISE_PANELS, n_jobs=1)


def test_exercise_delay_stacked_moves_closest_to_callaway_santanna(answers):
    assert answers["delay_gap_after"] < answers["delay_gap_before"] / 3
    table = mc.summary(mc.monte_carlo({"delay": mc.EXERCISE_WORLDS["delay"]}, panels=mc.EXERCISE_PANELS, n_jobs=1))
    target = table["target"].droplevel("world")
    distance = (target - target["Callaway-Sant'Anna"]).abs().drop(["Callaway-Sant'Anna", "Sun-Abraham"])
    assert distance.idxmin() == "stacked"
    assert answers["delay_full"] == 3


def test_exercise_single_base_period_closes_the_robust_gaps(answers):
    assert answers["single_gap_robust"] < 0.005
    assert answers["single_gap_twfe"] > 0.02 and answers["single_gap_stacked"] > 0.02  # smaller in size than the ATT


def test_exercise_negative_weights_without_never_pilot_cities(answers):
    negative = mc.negative_twfe_weights()
    assert set(negative["year"]) == {2022, 2023}
    assert set(negative["cohort"]) == {2013, 2015}
    assert answers["negative"] == "event times 9 and 10 of the 2013 cohort and event times 7 and 8 of the 2015 cohort"
    assert answers["negative_years"] == "2022 and 2023"
    design = mc.design_of(groups=("dual",))
    with pytest.raises(Exception, match="never-treated"):
        fast.callaway_santanna(design, np.zeros((len(design.units), len(design.periods))))


def test_exercise_reverse_twfe_and_stacked_miss_in_opposite_directions(answers):
    assert answers["reverse_twfe"] < answers["reverse_att"] - 0.02  # larger in size
    assert answers["reverse_stacked"] > answers["reverse_att"] + 0.005  # smaller in size
    assert 1.5 < answers["reverse_last_ratio"] < 2.5  # "about twice"
