"""The robustness chapter (citypilots.chapters.robustness) and the claims its prose and exercises make.

1. Each table's measure reads every estimate as the estimand its docstring states, computed
   from the potential outcomes independently here; the tables' columns are what their headers
   say; the first-stage statistics and the matched sample's counts are what the text quotes.
2. Claims of the prose that rest on a computation the chapter does not show: where the bias of
   the listing's coefficient comes from, why the lagged-outcome regression is biased when
   nothing acts, and that the listing check uses the right untreated outcome.
3. Every exercise's solution, executed: each test states the claim it checks.
"""

from __future__ import annotations

import math
import os

import numpy as np
import pytest

from citypilots.chapters import robustness as chapter
from citypilots.data.panel import CONTROLS
from citypilots.data.samples import adoption_order, pilot_groups
from citypilots.estimators import bootstrap, did, instruments, placebo, pretrends
from citypilots.estimators.robustness import shift_within_unit
from citypilots.report.glue import NO_TRUTH
from citypilots.simulation import montecarlo
from citypilots.simulation.generator import simulate_panel
from citypilots.simulation.specification import null_world


@pytest.fixture(scope="module", autouse=True)
def cache_in(tmp_path_factory):
    """Monte Carlo runs of these tests go to a fresh cache, not the book's."""
    before = os.environ.get(montecarlo.CACHE_VARIABLE)
    os.environ[montecarlo.CACHE_VARIABLE] = str(tmp_path_factory.mktemp("montecarlo"))
    yield
    if before is None:
        del os.environ[montecarlo.CACHE_VARIABLE]
    else:
        os.environ[montecarlo.CACHE_VARIABLE] = before


@pytest.fixture(scope="module")
def book():
    return simulate_panel()


class RealPanel:
    """The simulated panel as a reader's real panel looks: the same data, no truth."""

    def __init__(self, simulated):
        self.data, self.cities, self.truth = simulated.data, simulated.cities, None
        self.source = "the real panel in panel.csv"


def mean_over(values, rows) -> float:
    values = np.asarray(values, dtype=float)[np.asarray(rows)]
    return float(values[~np.isnan(values)].mean())


# ----------------------------------------------------------------------------------------------
# 1. Measures, tables and texts
# ----------------------------------------------------------------------------------------------

def test_prepare_panel_adds_the_columns_the_checks_use(book):
    panel = chapter.prepare_panel(book)
    assert (panel["dual_city"] == panel["dual_year"].notna()).all()
    later = panel.set_index(["city", "year"])["Safety"]
    row = panel.iloc[5]
    assert panel["Safety_lead2"].iloc[5] == later[(row["city"], row["year"] + 2)]
    assert panel["Safety_lead2"].isna().sum() == 2 * panel["city"].nunique()
    first = panel[panel["year"] == panel["year"].min()].set_index("city")["universities"]
    np.testing.assert_array_equal(panel["universities_base"], panel["city"].map(first))
    assert (panel["universities_base_x_trend"] == panel["universities_base"] * (panel["year"] - 2008)).all()


