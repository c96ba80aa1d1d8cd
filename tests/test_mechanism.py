"""Stepwise mediation, its bootstrap, the confounder switch and moderation (citypilots.estimators.mechanism).

Evidence that the numbers are right:

1. the identity: total = direct + a x b holds to rounding on every panel and in every bootstrap
   draw; the paper's printed numbers fail it (its README, item 8);
2. realised paths: on the simulated panel the intervals cover the realised path a of TI and IU
   and the bootstrap interval covers the realised mediated effect of TI; on a constructed panel
   with no noise in the paths the estimates equal them;
3. two implementations agree: a bootstrap draw (weighted demeaning written here) equals pyfixest
   on the explicitly duplicated and relabelled sample, balanced and unbalanced;
4. the confounder switch moves b as the omitted-variable formula says and leaves a alone;
5. moderation: centring changes the main effect, not the interaction; the marginal effects are
   linear combinations with the delta-method variance; a planted slope is recovered;
6. arguments: mediator equal to the outcome, a missing moderator, ... raise DidArgumentError;
7. channels fitted jointly: exact on a noise-free panel with two correlated mediators (where one
   at a time is not), equal to the stepwise fit for one mediator, a bootstrap draw equal to
   pyfixest on the duplicated sample;
8. the sensitivity analysis (Imai, Keele and Yamamoto 2010): equal to the R package mediation's
   medsens algorithm (iterated seemingly unrelated regressions, written out here), to
   root-finding for the b each rho implies on pyfixest's residuals, and recovering a b at the
   true rho of a simulated linear model with correlated errors;
9. the binning estimator: one bin is the linear interaction at the treated median; three bins
   recover a step in the effect;
10. the chapter's figures draw.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyfixest as pf
import pytest

from citypilots.estimators import did, mechanism
from citypilots.estimators.estimates import DidArgumentError
from citypilots.data.panel import CONTROLS
from citypilots.data.paper import printed
from citypilots.simulation.generator import simulate_panel

# ----------------------------------------------------------------------------------------------
# Fixtures
# ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sim():
    return simulate_panel()


@pytest.fixture(scope="module")
def channels(sim):
    return {mediator: mechanism.mediation(sim.data, "Safety", "Dual_policy", mediator, CONTROLS)
            for mediator in ("TI", "IU")}


def constructed_panel(n_units=120, n_years=10, a=0.6, b=-0.5, direct=-1.0, slope=0.0, noise=1.0, seed=0,
                      mediator_noise=1.0):
    """A staggered panel with known paths: M = a D + unit + year + e, y = direct D + b M + slope D Z + ...

    Half the units adopt in a year drawn from the middle of the window; unit and year effects are
    correlated with adoption (so fixed effects matter). Z is a moderator that varies within units.
    """
    rng = np.random.default_rng(seed)
    unit = np.repeat(np.arange(n_units), n_years)
    year = np.tile(np.arange(2000, 2000 + n_years), n_units)
    adopts = rng.random(n_units) < 0.5
    adoption = np.where(adopts, rng.integers(2003, 2000 + n_years - 1, n_units), 9999)
    treatment = (year >= adoption[unit]).astype(float)
    unit_effect = rng.normal(size=n_units) + adopts
    year_effect = np.linspace(0, 2, n_years)
    x = rng.normal(size=n_units * n_years) + 0.5 * treatment
    z = rng.normal(size=n_units * n_years) + 0.3 * unit_effect[unit]
    mediator = (a * treatment + 0.4 * x + unit_effect[unit] + year_effect[year - 2000]
                + mediator_noise * rng.normal(size=len(unit)))
    outcome = (direct * treatment + b * mediator + 0.2 * x + slope * treatment * (z - z.mean()) - 0.3 * z
               + 2 * unit_effect[unit] + year_effect[year - 2000] + noise * rng.normal(size=len(unit)))
    return pd.DataFrame({"unit": unit, "year": year, "y": outcome, "D": treatment, "M": mediator, "x": x, "Z": z})


# ----------------------------------------------------------------------------------------------
# 1. The identity
# ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("mediator", ["TI", "IU"])
def test_total_equals_direct_plus_indirect_on_the_simulated_panel(sim, channels, mediator):
    result = channels[mediator]
    assert abs(result.identity()["gap"]) < 1e-10
    # the total effect is the baseline regression (Table 2, column 2)
    assert result.total == pytest.approx(did.twfe(sim.data, "Safety", "Dual_policy", CONTROLS).estimate(), abs=1e-12)


def test_identity_holds_without_controls_and_on_an_unbalanced_panel():
    panel = constructed_panel(seed=3)
    unbalanced = panel.drop(index=np.random.default_rng(1).choice(len(panel), 150, replace=False))
    for data, controls in ((panel, ()), (unbalanced, ("x",))):
        result = mechanism.mediation(data, "y", "D", "M", controls, unit="unit", time="year")
        assert abs(result.identity()["gap"]) < 1e-10


def test_the_papers_printed_numbers_fail_the_identity():
    total = printed(2, 2, "Dual_policy")["estimate"]
    for column, mediator in ((1, "TI"), (3, "IU")):
        check = mechanism.mediation_identity(total, printed(6, column + 1, "Dual_policy")["estimate"],
                                             printed(6, column, "Dual_policy")["estimate"],
                                             printed(6, column + 1, mediator)["estimate"])
        assert abs(check["gap"]) > 0.02  # far beyond the rounding of three decimals (item 8 of the notes)
    ti = mechanism.mediation_identity(-0.555, -0.593, 0.248, -0.153)
    assert ti["implied_direct"] == pytest.approx(-0.517056)
    assert ti["implied_total"] == pytest.approx(-0.630944)


# ----------------------------------------------------------------------------------------------
# 2. Planted paths
# ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("mediator", ["TI", "IU"])
def test_intervals_cover_the_realised_path_a(sim, channels, mediator):
    # path b is not recovered by the stepwise regression on this DGP: tests/test_chapter_mechanism.py
    low, high = channels[mediator].mediator_model.conf_int("Dual_policy")
    realised = sim.truth.estimand(f"mediator_shift_{mediator}")
    assert low <= realised <= high


def test_paths_are_exact_when_the_outcome_carries_no_noise():
    panel = constructed_panel(noise=0.0, a=0.6, b=-0.5, direct=-1.0, seed=5)
    panel["y"] -= -0.3 * panel["Z"]  # remove the moderator's main effect (not in this regression)
    result = mechanism.mediation(panel, "y", "D", "M", controls="x", unit="unit", time="year")
    assert result.b == pytest.approx(-0.5, abs=1e-8)
    assert result.direct == pytest.approx(-1.0, abs=1e-8)
    low, high = result.mediator_model.conf_int("D")
    assert low <= 0.6 <= high
    assert result.indirect == pytest.approx(result.a * -0.5, abs=1e-8)


def test_bootstrap_interval_covers_the_planted_indirect_effect_and_keeps_the_identity(sim):
    result = mechanism.bootstrap_mediation(sim.data, "Safety", "Dual_policy", "TI", CONTROLS, n_boot=199, seed=11,
                                           progress=False)
    low, high = result.conf_int("indirect")
    assert low <= sim.truth.mediated_TI() <= high
    assert high < 0  # the TI channel is clearly negative
    assert result.extra["identity_gap"] < 1e-10
    assert result.estimate("indirect") == pytest.approx(result.estimate("a") * result.estimate("b"))
    draws = result.extra["draws"]
    assert result.std_error("a") == pytest.approx(draws["a"].std(ddof=1))
    # clustered by city: the bootstrap SE of a is close to the CRV1 standard error
    crv1 = mechanism.mediation(sim.data, "Safety", "Dual_policy", "TI", CONTROLS).mediator_model.std_error()
    assert 0.7 < result.std_error("a") / crv1 < 1.3


def test_bootstrap_is_reproducible_with_its_seed(sim):
    small = sim.data[sim.data["city"].isin(sim.data["city"].unique()[:60])]
    one = mechanism.bootstrap_mediation(small, "Safety", "Dual_policy", "TI", CONTROLS, n_boot=20, seed=4, progress=False)
    two = mechanism.bootstrap_mediation(small, "Safety", "Dual_policy", "TI", CONTROLS, n_boot=20, seed=4, progress=False)
    other = mechanism.bootstrap_mediation(small, "Safety", "Dual_policy", "TI", CONTROLS, n_boot=20, seed=5, progress=False)
    pd.testing.assert_frame_equal(one.extra["draws"], two.extra["draws"])
    assert not one.extra["draws"].equals(other.extra["draws"])


# ----------------------------------------------------------------------------------------------
# 3. A bootstrap draw against pyfixest on the duplicated sample
# ----------------------------------------------------------------------------------------------

def _duplicated_sample(panel, counts, unit):
    """The resample drawn with ``counts`` per unit, each copy a new unit."""
    pieces = []
    for code, count in counts.items():
        for copy in range(count):
            piece = panel[panel[unit] == code].copy()
            piece[unit] = f"{code}_{copy}"
            pieces.append(piece)
    return pd.concat(pieces, ignore_index=True)


@pytest.mark.parametrize("balanced", [True, False])
def test_a_weighted_draw_equals_pyfixest_on_the_duplicated_sample(balanced):
    panel = constructed_panel(n_units=40, seed=8)
    if not balanced:
        panel = panel.drop(index=np.random.default_rng(2).choice(len(panel), 60, replace=False)).reset_index(drop=True)
    units = panel["unit"].unique()
    rng = np.random.default_rng(9)
    counts = pd.Series(rng.integers(len(units), size=len(units))).value_counts()
    counts.index = units[counts.index]
    weights = panel["unit"].map(counts).fillna(0).to_numpy()
    fast = mechanism.mediation_paths_weighted(panel, "y", "D", "M", ["x"], unit="unit", time="year", weights=weights)
    duplicated = _duplicated_sample(panel, counts, "unit")
    a = pf.feols("M ~ D + x | unit + year", data=duplicated).coef()["D"]
    fit = pf.feols("y ~ D + M + x | unit + year", data=duplicated).coef()
    total = pf.feols("y ~ D + x | unit + year", data=duplicated).coef()["D"]
    assert fast["a"] == pytest.approx(a, abs=1e-8)
    assert fast["b"] == pytest.approx(fit["M"], abs=1e-8)
    assert fast["direct"] == pytest.approx(fit["D"], abs=1e-8)
    assert fast["total"] == pytest.approx(total, abs=1e-8)


def test_unweighted_paths_equal_the_twfe_regressions(channels, sim):
    fast = mechanism.mediation_paths_weighted(sim.data, "Safety", "Dual_policy", "TI", CONTROLS)
    pd.testing.assert_series_equal(fast, channels["TI"].paths().rename(None), atol=1e-9, rtol=0)


def test_weighted_demeaning_leaves_no_unit_or_time_means():
    panel = constructed_panel(n_units=30, seed=1).sample(frac=0.8, random_state=3)
    weights = np.random.default_rng(0).integers(1, 4, len(panel)).astype(float)
    units, times = pd.factorize(panel["unit"])[0], pd.factorize(panel["year"])[0]
    out = mechanism.weighted_two_way_demean(panel[["y", "M"]].to_numpy(), units, times, weights)
    for codes in (units, times):
        means = pd.DataFrame(out * weights[:, None]).groupby(codes).sum().to_numpy()
        assert np.abs(means).max() < 1e-8


# ----------------------------------------------------------------------------------------------
# 4. The confounder switch
# ----------------------------------------------------------------------------------------------

def test_a_planted_confounder_biases_b_as_the_omitted_variable_formula_says(sim, channels):
    on_mediator, on_outcome, b = 0.3, 0.1, sim.spec["effects"]["mediators"]["TI"]["b"]
    confounded = mechanism.add_mediator_confounder(sim.data, "TI", "Safety", on_mediator, on_outcome,
                                                   mediator_effect=b, seed=7, keep_as="U")
    result = mechanism.mediation(confounded, "Safety", "Dual_policy", "TI", CONTROLS)
    residual_variance = np.var(channels["TI"].mediator_model.fitted.resid())
    confounder_variance = np.var(did.twfe(confounded, "U", "Dual_policy", CONTROLS).fitted.resid())
    predicted_b = channels["TI"].b + on_mediator * on_outcome * confounder_variance / (
        residual_variance + on_mediator**2 * confounder_variance)
    assert result.b == pytest.approx(predicted_b, abs=0.03)
    assert result.a == pytest.approx(channels["TI"].a, abs=2 * channels["TI"].mediator_model.std_error())
    assert result.total == pytest.approx(channels["TI"].total, abs=0.5 * channels["TI"].total_model.std_error())
    # the direction: a confounder that raises deaths makes TI look less protective
    assert result.b > channels["TI"].b + 0.1


def test_controlling_for_the_confounder_removes_the_bias(sim, channels):
    confounded = mechanism.add_mediator_confounder(sim.data, "TI", "Safety", 0.3, 0.1, mediator_effect=-0.153,
                                                   seed=7, keep_as="U")
    result = mechanism.mediation(confounded, "Safety", "Dual_policy", "TI", ("U", *CONTROLS))
    assert result.b == pytest.approx(channels["TI"].b, abs=2 * channels["TI"].outcome_model.std_error("TI"))


def test_a_confounder_of_strength_zero_changes_nothing_and_the_seed_fixes_it(sim):
    same = mechanism.add_mediator_confounder(sim.data, "TI", "Safety", 0.0, 0.0, mediator_effect=-0.153, seed=1)
    pd.testing.assert_frame_equal(same, sim.data, check_dtype=False)
    one = mechanism.add_mediator_confounder(sim.data, "TI", "Safety", 0.3, 0.1, mediator_effect=-0.153, seed=1)
    two = mechanism.add_mediator_confounder(sim.data, "TI", "Safety", 0.3, 0.1, mediator_effect=-0.153, seed=1)
    pd.testing.assert_frame_equal(one, two)
    assert sim.data["TI"].equals(simulate_panel().data["TI"])  # the input is not modified


# ----------------------------------------------------------------------------------------------
# 5. Moderation
# ----------------------------------------------------------------------------------------------

def test_centring_moves_the_main_effect_not_the_interaction(sim):
    centred = mechanism.moderation(sim.data, "Safety", "Dual_policy", "SR", CONTROLS)
    raw = mechanism.moderation(sim.data, "Safety", "Dual_policy", "SR", CONTROLS, center=None)
    interaction = "Dual_policy x SR"
    assert centred.estimate(interaction) == pytest.approx(raw.estimate(interaction), rel=1e-9)
    assert centred.std_error(interaction) == pytest.approx(raw.std_error(interaction), rel=1e-9)
    mean_sr = sim.data["SR"].mean()
    assert centred.estimate("Dual_policy") == pytest.approx(
        raw.estimate("Dual_policy") + raw.estimate(interaction) * mean_sr, abs=1e-10)
    # the marginal effect at the mean of SR is the centred main effect, from either fit
    at_mean = mechanism.marginal_effects(raw, [mean_sr])
    assert at_mean["estimate"].iloc[0] == pytest.approx(centred.estimate("Dual_policy"), abs=1e-10)
    assert at_mean["std_error"].iloc[0] == pytest.approx(centred.std_error("Dual_policy"), rel=1e-8)


def test_marginal_effects_are_the_linear_combination_with_the_delta_variance(sim):
    result = mechanism.moderation(sim.data, "Safety", "Dual_policy", "SR", CONTROLS)
    effects = mechanism.marginal_effects(result, [0.0, 0.004, 0.01])
    fit = result.fitted
    names = [result.extra["terms"]["Dual_policy"], result.extra["terms"]["Dual_policy x SR"]]
    covariance = pd.DataFrame(fit._vcov, index=fit._coefnames, columns=fit._coefnames).loc[names, names].to_numpy()
    for z, row in effects.iterrows():
        weights = np.array([1.0, z - result.extra["center"]])
        assert row["estimate"] == pytest.approx(weights @ fit.coef()[names].to_numpy())
        assert row["std_error"] == pytest.approx(np.sqrt(weights @ covariance @ weights))
    # did.wald_test reads the result through extra["terms"]
    assert did.wald_test(result, ["Dual_policy x SR"])["p_value"] == pytest.approx(
        result.table.loc["Dual_policy x SR", "p_value"], rel=1e-8)


def test_a_planted_moderation_slope_is_recovered():
    panel = constructed_panel(n_units=300, slope=-0.8, noise=0.5, seed=12)
    result = mechanism.moderation(panel, "y", "D", "Z", controls="x", unit="unit", time="year")
    low, high = result.conf_int("D x Z")
    assert low <= -0.8 <= high and high < 0


def test_a_moderator_constant_within_units_loses_only_its_main_effect():
    panel = constructed_panel(n_units=80, seed=2)
    panel["Z_level"] = panel.groupby("unit")["Z"].transform("mean")
    result = mechanism.moderation(panel, "y", "D", "Z_level", unit="unit", time="year")
    assert list(result.table.index) == ["D", "D x Z_level"]
    assert result.extra["moderator_main_effect"] is False


# ----------------------------------------------------------------------------------------------
# 6. Arguments
# ----------------------------------------------------------------------------------------------

def test_a_mediator_equal_to_the_outcome_is_refused(sim):
    with pytest.raises(DidArgumentError, match="the outcome and the mediator are the same column 'Safety'"):
        mechanism.mediation(sim.data, "Safety", "Dual_policy", "Safety", CONTROLS)
    with pytest.raises(DidArgumentError, match="the treatment and the mediator are the same column"):
        mechanism.bootstrap_mediation(sim.data, "Safety", "Dual_policy", "Dual_policy", n_boot=10)
    with pytest.raises(DidArgumentError, match="the mediator 'lnGDP' is also among the controls"):
        mechanism.mediation(sim.data, "Safety", "Dual_policy", "lnGDP", CONTROLS)


def test_a_missing_moderator_or_mediator_is_named(sim):
    with pytest.raises(DidArgumentError, match="unknown column 'SRR' \\(did you mean 'SR'\\?\\)"):
        mechanism.moderation(sim.data, "Safety", "Dual_policy", "SRR", CONTROLS)
    with pytest.raises(DidArgumentError, match="unknown column 'patents'"):
        mechanism.mediation(sim.data, "Safety", "Dual_policy", "patents")


def test_every_problem_is_listed_at_once(sim):
    with pytest.raises(DidArgumentError) as error:
        mechanism.mediation(sim.data, "Safety", "Dual_policy", "Safety", controls=("Safety", "lnGDP"))
    message = str(error.value)
    assert "problems" in message and "same column" in message and "also among the controls" in message


def test_missing_mediator_values_are_refused_not_dropped(sim):
    data = sim.data.copy()
    data.loc[[3, 40], "TI"] = np.nan
    with pytest.raises(DidArgumentError, match="column 'TI' has 2 missing values"):
        mechanism.mediation(data, "Safety", "Dual_policy", "TI", CONTROLS)


def test_bad_options_are_refused(sim):
    with pytest.raises(DidArgumentError, match="center='median' must be 'mean', a number or None"):
        mechanism.moderation(sim.data, "Safety", "Dual_policy", "SR", center="median")
    with pytest.raises(DidArgumentError, match="n_boot=1 must be an integer of at least 2"):
        mechanism.bootstrap_mediation(sim.data, "Safety", "Dual_policy", "TI", n_boot=1)
    with pytest.raises(DidArgumentError, match="needs a moderation\\(\\) result"):
        mechanism.marginal_effects(did.twfe(sim.data, "Safety", "Dual_policy"), [0.0])
    with pytest.raises(DidArgumentError, match="on_outcome=nan must be a finite number"):
        mechanism.add_mediator_confounder(sim.data, "TI", "Safety", 0.3, float("nan"), mediator_effect=0.0, seed=1)
    with pytest.raises(DidArgumentError, match="the mediator and the outcome are the same column"):
        mechanism.add_mediator_confounder(sim.data, "TI", "TI", 0.3, 0.1, mediator_effect=0.0, seed=1)


# ----------------------------------------------------------------------------------------------
# 7. Channels fitted jointly
# ----------------------------------------------------------------------------------------------

def two_mediator_panel(n_units=150, n_years=8, b=(-0.5, 0.8), noise=1.0, seed=0):
    """A staggered panel with two correlated mediators: both respond to D and share a common
    within-unit shock, and both move y. Fitted one at a time, each b takes up part of the other's."""
    rng = np.random.default_rng(seed)
    unit = np.repeat(np.arange(n_units), n_years)
    year = np.tile(np.arange(2000, 2000 + n_years), n_units)
    adoption = np.where(rng.random(n_units) < 0.5, rng.integers(2002, 2000 + n_years, n_units), 9999)
    treatment = (year >= adoption[unit]).astype(float)
    common = rng.normal(size=len(unit))
    x = rng.normal(size=len(unit))
    m1 = 0.6 * treatment + common + 0.3 * x + rng.normal(size=n_units)[unit] + rng.normal(size=len(unit))
    m2 = -0.4 * treatment + common + rng.normal(size=n_units)[unit] + rng.normal(size=len(unit))
    y = (-1.0 * treatment + b[0] * m1 + b[1] * m2 + 0.2 * x + rng.normal(size=n_units)[unit]
         + 0.05 * (year - 2000) + noise * rng.normal(size=len(unit)))
    return pd.DataFrame({"unit": unit, "year": year, "y": y, "D": treatment, "M1": m1, "M2": m2, "x": x})


