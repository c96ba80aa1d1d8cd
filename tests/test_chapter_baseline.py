"""The baseline chapter (notebooks/baseline.md): every claim its prose and its exercises' solutions
make is checked here against the computation it rests on.

The evidence tables run over the chapter's seeds and null worlds; they read the same Monte Carlo
cache as the chapter ($CITYPILOTS_CACHE), so after a build these tests are quick.
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
import pytest

from citypilots.chapters import baseline
from citypilots.data.panel import CONTROLS
from citypilots.estimators import did
from citypilots.report import evidence
from citypilots.simulation.generator import simulate_panel
from citypilots.simulation.montecarlo import replicate
from citypilots.simulation.specification import load_spec, null_world

N_JOBS = 2


@pytest.fixture(scope="module")
def book():
    return simulate_panel()


@pytest.fixture(scope="module")
def table2(book):
    return baseline.table2(book, n_jobs=N_JOBS).attrs["numbers"]


@pytest.fixture(scope="module")
def synergy(book):
    return baseline.synergy_table(book, n_jobs=N_JOBS).attrs["numbers"]


@pytest.fixture(scope="module")
def table3(book):
    return baseline.table3(book, n_jobs=N_JOBS).attrs["numbers"]


@pytest.fixture(scope="module")
def robust(book):
    return baseline.robust_table(book, n_jobs=N_JOBS)


@pytest.fixture(scope="module")
def event_study(book):
    return baseline.event_study_table(book, n_jobs=N_JOBS).attrs["numbers"]


@pytest.fixture(scope="module")
def worlds():
    return baseline.twfe_worlds(n_jobs=N_JOBS)


def bias(worlds: pd.DataFrame, label: str) -> float:
    group = [g for g in worlds.columns.get_level_values(0) if g.startswith("Over")][0]
    return float(worlds.loc[label, (group, "bias")])


# ----------------------------------------------------------------------------------------------
# The building block
# ----------------------------------------------------------------------------------------------

def test_most_cities_of_the_clean_two_by_two_held_their_first_pilot_in_the_year_before(book):
    design = baseline.two_by_two_designs(book)["clean"]
    cities = book.cities.set_index("adcode").loc[design["treated"]]
    held = (cities["innovation_year"] <= design["before"]) | (cities["smart_year"] <= design["before"])
    assert held.mean() > 0.5


def test_exercise_two_by_two_equals_the_regression(book):
    """Exercise ex-baseline-two-by-two: the 2x2 cell and the TWFE coefficient agree."""
    panel = book.data
    design = baseline.two_by_two_designs(book)["clean"]
    cities = design["treated"] + design["control"]
    sample = panel[panel["city"].isin(cities) & panel["year"].isin([design["before"], design["after"]])].copy()
    sample["treated_after"] = (sample["city"].isin(design["treated"]) & (sample["year"] == design["after"])).astype(int)
    table = did.two_by_two(panel, "Safety", **design)
    assert did.twfe(sample, "Safety", "treated_after").estimate() == pytest.approx(
        table.loc["treated - control", "change"], abs=1e-10)


def test_building_blocks_recover_the_difference_of_the_effect_changes(book):
    """The forbidden comparison's target is the treated change minus the control cities' own
    (non-zero, growing) change; the clean one's control change is zero."""
    blocks = baseline.building_blocks(book)
    clean, forbidden = blocks.index
    assert blocks.loc[clean, "control cities' effect change"] == 0
    assert blocks.loc[forbidden, "control cities' effect change"] < 0  # the synergy still ramping up
    assert blocks["difference of the changes"].to_numpy() == pytest.approx(
        (blocks["treated cities' effect change"] - blocks["control cities' effect change"]).to_numpy(), abs=2e-3)


# ----------------------------------------------------------------------------------------------
# Table 2 and columns 1-2
# ----------------------------------------------------------------------------------------------

def test_table2_column2_significance_is_not_evidence_by_itself(table2):
    column2 = table2["(2) Dual_policy, controls"]
    assert column2["null_rejection_rate"] >= 0.15  # well above the 5% a test should have
    assert column2["rejection_rate"] == 1.0