def test_inference_measure_reads_each_test_as_its_estimand(book):
    out = chapter.inference_measure(book, placebo_draws=99, bootstrap_reps=199)
    assert tuple(out) == chapter.INFERENCE_ROWS
    truth, data = book.truth, book.data
    po = truth.potential_outcomes
    dual = data["Dual_policy"] == 1
    both_vs_none = float((po["Safety_both"] - po["Safety_none"])[dual].mean())
    for label in chapter.INFERENCE_ROWS[:4]:
        assert out[label]["truth"] == pytest.approx(both_vs_none, abs=1e-12)
    ordered = dual & po["Safety_first_only"].notna()
    assert out[chapter.INFERENCE_ROWS[4]]["truth"] == pytest.approx(
        float((po["Safety_both"] - po["Safety_first_only"])[ordered].mean()), abs=1e-12)
    fit = did.twfe(data, "Safety", "Dual_policy", controls=CONTROLS)
    assert out[chapter.INFERENCE_ROWS[0]]["p_value"] == fit.table.loc["Dual_policy", "p_value"]
    every = placebo.permutation_placebo(data, "Safety", "dual_year", CONTROLS, draws=99, seed=chapter.SEED,
                                        progress=False)
    assert out[chapter.INFERENCE_ROWS[2]]["p_value"] == every.p_value
    assert out[chapter.INFERENCE_ROWS[3]]["p_value"] == every.p_value_t
    assert math.isnan(out[chapter.INFERENCE_ROWS[2]]["ci_low"])  # a placebo has no interval
    pilots = data[data["innovative_year"].notna() | data["smart_year"].notna()]
    assert pilots["city"].nunique() == 116
    assert out[chapter.INFERENCE_ROWS[4]]["estimate"] == pytest.approx(
        did.twfe(pilots, "Safety", "Dual_policy", controls=CONTROLS).estimate(), abs=1e-10)


def test_inference_table_columns_are_what_their_headers_say(book, monkeypatch):
    monkeypatch.setattr(chapter, "PLACEBO_DRAWS", 99)
    monkeypatch.setattr(chapter, "BOOTSTRAP_REPS", 199)
    monkeypatch.setattr(chapter, "SEED_RUN_PLACEBO_DRAWS", 99)
    monkeypatch.setattr(chapter, "SEED_RUN_BOOTSTRAP_REPS", 199)
    seeds = [1, 2]
    table = chapter.inference_table(book, seeds=seeds)
    numbers = table.attrs["numbers"]
    measure = lambda panel: chapter.inference_measure(panel, placebo_draws=99, bootstrap_reps=199)  # noqa: E731
    per_seed = [measure(simulate_panel(seed=seed)) for seed in seeds]
    label = chapter.INFERENCE_ROWS[1]
    assert numbers[label]["rejection_rate"] == np.mean([row[label]["p_value"] < 0.05 for row in per_seed])
    covered = [row[label]["ci_low"] <= row[label]["truth"] <= row[label]["ci_high"] for row in per_seed]
    assert numbers[label]["coverage"] == np.mean(covered)
    # A null world: the book's seed with that effect off (its estimate), and the seeds (the rate).
    synergy_off = measure(simulate_panel(overrides=null_world("synergy")))
    assert numbers[label]["synergy and mediation off|estimate"] == pytest.approx(
        synergy_off[label]["estimate"], abs=1e-12)
    quiet = [measure(simulate_panel(seed=seed, overrides=chapter.no_effect_overrides())) for seed in seeds]
    assert numbers[label]["no policy acts at all|rejection_rate"] == np.mean(
        [row[label]["p_value"] < 0.05 for row in quiet])
    assert table.loc[chapter.INFERENCE_ROWS[2], ("Over 2 seeds", "coverage")] == ""  # no interval, no coverage
    assert table.loc[label, ("This panel", "p-value")].startswith("at most")  # at its floor: a bound


def test_no_effect_world_has_no_effect_at_all():
    quiet = simulate_panel(overrides=chapter.no_effect_overrides())
    truth = quiet.truth
    for name in ("dual_vs_none", "spillover", *truth.other_policies):
        assert truth.estimand(name) == pytest.approx(0.0, abs=1e-12), name


def test_table4_measure_reads_each_column_as_both_pilots_against_neither(book):
    out = chapter.table4_measure(book)
    data, po = book.data, book.truth.potential_outcomes
    contrast = (po["Safety_both"] - po["Safety_none"]).to_numpy()
    dual = data["Dual_policy"].to_numpy() == 1
    assert out["(2) 2SLS, second stage"]["truth"] == pytest.approx(contrast[dual].mean(), abs=1e-12)
    psm = chapter.run_psm(data)
    kept = data.index.isin(psm.sample.index) & dual
    assert out["(3) PSM-DID"]["truth"] == pytest.approx(contrast[kept].mean(), abs=1e-12)
    assert out["(3) PSM-DID"]["estimate"] == psm.result.estimate()
    gdp = np.power(10.0, data["lnGDP"].to_numpy()) / 100
    assert out["(4) deaths per 100 million yuan of GDP"]["truth"] == pytest.approx((contrast / gdp)[dual].mean(),
                                                                                   abs=1e-12)