def test_a_joint_fit_recovers_both_paths_where_one_at_a_time_does_not():
    panel = two_mediator_panel(noise=0.0)
    joint = mechanism.joint_mediation(panel, "y", "D", ("M1", "M2"), "x", unit="unit", time="year")
    assert joint.b("M1") == pytest.approx(-0.5, abs=1e-8) and joint.b("M2") == pytest.approx(0.8, abs=1e-8)
    assert joint.direct == pytest.approx(-1.0, abs=1e-8)
    alone = mechanism.mediation(panel, "y", "D", "M1", "x", unit="unit", time="year")
    assert abs(alone.b - -0.5) > 0.1  # the omitted M2 moves with M1 and moves y
    paths = joint.paths()
    assert paths["total"] == pytest.approx(paths["direct"] + paths["indirect"], abs=1e-10)
    assert paths["indirect"] == pytest.approx(paths["indirect_M1"] + paths["indirect_M2"])


def test_a_joint_fit_of_one_mediator_is_the_stepwise_fit(sim, channels):
    joint = mechanism.joint_mediation(sim.data, "Safety", "Dual_policy", ["TI"], CONTROLS)
    expected = channels["TI"].paths()
    got = joint.paths()
    for name, label in (("a", "a_TI"), ("b", "b_TI"), ("indirect", "indirect"), ("direct", "direct"),
                        ("total", "total")):
        assert got[label] == pytest.approx(expected[name], abs=1e-10)