def test_column2_null_world_rejections_come_from_the_other_policies():
    """The prose: other policies reaching the larger (dual-pilot) cities make column 2 reject in
    the null world; with them switched off too it rejects at about the nominal rate."""
    other = {f"effects.other_policies.{name}": 0.0 for name in load_spec()["other_policies"]}
    label = "(2) Dual_policy, controls"
    rows = replicate(functools.partial(evidence._flat, baseline.table2_measure, (label,)), seeds=baseline.SEEDS,
                     overrides={**null_world("dual_vs_none"), **other}, n_jobs=N_JOBS, progress=False)
    assert (rows[f"{label}|p_value"] < 0.05).mean() <= 0.10


def test_columns_1_and_2_r_squared(book):
    table = baseline.columns_1_and_2(book)
    r2 = table[("This book", "R2")]
    assert r2["pooled OLS, no controls"] < 0.01
    assert r2["city and year effects, no controls (column 1)"] > 0.5  # cannot be the paper's 0.002
    within = table[("This book", "within R2")]
    paper_r2 = float(table.loc["city and year effects, no controls (column 1)", ("Paper", "R2")])
    assert within["city and year effects, six controls (column 2)"] > within["city and year effects, no controls (column 1)"] > paper_r2


# ----------------------------------------------------------------------------------------------
# The estimands and the synergy
# ----------------------------------------------------------------------------------------------

def test_the_papers_dual_effect_is_smaller_than_the_sum_of_its_single_effects(book, table2):
    numbers = baseline.one_plus_one(book, table2)
    assert numbers["paper_excess"] > 0
    assert numbers["paper_dual"] == pytest.approx(-0.698)


def test_second_pilot_given_the_first_contains_the_second_pilots_own_effect(book):
    estimands = baseline.estimands(book)["realised, dual-pilot city-years"]
    assert estimands["the second pilot given the first"] < estimands["the synergy (one plus one exceeds two)"]


def test_synergy_regression_is_biased_and_rejects_in_the_null_world(synergy):
    dual = synergy[baseline.SYNERGY_LABEL]
    assert dual["seed_mean"] < dual["seed_truth"] - 0.1  # biased away from zero
    assert dual["null_rejection_rate"] >= 0.15  # a significant interaction is weak evidence


# ----------------------------------------------------------------------------------------------
# Table 3
# ----------------------------------------------------------------------------------------------

def test_the_order_test_has_almost_no_power(table3):
    difference = table3["A: vs non-pilot, innovation first minus smart first"]
    assert difference["rejection_rate"] <= 0.25
    assert abs(difference["null_estimate"]) >= abs(difference["seed_truth"])  # composition moves it as much
    assert difference["truth"] == pytest.approx(table3["A: vs non-pilot, innovation first"]["truth"]
                                                - table3["A: vs non-pilot, smart first"]["truth"])
    spec = load_spec()["effects"]["dual"]["sequence"]
    assert spec["innovation_first"] > spec["smart_first"]


# ----------------------------------------------------------------------------------------------
# Like with like
# ----------------------------------------------------------------------------------------------

def test_targets_lie_between_dual_vs_none_and_the_year_before(book):
    targets = baseline.robust_targets(book)
    assert targets["dual_vs_none"] < targets["pre_average"] < targets["year_before"] < 0


def test_covariates_make_never_pilot_cities_a_better_comparison(robust):
    numbers = robust.attrs["numbers"]
    assert numbers["imputation, no covariates"]["null_rejection_rate"] > numbers["imputation, six covariates"]["null_rejection_rate"]
    assert numbers["TWFE, no controls"]["null_rejection_rate"] > numbers["TWFE, six controls (column 5)"]["null_rejection_rate"]
    doubly_robust = numbers["Callaway-Sant'Anna, doubly robust, six covariates"]["seed_sd"]
    assert doubly_robust == max(n["seed_sd"] for n in numbers.values())  # the noisiest


def test_doubly_robust_propensity_scores_are_weakly_identified(book):
    diagnostics = baseline.propensity_diagnostics(book)
    assert 0 < diagnostics["ps_low_cells"] <= diagnostics["ps_cells"]
    assert diagnostics["ps_separation"] == 1