def test_table5_measure_reads_each_policy_as_its_own_effect_and_column_5_two_years_on(book):
    out = chapter.table5_measure(book)
    data, truth = book.data, book.truth
    po = truth.potential_outcomes
    for policy in chapter.OTHER_POLICIES:
        listed = data[policy] == 1
        expected = float((po["Safety_both"] - po[f"Safety_without_{policy}"])[listed].mean())
        assert out[f"(4) + all three: {policy}"]["truth"] == pytest.approx(expected, abs=1e-12)
    # Column 5: the contrast of the same city two years later, over dual-pilot city-years.
    contrast = (po["Safety_both"] - po["Safety_none"]).to_numpy()
    lookup = dict(zip(zip(data["city"], data["year"]), contrast))
    later = [lookup.get((city, year + 2), np.nan) for city, year in zip(data["city"], data["year"])]
    assert out[chapter.LAG_ROW]["truth"] == pytest.approx(mean_over(later, data["Dual_policy"] == 1), abs=1e-12)
    lagged = data.assign(lead=shift_within_unit(data, "Safety", 2)).dropna(subset=["lead"])
    assert out[chapter.LAG_ROW]["estimate"] == did.twfe(lagged, "lead", "Dual_policy", controls=CONTROLS).estimate()


def test_table4_and_table5_put_the_paper_and_the_null_world_in_the_right_rows(book):
    table4 = chapter.table4(book, seeds=[1])
    assert table4.loc["(3) PSM-DID", ("Paper", "estimate")] == "−0.679*"
    assert table4.loc["(2) 2SLS, second stage", ("Null world", "switched off")] == "both pilots' effects"
    table5 = chapter.table5(book, seeds=[1])
    assert table5.loc["(3) + supervised listing: Supervision", ("Paper", "estimate")] == "−0.133***"
    assert table5.loc["(4) + all three: Broadband_China", ("Paper", "estimate")] == "−0.067"
    assert table5.loc[chapter.LAG_ROW, ("Paper", "estimate")] == "−0.542***"
    assert table5.loc["(1) + Made in China 2025: Made_in_China_2025", ("Null world", "switched off")] == \
        "Made in China 2025's effect"
    numbers = table5.attrs["numbers"]["(3) + supervised listing: Supervision"]
    nulled = chapter.table5_measure(simulate_panel(overrides=null_world("Supervision")))
    assert numbers["null_estimate"] == pytest.approx(nulled["(3) + supervised listing: Supervision"]["estimate"],
                                                     abs=1e-12)


def test_first_stage_f_and_the_kleibergen_paap_wald_f_are_one_statistic_with_one_instrument(book):
    panel = chapter.prepare_panel(book)
    iv = instruments.iv_2sls(panel, "Safety", "Dual_policy", "universities", controls=CONTROLS)
    table = chapter.first_stage_statistics(iv)
    assert table.attrs["clustered_F"] == pytest.approx(iv.extra["kp_rk_wald_F"], rel=1e-10)
    assert table.loc["first-stage F, cluster-robust (squared clustered t)", ("Paper", "printed")] == "47.07"
    assert table.loc["Kleibergen-Paap rk Wald F (cluster-robust)", ("Paper", "printed")] == "50.230"
    texts = chapter.iv_texts(book, iv, table)
    assert texts["iv_absorbed"] == "universities_base"
    assert float(texts["iv_f_gap"]) < 1e-8
    assert chapter.first_stage_statistics(None).columns.tolist() == ["not computed"]