def test_the_joint_bootstrap_draw_equals_pyfixest_on_the_duplicated_sample():
    panel = two_mediator_panel(n_units=40, seed=4)
    units = panel["unit"].unique()
    rng = np.random.default_rng(5)
    counts = pd.Series(rng.integers(len(units), size=len(units))).value_counts()
    counts.index = units[counts.index]
    weights = panel["unit"].map(counts).fillna(0).to_numpy()
    values = panel[["y", "M1", "M2", "D", "x"]].to_numpy()
    codes = pd.factorize(panel["unit"])[0], pd.factorize(panel["year"])[0]
    cross = mechanism._demeaned_cross_products(values, *codes, weights)
    fast = pd.Series(mechanism._joint_paths_from_cross_products(cross, 2, 1),
                     index=mechanism._joint_labels(("M1", "M2")))
    duplicated = _duplicated_sample(panel, counts, "unit")
    outcome = pf.feols("y ~ D + M1 + M2 + x | unit + year", data=duplicated).coef()
    assert fast["b_M1"] == pytest.approx(outcome["M1"], abs=1e-8)
    assert fast["b_M2"] == pytest.approx(outcome["M2"], abs=1e-8)
    assert fast["direct"] == pytest.approx(outcome["D"], abs=1e-8)
    assert fast["a_M2"] == pytest.approx(pf.feols("M2 ~ D + x | unit + year", data=duplicated).coef()["D"], abs=1e-8)
    assert fast["total"] == pytest.approx(pf.feols("y ~ D + x | unit + year", data=duplicated).coef()["D"], abs=1e-8)