def test_the_gap_between_imputation_and_callaway_santanna(book, robust):
    gap = baseline.imputation_cs_gap(robust.attrs["numbers"], book)
    parts = gap[["targets differ (realised)", "trends differ (null world)", "rest"]].sum(axis=1)
    assert parts.to_numpy() == pytest.approx(gap["imputation - Callaway-Sant'Anna"].to_numpy(), abs=2e-3)
    without = gap.loc["no covariates"]
    assert abs(without["rest"]) < 0.25 * abs(without["imputation - Callaway-Sant'Anna"])  # "noise"
    assert abs(gap.loc["six covariates", "trends differ (null world)"]) > abs(without["trends differ (null world)"])


def test_callaway_santanna_simple_aggregation_weights_every_treated_city_year_equally(book):
    sample = baseline.robust_sample(book)
    cells = did.att_gt(sample, "Safety", "city", "year", "dual_year")
    post = cells.table[cells.table["time"] >= cells.table["group"]]
    size = sample.groupby("city")["dual_year"].first().value_counts()
    weights = post["group"].map(size).astype(float)
    assert cells.aggregate("simple").estimate() == pytest.approx(
        float((weights * post["estimate"]).sum() / weights.sum()), abs=1e-10)


# ----------------------------------------------------------------------------------------------
# The event study
# ----------------------------------------------------------------------------------------------

def test_the_realised_path_lies_above_zero_in_most_years_before_adoption(book):
    path = baseline.realised_path(book.truth)
    leads = path.loc[baseline.EVENT_WINDOW[0]:-2]
    assert (leads > 0).mean() > 0.5


def test_event_study_evidence(event_study):
    average = event_study[baseline.EVENT_STUDY_HEADLINES[0]]
    assert np.isfinite(average["truth"]) and average["null_rejection_rate"] <= 0.1


# ----------------------------------------------------------------------------------------------
# Forbidden comparisons and negative weights
# ----------------------------------------------------------------------------------------------

def test_clean_comparisons_dominate_the_bacon_decomposition(book):
    bacon = did.bacon_decomposition(baseline.robust_sample(book), "Safety", "city", "year", "dual_year")
    numbers = baseline.bacon_numbers(bacon)
    assert numbers["bacon_clean_weight"] > 0.5
    assert abs(numbers["bacon_twfe"] - numbers["bacon_clean_estimate"]) < abs(
        numbers["bacon_twfe"] - numbers["bacon_forbidden_estimate"])


def test_exercise_negative_weights_fall_on_long_treated_city_years(book):
    """Exercise ex-baseline-weights: every negative weight of the dual-only sample is in a year
    when every dual-pilot city is treated, in a cohort earlier than the last."""
    panel = book.data
    weights = did.twfe_weights(panel[panel["dual_year"].notna()], "Safety", "Dual_policy")
    negative = weights.table.merge(panel[["city", "year", "dual_year"]]).query("weight < 0")
    last_cohort = int(panel["dual_year"].max())
    assert len(negative) > 0
    assert (negative["year"] >= last_cohort).all() and (negative["dual_year"] < last_cohort).all()
    table = baseline.negative_weights(book)
    assert table.loc["dual-pilot cities only (not-yet-treated controls)", "negative weights"] == len(negative)


# ----------------------------------------------------------------------------------------------
# One line under which TWFE is fine
# ----------------------------------------------------------------------------------------------

def test_the_synergys_dynamics_do_not_explain_the_bias(worlds):
    book_bias = bias(worlds, "the book's world")
    for label in ("synergy from the dual-pilot year", "synergy at full level at once",
                  "same synergy share in every city", "no moderation by SR"):
        assert abs(bias(worlds, label) - book_bias) < 0.05, label


def test_dual_pilot_cities_no_larger_is_the_one_line(worlds):
    group = [g for g in worlds.columns.get_level_values(0) if g.startswith("Over")][0]
    best = worlds[(group, "bias")].abs().idxmin()
    assert best == "dual-pilot cities no larger than other pilots"
    book_bias = abs(bias(worlds, "the book's world"))
    assert abs(bias(worlds, best)) < 0.05
    for label in ("no other policies", "single pilots do nothing", "constant effects in deaths"):
        assert abs(bias(worlds, best)) < abs(bias(worlds, label)) < book_bias, label
    truths = worlds[(group, "realised synergy")]
    assert abs(truths[best]) < abs(truths["the book's world"])


