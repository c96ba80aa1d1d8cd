"""TWFE and the dynamic event study (citypilots.estimators.did): exactness, inference, planted truth, checks.

Four kinds of evidence that the numbers are right:

1. exactness: the estimates equal least squares with explicit unit and year dummies, and on a
   noiseless constructed panel they equal the effects that were put in, to 1e-8;
2. inference: the clustered standard errors equal linearmodels' up to the two packages'
   documented small-sample factors, and the Wald statistic equals pyfixest's own;
3. planted truth: on the homogeneous simulation the estimates cover the planted effects;
4. arguments: every bad call raises DidArgumentError naming the column or unit at fault.
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from citypilots.estimators.did import (
    RESULT_COLUMNS,
    DidArgumentError,
    check_binary,
    check_cohort,
    check_columns,
    check_no_missing,
    check_unique_unit_time,
    event_study,
    pretrend_test,
    twfe,
    wald_test,
)
from citypilots.data.panel import CONTROLS
from citypilots.simulation.specification import planted_sizes
from citypilots.simulation.generator import simulate_panel

SINGLE_PILOTS = ("Innova_policy", "Smart_policy")


# ----------------------------------------------------------------------------------------------
# Fixtures
# ----------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def sim():
    return simulate_panel()


@pytest.fixture(scope="module")
def homogeneous():
    return simulate_panel(overrides={"effects.homogeneous": True})


@pytest.fixture(scope="module")
def default_twfe(sim):
    return twfe(sim.data, "Safety", "Dual_policy", CONTROLS)


def planted_dual_effect(spec: dict) -> float:
    """The homogeneous Dual_policy effect on top of the two single pilots: the synergy plus the
    effects mediated by TI and IU (Dual_policy shifts each mediator by a, Safety moves b per unit)."""
    mediated = sum(m["a"] * m["b"] for m in spec["effects"]["mediators"].values())
    return planted_sizes(spec)["dual"] + mediated


@pytest.fixture(scope="module")
def linear_outcome(homogeneous):
    """The homogeneous panel with ``Safety_linear``: the realised no-pilot outcome plus the planted
    effects, not truncated at zero.

    The observed Safety is max(0, no-pilot outcome + effects): in the homogeneous simulation the
    effects are not scaled to a city's death level, so some dual-pilot city-years hit zero.
    Adding the planted effects to the realised no-pilot outcome keeps everything else in the
    simulation (spillovers, other policies, covariate trends, AR(1) shocks) and makes the effect
    exactly constant.
    """
    data, sizes = homogeneous.data, planted_sizes(homogeneous.spec)
    planted = (sizes["innovation_single"] * data["Innova_policy"] + sizes["smart_single"] * data["Smart_policy"]
               + planted_dual_effect(homogeneous.spec) * data["Dual_policy"])
    return data.assign(Safety_linear=homogeneous.truth.potential_outcomes["Safety_none"] + planted)


def noiseless_panel(effect_of_event_time, seed: int = 0, n_units: int = 60,
                    years: range = range(2000, 2016), drop_share: float = 0.1) -> pd.DataFrame:
    """An unbalanced panel y = unit effect + year effect + 0.5 x + effect(year - cohort), no noise.

    Cohorts 2003, 2006, 2009, 2012 or never (NA); a never-treated unit has no effect. Also has
    the absorbing dummy ``treated`` and ``y_twfe`` = unit + year effect + 0.5 x - 0.7 treated.
    """
    rng = np.random.default_rng(seed)
    cohort_of_unit = rng.choice([2003, 2006, 2009, 2012, np.nan], size=n_units)
    frame = pd.MultiIndex.from_product([range(n_units), years], names=["unit", "year"]).to_frame(index=False)
    frame = frame[rng.random(len(frame)) >= drop_share].reset_index(drop=True)
    cohort = cohort_of_unit[frame["unit"]]
    frame["cohort"] = pd.array(cohort, dtype="Float64").astype("Int64")
    frame["x"] = rng.standard_normal(len(frame))
    fixed_effects = rng.standard_normal(n_units)[frame["unit"]] + np.sin(frame["year"].to_numpy())
    event_time = frame["year"].to_numpy() - cohort
    effect = np.where(np.isnan(event_time), 0.0, effect_of_event_time(np.nan_to_num(event_time)))
    frame["y"] = fixed_effects + 0.5 * frame["x"] + effect
    frame["treated"] = (event_time >= 0).astype(int)
    frame["y_twfe"] = fixed_effects + 0.5 * frame["x"] - 0.7 * frame["treated"]
    return frame


def dynamic_effect(event_time: np.ndarray) -> np.ndarray:
    """Non-zero leads and a non-linear path: what the event study must recover (minus e = -1)."""
    return 0.1 * event_time**2 - 0.3 * event_time


WINDOW = (-3, 4)


# ----------------------------------------------------------------------------------------------
# TWFE: exactness and layout
# ----------------------------------------------------------------------------------------------

def test_twfe_equals_least_squares_with_explicit_unit_and_year_dummies(sim, default_twfe):
    data = sim.data
    terms = ["Dual_policy", *CONTROLS]
    design = np.column_stack([
        data[terms].to_numpy(dtype=float),
        pd.get_dummies(data["city"], dtype=float).to_numpy(),
        pd.get_dummies(data["year"], dtype=float).to_numpy()[:, 1:],  # first year: the base
    ])
    coefficients = np.linalg.lstsq(design, data["Safety"].to_numpy(), rcond=None)[0]
    np.testing.assert_allclose(default_twfe.params[terms].to_numpy(), coefficients[:len(terms)],
                               rtol=1e-8, atol=1e-12)


def test_twfe_table_has_the_treatment_first_and_t_inference_with_g_minus_1_df(sim, default_twfe):
    result = default_twfe
    assert list(result.table.index) == ["Dual_policy", *CONTROLS]
    assert tuple(result.table.columns) == RESULT_COLUMNS
    assert result.main_term == "Dual_policy" and result.estimator == "TWFE"
    assert (result.n_obs, result.n_units, result.extra["n_clusters"]) == (3488, 218, 218)
    assert result.fitted._df_t == 217 and "t(217)" in result.inference and "city" in result.inference
    critical = stats.t.ppf(0.975, 217)
    np.testing.assert_allclose(result.table["ci_high"] - result.table["estimate"],
                               critical * result.table["std_error"], rtol=1e-12)
    # The same intervals and p-values as pyfixest's own summary (its p-values underflow to 0
    # below about 1e-16, ours are computed from the survival function).
    tidy = result.fitted.tidy()
    np.testing.assert_allclose(result.table["ci_low"], tidy["2.5%"], rtol=1e-12)
    sizable = tidy["Pr(>|t|)"] > 1e-10
    np.testing.assert_allclose(result.table["p_value"][sizable.to_numpy()], tidy["Pr(>|t|)"][sizable], rtol=1e-8)
    assert 0 < result.table.loc["Dual_policy", "p_value"] < 1e-6
    assert 0 < result.extra["r2_within"] < result.extra["r2"] < 1


def test_twfe_recovers_the_effect_exactly_on_a_noiseless_panel_and_keeps_every_row():
    panel = noiseless_panel(dynamic_effect)
    singleton = panel.iloc[[0]].assign(unit=panel["unit"].max() + 1, y_twfe=3.0)  # a unit seen once
    panel = pd.concat([panel, singleton], ignore_index=True)
    result = twfe(panel, "y_twfe", "treated", ["x"], unit="unit", time="year")
    np.testing.assert_allclose(result.params.to_numpy(), [-0.7, 0.5], atol=1e-8)
    assert result.n_obs == result.fitted._N == len(panel)
    assert result.n_units == result.extra["n_clusters"] == panel["unit"].nunique()


# ----------------------------------------------------------------------------------------------
# TWFE: clustered standard errors against linearmodels
# ----------------------------------------------------------------------------------------------

def test_clustered_standard_errors_match_linearmodels_up_to_the_small_sample_factors(sim, default_twfe):
    """Both packages compute the same sandwich V0 = (X'X)^-1 (sum_g X_g'u_g u_g'X_g) (X'X)^-1
    on the two-way demeaned regressors; they scale it differently.

    pyfixest CRV1 (ssc defaults k_adj=True, k_fixef="nonnested", G_adj=True), like fixest and
    reghdfe: V = V0 x (N-1)/(N-K) x G/(G-1), where K counts the k slopes and the fixed effects
    not nested in the clusters: the T-1 year effects, plus 1 for the city effects, which are
    nested in the city clusters. Here K = k + T.

    linearmodels 7.1 PanelOLS(...).fit(cov_type="clustered", cluster_entity=True) with its
    defaults (debiased=True, group_debias=False; with two effects the effects are counted in
    the degrees of freedom): V = V0 x N/(N - k - d), d = G + T - 1 entity and time effects (no
    constant). No G/(G-1) factor.
    """
    from linearmodels import PanelOLS

    data = sim.data
    terms = ["Dual_policy", *CONTROLS]
    indexed = data.set_index(["city", "year"])
    fitted = PanelOLS(indexed["Safety"], indexed[terms], entity_effects=True,
                      time_effects=True).fit(cov_type="clustered", cluster_entity=True)
    n, k = len(data), len(terms)
    g, t = data["city"].nunique(), data["year"].nunique()
    pyfixest_factor = (n - 1) / (n - (k + t)) * g / (g - 1)
    linearmodels_factor = n / (n - k - (g + t - 1))
    np.testing.assert_allclose(default_twfe.params[terms].to_numpy(), fitted.params[terms].to_numpy(), rtol=1e-8)
    np.testing.assert_allclose(default_twfe.fitted._ssc.item(), pyfixest_factor, rtol=1e-12)
    np.testing.assert_allclose(
        default_twfe.std_errors[terms].to_numpy() ** 2 / pyfixest_factor,
        fitted.std_errors[terms].to_numpy() ** 2 / linearmodels_factor, rtol=1e-6)


# ----------------------------------------------------------------------------------------------
# Planted truth: the homogeneous simulation
# ----------------------------------------------------------------------------------------------

def test_homogeneous_simulation_plants_constant_effects(homogeneous):
    """What the next tests compare with: in the homogeneous simulation, wherever no potential
    outcome sits at the zero floor, both pilots against none is the planted constant (the single
    effects, the synergy and the mediated effects) to the rounding to whole deaths."""
    data, truth, sizes = homogeneous.data, homogeneous.truth, planted_sizes(homogeneous.spec)
    po = truth.potential_outcomes
    planted = sizes["innovation_single"] + sizes["smart_single"] + planted_dual_effect(homogeneous.spec)
    clear = (data["Dual_policy"] == 1).to_numpy() & ~truth.at_bound
    assert clear.sum() > 0.8 * (data["Dual_policy"] == 1).sum()
    np.testing.assert_allclose((po["Safety_both"] - po["Safety_none"])[clear], planted, atol=0.011)


def test_twfe_covers_the_planted_dual_effect_on_the_homogeneous_panel(homogeneous, linear_outcome):
    """Safety on the three pilot dummies together: Dual_policy's coefficient is the dual effect
    on top of the two single effects, which the single-pilot dummies take.

    OLS is linear in the outcome and the planted effects lie in the span of the dummies, so the
    estimate is exactly planted + (the same regression on the no-pilot outcome): the gap is the
    confounding left in the untreated outcome (spillovers from neighbouring dual cities, other
    policies, trends in the uncontrolled mediators), and the 95% interval covers the truth.
    """
    sizes = planted_sizes(homogeneous.spec)
    planted = {"Dual_policy": planted_dual_effect(homogeneous.spec),
               "Innova_policy": sizes["innovation_single"], "Smart_policy": sizes["smart_single"]}
    regressors = ("Innova_policy", "Smart_policy", *CONTROLS)
    result = twfe(linear_outcome, "Safety_linear", "Dual_policy", regressors)
    for term, value in planted.items():
        low, high = result.conf_int(term)
        assert low < value < high, (term, value, low, high)
    no_pilot = twfe(linear_outcome.assign(Safety_none=homogeneous.truth.potential_outcomes["Safety_none"]),
                    "Safety_none", "Dual_policy", regressors)
    for term, value in planted.items():
        assert result.estimate(term) == pytest.approx(value + no_pilot.estimate(term), abs=1e-8)


def test_twfe_on_observed_safety_covers_the_realised_synergy(homogeneous):
    """On the observed (floored, rounded) Safety the truth is the realised synergy, the four-cell
    interaction of potential outcomes averaged over dual-pilot city-years. It differs across
    city-years (the floor bites in low-death cities and late years), so TWFE estimates a weighted
    average of it: the honest tolerance is the 95% interval."""
    data = homogeneous.data
    realised = homogeneous.truth.synergy()
    result = twfe(data, "Safety", "Dual_policy", ("Innova_policy", "Smart_policy", *CONTROLS))
    low, high = result.conf_int()
    assert low < realised < high, (realised, low, high)


def test_event_study_on_the_homogeneous_panel_is_flat_before_and_at_the_planted_effect_after(
        homogeneous, linear_outcome):
    """Controlling for the two single-pilot dummies (a dual city's leads carry its first pilot),
    the leads are jointly zero and the lags jointly equal the planted constant (F tests, 1%)."""
    result = event_study(linear_outcome, "Safety_linear", "dual_year",
                         controls=(*SINGLE_PILOTS, *CONTROLS), window=(-8, 8))
    planted = planted_dual_effect(homogeneous.spec)
    assert pretrend_test(result)["p_value"] > 0.01
    lags = [e for e in result.table.index if e >= 0]
    assert wald_test(result, lags, null=planted)["p_value"] > 0.01
    assert result.params[lags].mean() == pytest.approx(planted, abs=0.1)
    assert result.params[[e for e in result.table.index if e < -1]].abs().max() < 0.2


# ----------------------------------------------------------------------------------------------
# Event study: layout, binning, exactness, tests
# ----------------------------------------------------------------------------------------------

def test_event_study_table_has_every_event_time_and_a_zero_reference_row(sim):
    result = event_study(sim.data, "Safety", "dual_year", controls=CONTROLS, window=(-8, 8), reference=-1)
    table = result.table
    assert list(table.index) == list(range(-8, 9)) and table.index.name == "event_time"
    assert tuple(table.columns) == RESULT_COLUMNS
    assert table.loc[-1, "estimate"] == 0.0 and table.loc[-1, ["std_error", "ci_low", "ci_high", "p_value"]].isna().all()
    assert table.drop(index=-1).notna().all().all()
    assert result.main_term is None and result.extra["reference"] == -1 and result.extra["binned"] is True
    assert (result.n_obs, result.n_units, result.extra["n_clusters"]) == (3488, 218, 218)
    # Binned end points: -8 takes every dual city-year at least 8 years before, 8 at least 8 after.
    event_time = (sim.data["year"] - sim.data["dual_year"]).dropna()
    assert result.extra["n_treated_obs"][-8] == (event_time <= -8).sum()
    assert result.extra["n_treated_obs"][8] == (event_time >= 8).sum()
    assert result.extra["n_treated_obs"][0] == (event_time == 0).sum() == sim.data.groupby("city")["dual_year"].first().notna().sum()


def test_event_study_recovers_a_known_dynamic_path_exactly_with_binned_end_points():
    """y = unit + year effects + 0.5 x + g(clip(e, -3, 4)): the binned specification is exact,
    each coefficient is g(e) - g(-1) (unbalanced panel, never-treated units, a control)."""
    panel = noiseless_panel(lambda e: dynamic_effect(np.clip(e, *WINDOW)))
    result = event_study(panel, "y", "cohort", controls=["x"], unit="unit", time="year", window=WINDOW)
    expected = dynamic_effect(np.arange(-3, 5)) - dynamic_effect(-1)
    np.testing.assert_allclose(result.params.to_numpy(), expected, atol=1e-8)
    assert result.fitted.coef()["x"] == pytest.approx(0.5, abs=1e-8)
    # Without binning, the early and late periods are pooled with the reference: wrong here.
    unbinned = event_study(panel, "y", "cohort", controls=["x"], unit="unit", time="year",
                           window=WINDOW, bin_endpoints=False)
    assert np.abs(unbinned.params.to_numpy() - expected).max() > 0.1


def test_event_study_without_binning_is_exact_when_outside_periods_equal_the_reference():
    inside = lambda e: np.where((e >= WINDOW[0]) & (e <= WINDOW[1]), dynamic_effect(e), dynamic_effect(-1))  # noqa: E731
    panel = noiseless_panel(inside, seed=1)
    result = event_study(panel, "y", "cohort", controls=["x"], unit="unit", time="year",
                         window=WINDOW, bin_endpoints=False)
    expected = dynamic_effect(np.arange(-3, 5)) - dynamic_effect(-1)
    np.testing.assert_allclose(result.params.to_numpy(), expected, atol=1e-8)
    assert result.extra["binned"] is False


def test_pretrend_test_is_the_clustered_wald_statistic_over_k_referred_to_f_k_g_minus_1(homogeneous):
    result = event_study(homogeneous.data, "Safety", "dual_year", controls=(*SINGLE_PILOTS, *CONTROLS))
    test = pretrend_test(result)
    leads = [-8, -7, -6, -5, -4, -3, -2]
    assert test["leads"] == leads and test["df"] == (7, 217)
    names = [result.extra["terms"][e] for e in leads]
    restriction = np.array([[name == other for other in result.fitted._coefnames] for name in names], dtype=float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        chi2 = result.fitted.wald_test(R=restriction, distribution="chi2")["statistic"]
    assert test["statistic"] == pytest.approx(chi2 / 7, rel=1e-10)
    assert test["p_value"] == pytest.approx(stats.f.sf(chi2 / 7, 7, 217), rel=1e-10)
    with pytest.raises(DidArgumentError, match="event_study"):
        pretrend_test(twfe(homogeneous.data, "Safety", "Dual_policy"))


# ----------------------------------------------------------------------------------------------
# Arguments
# ----------------------------------------------------------------------------------------------

def with_rows(data: pd.DataFrame, rows, column: str, value) -> pd.DataFrame:
    changed = data.copy()
    changed.loc[rows, column] = value
    return changed


def first_city(data: pd.DataFrame) -> int:
    return int(data["city"].iloc[0])


BAD_CALLS = {
    "unknown columns, all listed": (
        lambda d: twfe(d, "Safty", "Dual_policy", ["lnGDP", "nope"]),
        ["unknown column 'Safty' (did you mean 'Safety'?)", "unknown column 'nope'"]),
    "index instead of columns": (
        lambda d: twfe(d.set_index(["city", "year"]), "Safety", "Dual_policy"),
        ["unknown column 'city' (it is an index level"]),
    "treatment not 0/1": (
        lambda d: twfe(with_rows(d, [3, 9, 11], "Dual_policy", 2), "Safety", "Dual_policy"),
        ["column 'Dual_policy' must be a 0/1 dummy: 3 rows have other values, the first 2"]),
    "missing outcome and control": (
        lambda d: twfe(with_rows(with_rows(d, [3, 9], "Safety", np.nan), [5], "lnGDP", np.nan),
                       "Safety", "Dual_policy", CONTROLS),
        ["column 'Safety' has 2 missing values", "column 'lnGDP' has 1 missing values"]),
    "missing treatment": (
        lambda d: twfe(with_rows(d.astype({"Dual_policy": "Int64"}), [7], "Dual_policy", pd.NA),
                       "Safety", "Dual_policy"),
        ["column 'Dual_policy' has 1 missing values"]),
    "cohort after the last year": (
        lambda d: event_study(with_rows(d, d["city"] == first_city(d), "dual_year", 2030), "Safety", "dual_year"),
        ["cohort 2030 of city {city} is after the last year 2023"]),
    "cohort before the first year": (
        lambda d: event_study(with_rows(d, d["city"] == first_city(d), "dual_year", 2001), "Safety", "dual_year"),
        ["cohort 2001 of city {city} is before the first year 2008"]),
    "cohort varying within a unit": (
        lambda d: event_study(with_rows(d, [0], "dual_year", 2015), "Safety", "dual_year"),
        ["column 'dual_year' must be constant within a unit: 1 units", "city {city}"]),
    "window without the reference": (
        lambda d: event_study(d, "Safety", "dual_year", window=(0, 5), reference=-1),
        ["the reference period -1 is not in the window (0, 5)"]),
    "duplicate unit-years": (
        lambda d: twfe(pd.concat([d, d.iloc[[0]]]), "Safety", "Dual_policy"),
        ["(city, year) must identify the rows: 1 pairs appear more than once: ({city}, 2008) x2"]),
    "event times without observations": (
        lambda d: event_study(d, "Safety", "dual_year", window=(-20, 5)),
        ["no observations at event times -20", "'dual_year'"]),
    "control absorbed by the unit effects": (
        lambda d: twfe(d.assign(city_code=d["city"] % 7), "Safety", "Dual_policy", ["city_code"]),
        ["regressors ['city_code'] cannot be estimated"]),
}


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("case", BAD_CALLS)
def test_bad_arguments_raise_an_error_naming_the_column_or_unit(sim, case):
    call, fragments = BAD_CALLS[case]
    with pytest.raises(DidArgumentError) as raised:
        call(sim.data)
    for fragment in fragments:
        assert fragment.format(city=first_city(sim.data)) in str(raised.value)


def test_public_checks_pass_on_the_simulated_panel_and_list_every_problem(sim):
    data = sim.data
    check_columns(data, ["city", "year", "Safety", *CONTROLS])
    check_no_missing(data, ["Safety", "Dual_policy", *CONTROLS])
    check_binary(data, "Dual_policy")
    check_cohort(data, "city", "year", "dual_year")
    check_unique_unit_time(data, "city", "year")
    broken = with_rows(with_rows(data, [0], "dual_year", 2015), data["city"] == data["city"].iloc[-1], "dual_year", 2030)
    with pytest.raises(DidArgumentError, match=re.escape("2 problems")):
        check_cohort(broken, "city", "year", "dual_year")


# ----------------------------------------------------------------------------------------------
# Linear combinations and the two-by-two
# ----------------------------------------------------------------------------------------------

def test_linear_combination_equals_the_reparametrised_regression(sim):
    """a + b of y = a x1 + b x2 + ... is the coefficient on x1 in the regression of y on x1 and
    x2 - x1: same estimate, same clustered standard error (an independent route to sqrt(w'Vw))."""
    from citypilots.estimators.did import linear_combination

    data = sim.data
    fit = twfe(data, "Safety", "Innova_policy", controls=("Smart_policy", *CONTROLS))
    combined = linear_combination(fit, {"Innova_policy": 1.0, "Smart_policy": 1.0})
    reparametrised = twfe(data.assign(Smart_minus_innovation=data["Smart_policy"] - data["Innova_policy"]),
                          "Safety", "Innova_policy", controls=("Smart_minus_innovation", *CONTROLS))
    assert combined["estimate"] == pytest.approx(reparametrised.estimate(), abs=1e-10)
    assert combined["std_error"] == pytest.approx(reparametrised.std_error(), rel=1e-8)
    assert (combined["ci_low"], combined["ci_high"]) == pytest.approx(reparametrised.conf_int(), rel=1e-8)
    single = linear_combination(fit, {"Smart_policy": 1.0})
    row = fit.table.loc["Smart_policy"]
    assert [single[k] for k in RESULT_COLUMNS] == pytest.approx([float(row[k]) for k in RESULT_COLUMNS])
    dynamic = event_study(sim.data, "Safety", cohort="dual_year", window=(-3, 3))
    average = linear_combination(dynamic, {e: 0.25 for e in range(-1, 3)})  # the reference -1 adds nothing
    assert average["estimate"] == pytest.approx(dynamic.table.loc[0:2, "estimate"].sum() / 4)
    with pytest.raises(DidArgumentError, match="cannot combine"):
        linear_combination(fit, {"lnGDP_typo": 1.0})


def test_two_by_two_is_the_twfe_coefficient_on_two_groups_and_two_years(sim):
    from citypilots.estimators.did import two_by_two

    data = sim.data
    cohort = data.groupby("city")["dual_year"].first()
    treated = list(cohort.index[cohort == 2013])
    never = data.groupby("city")[["innovative_year", "smart_year"]].first().isna().all(axis=1)
    control = list(never.index[never])
    table = two_by_two(data, "Safety", treated, control, before=2012, after=2016)
    means = data[data["year"].isin([2012, 2016])].groupby([data["city"].isin(treated), "year"])["Safety"]
    assert table.loc["treated", 2016] == pytest.approx(data[data["city"].isin(treated) & (data["year"] == 2016)]["Safety"].mean())
    sample = data[data["city"].isin(treated + control) & data["year"].isin([2012, 2016])].copy()
    sample["treated_after"] = (sample["city"].isin(treated) & (sample["year"] == 2016)).astype(int)
    assert table.loc["treated - control", "change"] == pytest.approx(twfe(sample, "Safety", "treated_after").estimate(),
                                                                    abs=1e-10)
    assert table.attrs == {"n_treated": len(treated), "n_control": len(control)}
    assert means.ngroups == 4
    with pytest.raises(DidArgumentError, match="both treated and control"):
        two_by_two(data, "Safety", treated, treated[:1] + control, before=2012, after=2016)
    with pytest.raises(DidArgumentError, match="before"):
        two_by_two(data, "Safety", treated, control, before=2016, after=2012)
    with pytest.raises(DidArgumentError, match="no row in year"):
        two_by_two(data, "Safety", treated, control, before=2000, after=2016)