def test_the_joint_bootstrap_of_one_mediator_repeats_the_stepwise_bootstrap(sim):
    small = sim.data[sim.data["city"].isin(sim.data["city"].unique()[:80])]
    one = mechanism.bootstrap_mediation(small, "Safety", "Dual_policy", "TI", CONTROLS, n_boot=30, seed=3,
                                        progress=False)
    joint = mechanism.bootstrap_joint_mediation(small, "Safety", "Dual_policy", ["TI"], CONTROLS, n_boot=30,
                                                seed=3, progress=False)
    np.testing.assert_allclose(joint.extra["draws"]["b_TI"], one.extra["draws"]["b"], atol=1e-10)
    np.testing.assert_allclose(joint.extra["draws"]["indirect"], one.extra["draws"]["indirect"], atol=1e-10)
    assert joint.extra["identity_gap"] < 1e-10
    assert joint.table.loc["indirect", "p_value"] >= 2 / 31  # the floor of a bootstrap p-value


# ----------------------------------------------------------------------------------------------
# 8. Sensitivity to a mediator-outcome confounder
# ----------------------------------------------------------------------------------------------

def _within(frame: pd.DataFrame, column: str) -> np.ndarray:
    """Two-way demeaning of a balanced panel, the textbook way."""
    values = frame[column]
    return (values - values.groupby(frame["unit"]).transform("mean") - values.groupby(frame["year"]).transform("mean")
            + values.mean()).to_numpy()