def test_single_pilot_effects_are_larger_in_the_larger_dual_pilot_cities(book):
    diagnosis = baseline.synergy_diagnosis(book)
    assert (diagnosis["dual-pilot city-years"] - diagnosis["single-pilot city-years"]).loc[
        ["Innovative City pilot's own effect", "Smart City pilot's own effect"]].lt(0).all()
    assert diagnosis.loc["deaths without any pilot", "dual-pilot city-years"] > diagnosis.loc[
        "deaths without any pilot", "single-pilot city-years"]


def test_the_synergy_grows_with_time_since_adoption_and_differs_across_cohorts(book):
    table = baseline.synergy_by_event_time(book)
    delay = load_spec()["effects"]["dual"]["delay"]
    for cohort in table.columns:
        path = table[cohort].dropna()
        if path.index.max() > delay:
            assert path.iloc[-1] < path.loc[0] - 0.05, cohort
    full = table.dropna(axis=1, subset=[4]).loc[4]
    assert full.max() - full.min() > 0.05


def test_exercise_size_world(book, worlds):
    """Exercise ex-baseline-size: in that world each pilot's own effect is no larger in the
    dual-pilot city-years than in the single-pilot cities, which have at least as many deaths."""
    label = "dual-pilot cities no larger than other pilots"
    smaller = baseline.world_panel(label)
    measured = baseline.synergy_measure(smaller)[baseline.SYNERGY_LABEL]
    assert measured["estimate"] == pytest.approx(worlds.loc[label, ("Book's seed", "estimate")], abs=5e-4)
    diagnosis = baseline.synergy_diagnosis(smaller)
    gap = diagnosis["dual-pilot city-years"] - diagnosis["single-pilot city-years"]
    assert (gap.loc[["Innovative City pilot's own effect", "Smart City pilot's own effect"]] >= 0).all()
    assert gap.loc["deaths without any pilot"] <= 0


def test_exercise_base_periods(book):
    """Exercise ex-baseline-base-period: same post cells and overall ATT; each varying pre-period
    cell is the universal cell minus the universal cell of the year before."""
    sample = baseline.robust_sample(book)
    varying = did.att_gt(sample, "Safety", "city", "year", "dual_year", base_period="varying")
    universal = did.att_gt(sample, "Safety", "city", "year", "dual_year", base_period="universal")
    assert varying.aggregate("simple").estimate() == pytest.approx(universal.aggregate("simple").estimate(), abs=1e-12)
    v = varying.table.set_index(["group", "time"])["estimate"]
    u = universal.table.set_index(["group", "time"])["estimate"]
    for (group, time), value in v.items():
        if time >= group:
            assert value == pytest.approx(u[(group, time)], abs=1e-12)
        elif (group, time - 1) in u.index:
            assert value == pytest.approx(u[(group, time)] - u[(group, time - 1)], abs=1e-10)


def test_exercise_delay_zero_moves_the_coefficients_with_the_realised_path(book):
    """Exercise ex-baseline-delay: the coefficients move where the two synergy paths differ, by
    about as much as the realised path; the leads and the years after the ramp hardly move."""
    early = simulate_panel(overrides={"effects.dual.delay": 0})
    window = baseline.EVENT_WINDOW
    before = did.event_study(book.data, "Safety", cohort="dual_year", controls=CONTROLS, window=window).table
    after = did.event_study(early.data, "Safety", cohort="dual_year", controls=CONTROLS, window=window).table
    moved = after["estimate"] - before["estimate"]
    path_moved = baseline.realised_path(early.truth) - baseline.realised_path(book.truth)
    assert (moved - path_moved).abs().max() < 0.03
    dual = load_spec()["effects"]["dual"]
    last_differing = dual["delay"] + dual["ramp_years"] - 2
    assert path_moved.loc[0:last_differing].lt(-0.05).all()
    assert moved.loc[:-1].abs().max() < 0.03 and moved.loc[last_differing + 1:].abs().max() < 0.03