def test_psm_texts_count_city_years_of_dual_pilot_cities_and_dual_pilot_city_years_apart(book):
    panel = chapter.prepare_panel(book)
    psm = chapter.run_psm(panel)
    texts = chapter.psm_texts(book, psm)
    sample = psm.sample
    assert texts["psm_treated_rows"] == f"{(sample['dual_city'] == 1).sum():,}"
    assert texts["psm_dual_city_years"] == f"{(sample['Dual_policy'] == 1).sum():,}"
    assert int(texts["psm_dual_city_years"]) < int(texts["psm_treated_rows"].replace(",", ""))
    after = psm.balance[("After matching", "std. diff. (%)")].drop("propensity")
    worst = after.abs().idxmax()
    assert texts["psm_worst_after_name"] == worst and texts["psm_worst_after"] == f"{after[worst]:.2f}"
    assert int(texts["psm_over_threshold"]) == int((after.abs() >= 10).sum())


def test_texts_on_a_real_panel_say_there_is_no_truth(book):
    real = RealPanel(book)
    texts = chapter.panel_texts(real)
    assert texts["figure_data"].startswith("Data: the reader's real panel") and "simulated" not in texts["figure_data"]
    assert texts["truth_dual_vs_none"] == NO_TRUTH
    listing = chapter.listing_texts(real, seeds=[1])
    assert listing["listing_untreated_p"] == NO_TRUTH and float(listing["listing_observed_p"]) >= 0
    panel = chapter.prepare_panel(real)
    dynamic = did.event_study(panel, "Safety", cohort="dual_year", controls=CONTROLS, window=(-8, 8))
    honest = pretrends.pretrend_sensitivity(dynamic, target=2, M_grid=[0.0, 0.05], progress=False)
    texts = chapter.pretrend_texts(real, dynamic, honest)
    assert texts["honest_truth"] == NO_TRUTH and texts["honest_truth_sentence"] == ""
    assert chapter.pretrend_truth(real, honest) is None


# ----------------------------------------------------------------------------------------------
# 2. Claims of the prose
# ----------------------------------------------------------------------------------------------

def test_the_listing_check_uses_deaths_without_either_pilot_and_without_the_listing(book):
    po, data = book.truth.potential_outcomes, book.data
    untreated = po["Safety_none_without_Supervision"]
    off = data["Supervision"] == 0
    assert (untreated[off] == po.loc[off, "Safety_none"]).all()      # the listing acts only while in force
    on = data["Supervision"] == 1
    assert (untreated[on] > po.loc[on, "Safety_none"]).mean() > 0.9  # without it, more deaths
    frame = data.assign(untreated=untreated.to_numpy())
    listing_year = data["year"].where(on).groupby(data["city"]).transform("min")
    study = did.event_study(frame.assign(listing_year=listing_year), "untreated", "listing_year", controls=CONTROLS,
                            window=(-4, 4))
    assert chapter.listing_measure(book)["p_value"] == pytest.approx(did.pretrend_test(study)["p_value"], abs=1e-12)


def test_with_the_pilots_off_the_baseline_is_biased_by_the_other_policies_it_leaves_out():
    """The inference section: with both pilots' effects off the baseline TWFE is still clearly
    negative on average (bias, not size); with the other policies' effects off too it is not."""
    others = {f"effects.other_policies.{name}": 0.0 for name in chapter.OTHER_POLICIES}
    pilots_off, all_off = [], []
    for seed in range(8):
        pilots_off.append(did.twfe(simulate_panel(seed=seed, overrides=null_world("dual_vs_none")).data,
                                   "Safety", "Dual_policy", controls=CONTROLS).estimate())
        all_off.append(did.twfe(simulate_panel(seed=seed, overrides={**null_world("dual_vs_none"), **others}).data,
                                "Safety", "Dual_policy", controls=CONTROLS).estimate())
    assert np.mean(pilots_off) < -0.05
    assert abs(np.mean(all_off)) < 0.03