def _medsens(y, m, d, x, rho, tolerance=1e-16):
    """The R package mediation's medsens for two linear models: seemingly unrelated regressions of
    the mediator and outcome equations, iterated feasible GLS with the error correlation fixed at
    rho; the indirect effect is the product of the treatment's coefficient in the mediator
    equation and the mediator's in the outcome equation."""
    n = len(y)
    mediator_x, outcome_x = np.column_stack([d, x]), np.column_stack([d, m, x])
    stacked_x = np.block([[mediator_x, np.zeros((n, 3))], [np.zeros((n, 2)), outcome_x]])
    stacked_y = np.concatenate([m, y])
    coefficients = np.linalg.lstsq(stacked_x, stacked_y, rcond=None)[0]
    for _ in range(500):
        residuals = stacked_y - stacked_x @ coefficients
        e1, e2 = residuals[:n], residuals[n:]
        s1, s2 = e1.std(ddof=1), e2.std(ddof=1)
        omega = np.array([[e1 @ e1 / (n - 1), rho * s1 * s2], [rho * s1 * s2, e2 @ e2 / (n - 1)]])
        weight = np.kron(np.linalg.inv(omega), np.eye(n))
        new = np.linalg.solve(stacked_x.T @ weight @ stacked_x, stacked_x.T @ weight @ stacked_y)
        converged = np.sum((new - coefficients) ** 2) < tolerance
        coefficients = new
        if converged:
            break
    return coefficients[0] * coefficients[3]