# ----------------------------------------------------------------------------------------------
# The shared evidence table: null worlds given as overrides, shared runs
# ----------------------------------------------------------------------------------------------

def test_evidence_null_worlds_may_be_overrides_and_equal_worlds_share_one_run(book, monkeypatch, tmp_path):
    monkeypatch.setenv("CITYPILOTS_CACHE", str(tmp_path))
    calls = []
    original = evidence.replicate

    def counting(fn, **kwargs):
        calls.append(kwargs.get("overrides"))
        return original(fn, **kwargs)

    monkeypatch.setattr(evidence, "replicate", counting)
    table = evidence.evidence_table(baseline.synergy_measure, book,
                                    {baseline.SYNERGY_LABEL: "dual_vs_none",
                                     "Innova_policy: the Innovative City pilot": "second_given_first",
                                     "Smart_policy: the Smart City pilot": {"effects.smart_single": 0.0}},
                                    seeds=[1, 2])
    assert len(calls) == 3  # the seeds, one shared run for the two equal named worlds, the dict
    numbers = table.attrs["numbers"]
    nulled = simulate_panel(overrides={"effects.smart_single": 0.0})
    assert numbers["Smart_policy: the Smart City pilot"]["null_estimate"] == pytest.approx(
        baseline.synergy_measure(nulled)["Smart_policy: the Smart City pilot"]["estimate"], abs=1e-12)


# ----------------------------------------------------------------------------------------------
# What the one-dummy regressions leave out
# ----------------------------------------------------------------------------------------------

def test_each_cells_parts_add_up_to_the_papers_regression(book, table2, table3):
    by_cell = baseline.contamination_by_cell(book)
    for label, regression in baseline._PAPER_REGRESSION.items():
        paper = table2.get(regression) or table3[regression]
        row = by_cell.loc[label]
        assert row["TWFE coefficient"] == pytest.approx(paper["estimate"], abs=1e-8)
        assert row["realised truth"] == pytest.approx(paper["truth"], abs=1e-12)
        parts = row["own effect"] + row["left-out pilot's effects"] + row["untreated outcome"]
        assert parts == pytest.approx(row["TWFE coefficient"], abs=1e-10)
    # The left-out pilot's weights need not sum to zero: its effects bias the coefficient even if
    # constant (in Table 2's single-pilot columns and Table 3's panel A, they sum to well above 0.1).
    assert (by_cell["weight on the left-out pilot"].iloc[:4].abs() > 0.1).all()


def test_clean_samples_hold_only_city_years_untreated_in_the_estimands_sense(book):
    groups = baseline.city_groups(book)
    orders = baseline.city_orders(book)
    single = baseline.cell_samples(book, "Table 2 (3): Innovative City single pilot")["clean"]
    assert set(single["city"].map(groups)) == {"innovation only", "none"}
    panel_a = baseline.cell_samples(book, "Table 3 A: smart first vs non-pilot")["clean"]
    assert panel_a["first_pilot_only"].sum() == 0
    assert set(panel_a["city"].map(groups)) == {"dual", "none"}
    assert set(panel_a.loc[panel_a["city"].map(groups).eq("dual"), "city"].map(orders)) == {"smart first"}
    panel_b = baseline.cell_samples(book, "Table 3 B: innovation first vs single-pilot")["clean"]
    assert (panel_b["holds_a_pilot"] == 1).all()
    assert set(panel_b["city"].map(groups)) == {"dual", "innovation only"}
    assert (panel_b["Innova_policy"] == 1).all()  # untreated here means: the first pilot only


def test_on_a_real_panel_the_cells_show_weights_without_a_decomposition(book):
    from types import SimpleNamespace

    real = SimpleNamespace(data=book.data, cities=book.cities, truth=None)
    by_cell = baseline.contamination_by_cell(real)
    assert list(by_cell.columns) == ["TWFE coefficient", "weight on the left-out pilot"]
    assert all(value["truth"] is None or np.isnan(value["truth"])
               for value in baseline.contamination_free_measure(real).values())