def test_the_listing_coefficient_is_biased_by_what_else_acts_more_where_deaths_are_many():
    """Table 5, column 3 in the world where the listing does nothing: its coefficient is clearly
    negative; switching the pilots' effects off as well removes most of that, and switching every
    effect off leaves nothing."""
    others = {f"effects.other_policies.{name}": 0.0 for name in ("Broadband_China", "Made_in_China_2025")}
    worlds = {"listing off": null_world("Supervision"),
              "and pilots off": {**null_world("Supervision"), **null_world("dual_vs_none")},
              "everything off": {**null_world("Supervision"), **null_world("dual_vs_none"), **others,
                                 **null_world("spillover")}}
    means = {}
    for name, overrides in worlds.items():
        estimates = [did.twfe(simulate_panel(seed=seed, overrides=overrides).data, "Safety", "Dual_policy",
                              controls=(*CONTROLS, "Supervision")).estimate("Supervision") for seed in range(10)]
        means[name] = float(np.mean(estimates))
    assert means["listing off"] < -0.1
    assert abs(means["and pilots off"]) < abs(means["listing off"]) / 2
    assert abs(means["everything off"]) < 0.05


def test_the_lagged_outcome_regression_is_biased_by_controls_measured_two_years_early():
    """With nothing acting on deaths, deaths two years later regressed on this year's
    Dual_policy and controls are biased; with the controls of the outcome's year they are not."""
    early, same_year = [], []
    for seed in range(6):
        data = simulate_panel(seed=seed, overrides={**chapter.no_effect_overrides(),
                                                    "outcome.shock.relative_sd": 0.0}).data
        later = {name: shift_within_unit(data, name, 2) for name in ("Safety", *CONTROLS)}
        frame = data.assign(lead=later["Safety"], **{f"{name}_lead": later[name] for name in CONTROLS})
        frame = frame.dropna(subset=["lead"])
        early.append(did.twfe(frame, "lead", "Dual_policy", controls=CONTROLS).estimate())
        same_year.append(did.twfe(frame, "lead", "Dual_policy",
                                  controls=tuple(f"{name}_lead" for name in CONTROLS)).estimate())
    assert np.mean(early) < -0.05
    assert abs(np.mean(same_year)) < 0.02


# ----------------------------------------------------------------------------------------------
# 3. Exercises
# ----------------------------------------------------------------------------------------------

def test_exercise_weak_instrument():
    """dual_pilot = 0 alone: the rk Wald F stays above 10 (and rises) and 2SLS moves further from
    the realised effect; size = 0 too: F below 10 on the book's seed and seeds 1-5, standard
    error at least half the estimate's size."""
    default = simulate_panel()
    fit = instruments.iv_2sls(default.data, "Safety", "Dual_policy", "universities", CONTROLS)
    alone = simulate_panel(overrides={"instrument.base.dual_pilot": 0.0})
    weak = instruments.iv_2sls(alone.data, "Safety", "Dual_policy", "universities", CONTROLS)
    truth = alone.truth.dual_vs_none()
    assert weak.extra["kp_rk_wald_F"] > 10 and weak.extra["kp_rk_wald_F"] > fit.extra["kp_rk_wald_F"]
    assert abs(weak.estimate() - truth) > abs(fit.estimate() - default.truth.dual_vs_none())
    for seed in [None, 1, 2, 3, 4, 5]:
        nothing = simulate_panel(seed=seed, overrides={"instrument.base.dual_pilot": 0.0, "instrument.base.size": 0.0})
        result = instruments.iv_2sls(nothing.data, "Safety", "Dual_policy", "universities", CONTROLS)
        assert result.extra["kp_rk_wald_F"] < 10, seed
        assert result.std_error() >= 0.5 * abs(result.estimate()), seed