def test_the_sensitivity_curve_equals_medsens_iterated_sur():
    panel = constructed_panel(n_units=60, n_years=6, seed=21)
    sens = mechanism.mediation_sensitivity(panel, "y", "D", "M", "x", unit="unit", time="year",
                                           rho=[-0.4, -0.1, 0.0, 0.3, 0.6])
    y, m, d, x = (_within(panel, column) for column in ("y", "M", "D", "x"))
    for rho in (-0.4, -0.1, 0.0, 0.3, 0.6):
        assert sens.indirect_at(rho) == pytest.approx(_medsens(y, m, d, x, rho), abs=1e-6)
        assert sens.table.loc[rho, "indirect"] == pytest.approx(sens.indirect_at(rho), abs=1e-12)


def test_the_sensitivity_curve_inverts_the_error_correlation_by_root_finding(sim, channels):
    from scipy.optimize import brentq

    result = channels["TI"]
    sens = mechanism.mediation_sensitivity(sim.data, "Safety", "Dual_policy", "TI", CONTROLS)
    # at rho = 0 the stepwise a x b (pyfixest)
    assert sens.indirect_at(0.0) == pytest.approx(result.indirect, abs=1e-10)
    # the breakdown point is the correlation of the total-equation and mediator-equation residuals
    e1 = np.asarray(result.total_model.fitted.resid())
    e2 = np.asarray(result.mediator_model.fitted.resid())
    assert sens.breakdown_rho == pytest.approx(np.corrcoef(e1, e2)[0, 1], abs=1e-8)
    assert sens.indirect_at(sens.breakdown_rho) == pytest.approx(0.0, abs=1e-10)
    # for each rho, the b whose outcome-equation error e1 - b e2 correlates with e2 by rho
    for rho in (-0.3, 0.1, 0.45):
        b = brentq(lambda value: np.corrcoef(e2, e1 - value * e2)[0, 1] - rho, -50, 50)
        assert sens.indirect_at(rho) == pytest.approx(result.a * b, rel=1e-7)
        assert sens.rho_for_b(b) == pytest.approx(rho, abs=1e-9)


def test_at_the_true_error_correlation_the_curve_recovers_the_true_indirect_effect():
    """Linear structural equations with correlated errors (a mediator-outcome confounder): the
    stepwise a b is biased, the curve at the true rho is not (large sample)."""
    rng = np.random.default_rng(8)
    n_units, n_years, a, b, rho = 2000, 4, 0.5, -0.6, 0.4
    unit = np.repeat(np.arange(n_units), n_years)
    year = np.tile(np.arange(n_years), n_units)
    treatment = (year >= rng.integers(1, 6, n_units)[unit]).astype(float)
    errors = rng.multivariate_normal([0, 0], [[1.0, rho], [rho, 1.0]], size=len(unit))
    x = rng.normal(size=len(unit))
    mediator = a * treatment + 0.3 * x + rng.normal(size=n_units)[unit] + errors[:, 0]
    outcome = -1.0 * treatment + b * mediator + 0.2 * x + rng.normal(size=n_units)[unit] + errors[:, 1]
    panel = pd.DataFrame({"unit": unit, "year": year, "y": outcome, "D": treatment, "M": mediator, "x": x})
    sens = mechanism.mediation_sensitivity(panel, "y", "D", "M", "x", unit="unit", time="year")
    assert abs(sens.indirect_at(0.0) - a * b) > 0.1  # the stepwise estimate is biased
    assert sens.indirect_at(rho) == pytest.approx(a * b, abs=0.03)


def test_the_sensitivity_bootstrap_band_contains_the_curve(sim):
    sens = mechanism.mediation_sensitivity(sim.data, "Safety", "Dual_policy", "TI", CONTROLS, rho=[-0.2, 0.0, 0.2],
                                           n_boot=49, seed=2)
    table = sens.table
    assert ((table["ci_low"] <= table["indirect"]) & (table["indirect"] <= table["ci_high"])).all()
    low, high = sens.breakdown_interval
    assert low <= sens.breakdown_rho <= high
    with pytest.raises(DidArgumentError, match="strictly between -1 and 1"):
        mechanism.mediation_sensitivity(sim.data, "Safety", "Dual_policy", "TI", CONTROLS, rho=[1.0])


# ----------------------------------------------------------------------------------------------
# 9. The binning estimator (Hainmueller, Mummolo and Xu)
# ----------------------------------------------------------------------------------------------