def test_exercise_no_growth():
    """iv_2sls refuses an instrument absorbed by the city effects and says how to fix it; both
    interactions have F above 10, land within 0.1 of the yearly count's estimate on the default
    panel, and are about one and a half times the realised effect."""
    still = simulate_panel(overrides={"instrument.growth_per_year": 0.0})
    with pytest.raises(instruments.DidArgumentError, match="does not vary within city.*base-year value"):
        instruments.iv_2sls(still.data, "Safety", "Dual_policy", "universities", CONTROLS)
    yearly = instruments.iv_2sls(simulate_panel().data, "Safety", "Dual_policy", "universities", CONTROLS).estimate()
    data = still.data.copy()
    base = data["city"].map(data[data["year"] == 2008].set_index("city")["universities"]).astype(float)
    data["base_x_years"] = base * (data["year"] - 2008)
    data["base_x_post2012"] = base * (data["year"] > 2012)
    truth = still.truth.dual_vs_none()
    for instrument in ("base_x_years", "base_x_post2012"):
        result = instruments.iv_2sls(data, "Safety", "Dual_policy", instrument, CONTROLS)
        assert result.extra["kp_rk_wald_F"] > 10, instrument
        assert abs(result.estimate() - yearly) < 0.1, instrument
        assert 1.3 < result.estimate() / truth < 1.8, instrument


def test_exercise_placebo_design():
    """Among pilot cities, with the synergy and mediation off, the placebo still rejects with the
    smallest p-value its draws can give (book's seed), and rejects on every seed of the table."""
    nulled = simulate_panel(overrides=null_world("synergy"))
    assert nulled.truth.synergy() == pytest.approx(0.0, abs=1e-3)  # rounding to whole deaths
    pilots = nulled.data[chapter.pilot_city_rows(nulled.data)]
    result = placebo.permutation_placebo(pilots, "Safety", "dual_year", CONTROLS, draws=1000, seed=chapter.SEED,
                                         progress=False)
    assert result.p_value == pytest.approx(1 / 1001)
    for seed in chapter.SEEDS:
        panel = simulate_panel(seed=seed, overrides=null_world("synergy")).data
        rows = chapter.pilot_city_rows(panel)
        again = placebo.permutation_placebo(panel[rows], "Safety", "dual_year", CONTROLS,
                                            draws=chapter.SEED_RUN_PLACEBO_DRAWS, seed=chapter.SEED, progress=False)
        assert again.p_value < 0.05, seed


def test_exercise_low_carbon_and_the_wild_bootstrap_on_the_sequences(book):
    """Low-Carbon: coefficient near zero, interval contains zero (realised effect zero); the dual
    coefficient moves by less than 0.01. Sequence regressions: the wild bootstrap's critical
    values exceed the t distribution's, its intervals are wider, and both exclude zero."""
    data, policies = book.data, chapter.OTHER_POLICIES
    assert book.truth.other_policy("Low_Carbon_City") == 0.0
    three = did.twfe(data, "Safety", "Dual_policy", controls=(*CONTROLS, *policies))
    four = did.twfe(data, "Safety", "Dual_policy", controls=(*CONTROLS, *policies, "Low_Carbon_City"))
    low, high = four.conf_int("Low_Carbon_City")
    assert low < 0 < high and abs(four.estimate("Low_Carbon_City")) < 0.05
    assert abs(four.estimate() - three.estimate()) < 0.01
    cities = book.cities.set_index("adcode")
    order = adoption_order(cities["innovation_year"], cities["smart_year"])
    group = pilot_groups(cities["innovation_year"], cities["smart_year"])
    from scipy import stats

    for sequence, count in [("innovation first", 16), ("smart first", 18)]:
        chosen = order.index[order == sequence]
        assert len(chosen) == count
        sample = data[data["city"].isin(chosen) | data["city"].map(group).eq("none")]
        fit = did.twfe(sample, "Safety", "Dual_policy", controls=CONTROLS)
        wild = bootstrap.wild_cluster_bootstrap(fit, reps=9999, seed=chapter.SEED)
        assert wild.extra["critical_value"] > stats.t.ppf(0.975, fit.extra["n_clusters"] - 1)
        (conventional_low, conventional_high), (wild_low, wild_high) = fit.conf_int(), wild.conf_int()
        assert wild_high - wild_low > conventional_high - conventional_low
        assert conventional_high < 0 and wild_high < 0