def test_one_bin_is_the_linear_interaction_at_the_treated_median(sim):
    binned = mechanism.binned_marginal_effects(sim.data, "Safety", "Dual_policy", "SR", CONTROLS, bins=1)
    treated_sr = sim.data.loc[sim.data["Dual_policy"] == 1, "SR"]
    at = float(np.median(treated_sr))
    assert binned["at"].iloc[0] == pytest.approx(at)
    linear = mechanism.marginal_effects(mechanism.moderation(sim.data, "Safety", "Dual_policy", "SR", CONTROLS), [at])
    assert binned["estimate"].iloc[0] == pytest.approx(linear["estimate"].iloc[0], abs=1e-10)
    assert binned["std_error"].iloc[0] == pytest.approx(linear["std_error"].iloc[0], rel=1e-8)
    assert binned["n_treated"].iloc[0] == len(treated_sr)


def test_bins_recover_a_step_in_the_effect_that_a_line_misses():
    panel = constructed_panel(n_units=400, noise=0.3, seed=30)
    z = panel["Z"].to_numpy()
    treated = panel["D"].to_numpy() == 1
    cuts = np.quantile(z[treated], [1 / 3, 2 / 3])
    step = np.select([z < cuts[0], z < cuts[1]], [-2.0, 0.0], 1.0)  # effect -2, 0, +1 by tercile
    panel["y2"] = panel["y"] + panel["D"] * step
    binned = mechanism.binned_marginal_effects(panel, "y2", "D", "Z", "x", bins=3, unit="unit", time="year")
    baseline = mechanism.binned_marginal_effects(panel, "y", "D", "Z", "x", bins=3, unit="unit", time="year")
    shift = binned["estimate"].to_numpy() - baseline["estimate"].to_numpy()
    np.testing.assert_allclose(shift, [-2.0, 0.0, 1.0], atol=0.1)
    assert binned["n_treated"].max() - binned["n_treated"].min() <= 2  # terciles of the treated rows
    with pytest.raises(DidArgumentError, match="bin_on='some' must be 'treated' or 'all'"):
        mechanism.binned_marginal_effects(panel, "y", "D", "Z", bin_on="some", unit="unit", time="year")


# ----------------------------------------------------------------------------------------------
# 10. The chapter's figures draw
# ----------------------------------------------------------------------------------------------

def test_the_mechanism_figures_draw(sim):
    import matplotlib

    matplotlib.use("Agg")
    from citypilots.report import plots

    moderated = mechanism.moderation(sim.data, "Safety", "Dual_policy", "SR", CONTROLS)
    effects = mechanism.marginal_effects(moderated, np.linspace(0.0005, 0.01, 10))
    binned = mechanism.binned_marginal_effects(sim.data, "Safety", "Dual_policy", "SR", CONTROLS)
    figure = plots.marginal_effect_plot(effects, moderator_values=sim.data.loc[sim.data["Dual_policy"] == 1, "SR"],
                                        binned=binned, histogram_label="treated")
    assert len(figure.axes) == 2 and figure.axes[1].get_ylabel() == "treated"
    curves = {m: mechanism.mediation_sensitivity(sim.data, "Safety", "Dual_policy", m, CONTROLS, rho=[-0.2, 0.0, 0.2])
              for m in ("TI", "IU")}
    assert len(plots.mediation_sensitivity_plot(curves, {"TI": -0.04}, {"TI": 0.02}).axes) == 2
    data = sim.data.assign(cohort=sim.data["dual_year"].astype("Float64"))
    studies = {v: did.event_study(data, v, "cohort", CONTROLS, window=(-3, 3)) for v in ("TI", "SR")}
    assert len(plots.mediator_event_study_plot(studies).axes) == 2


def test_sobel_is_the_delta_method_of_a_times_b():
    """The delta-method standard error of a b, written out, and a numerical gradient of a b with
    the two paths' variances (independent) give the same number."""
    from citypilots.simulation.generator import simulate_panel

    data = simulate_panel().data
    result = mechanism.mediation(data, "Safety", "Dual_policy", "TI", CONTROLS)
    out = result.sobel()
    se_a = result.mediator_model.table.loc["Dual_policy", "std_error"]
    se_b = result.outcome_model.table.loc["TI", "std_error"]
    step = 1e-6
    gradient = np.array([((result.a + step) * result.b - (result.a - step) * result.b) / (2 * step),
                         (result.a * (result.b + step) - result.a * (result.b - step)) / (2 * step)])
    numerical = float(np.sqrt(gradient @ np.diag([se_a**2, se_b**2]) @ gradient))
    assert out["estimate"] == pytest.approx(result.a * result.b)
    assert out["std_error"] == pytest.approx(numerical, rel=1e-6)
    assert out["ci_high"] - out["estimate"] == pytest.approx(1.959964 * out["std_error"], rel=1e-6)
    assert result.sobel(alpha=0.1)["ci_high"] < out["ci_high"]
