"""Estimates by group and tests of their differences (citypilots.estimators.heterogeneity).

Evidence that the numbers are right:

1. two implementations agree: the fully interacted regression reproduces the split-sample
   regressions' coefficients exactly, and its standard errors up to the small-sample factor;
2. planted differences: on a constructed panel with known group effects the interacted model
   recovers each group effect and the difference, and a panel without a difference passes the
   equality test; on a noiseless panel the estimates equal the planted effects;
3. the difference tests are the textbook formulas (independent estimates; a Wald test equal to
   the squared t of a two-group difference);
4. the 2014 size classes reproduce the simulation's own classes;
5. arguments: a split with a single group, a group that varies within a unit, missing groups,
   a group without treated units raise DidArgumentError with a clear message.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from citypilots.estimators import did, heterogeneity
from citypilots.estimators.estimates import DidArgumentError
from citypilots.data.panel import CONTROLS
from citypilots.simulation.generator import simulate_panel

# ----------------------------------------------------------------------------------------------
# Fixtures
# ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sim():
    return simulate_panel()


@pytest.fixture(scope="module")
def region(sim):
    return sim.cities.set_index("adcode")["region"]


def grouped_panel(effects={"a": -1.0, "b": -0.4, "c": -0.4}, n_units=240, n_years=12, noise=0.5, seed=0):
    """A staggered panel with a constant treatment effect per group; group-specific year effects.

    Units are split evenly among the groups; in each group half adopt in a year drawn from the
    middle of the window. The control x differs in its effect by group.
    """
    rng = np.random.default_rng(seed)
    labels = list(effects)
    unit = np.repeat(np.arange(n_units), n_years)
    year = np.tile(np.arange(2010, 2010 + n_years), n_units)
    unit_group = np.array(labels)[np.arange(n_units) % len(labels)]
    adopts = rng.random(n_units) < 0.5
    adoption = np.where(adopts, rng.integers(2013, 2010 + n_years - 1, n_units), 9999)
    treatment = (year >= adoption[unit]).astype(float)
    group = unit_group[unit]
    effect = np.array([effects[g] for g in group])
    slope = np.array([{label: 0.2 * k for k, label in enumerate(labels)}[g] for g in group])
    x = rng.normal(size=len(unit)) + 0.3 * treatment
    year_effect = np.array([labels.index(g) for g in group]) * 0.1 * (year - 2010)
    unit_effect = rng.normal(size=n_units) + adopts
    y = effect * treatment + slope * x + unit_effect[unit] + year_effect + noise * rng.normal(size=len(unit))
    return pd.DataFrame({"unit": unit, "year": year, "y": y, "D": treatment, "x": x, "group": group})


# ----------------------------------------------------------------------------------------------
# 1. Pooled and separate regressions agree
# ----------------------------------------------------------------------------------------------

def test_the_interacted_model_reproduces_the_split_sample_estimates(sim, region):
    separate = heterogeneity.split_twfe(sim.data, "Safety", "Dual_policy", region, CONTROLS)
    pooled = heterogeneity.fully_interacted_twfe(sim.data, "Safety", "Dual_policy", region, CONTROLS)
    groups = ["central", "east", "west"]
    assert list(separate.table.index) == groups
    np.testing.assert_allclose(pooled.table.loc[groups, "estimate"], separate.table["estimate"], atol=1e-10)
    # standard errors differ only by the small-sample factor (pooled N, K and G)
    ratio = pooled.table.loc[groups, "std_error"] / separate.table["std_error"]
    assert ratio.between(0.98, 1.02).all()
    for group in groups:
        alone = did.twfe(sim.data[sim.data["city"].map(region).eq(group)], "Safety", "Dual_policy", CONTROLS)
        assert separate.table.loc[group, "estimate"] == pytest.approx(alone.estimate(), abs=1e-12)
        assert separate.table.loc[group, "n_units"] == alone.n_units


def test_differences_use_the_pooled_covariance_with_zero_cross_terms(sim, region):
    pooled = heterogeneity.fully_interacted_twfe(sim.data, "Safety", "Dual_policy", region, CONTROLS,
                                                 reference="east")
    table = pooled.table
    for group in ("central", "west"):
        row = table.loc[f"{group} - east"]
        assert row["estimate"] == pytest.approx(table.loc[group, "estimate"] - table.loc["east", "estimate"])
        # clusters (cities) are nested in groups: the group estimates are uncorrelated
        assert row["std_error"] == pytest.approx(np.hypot(table.loc[group, "std_error"], table.loc["east", "std_error"]),
                                                 rel=1e-6)


# ----------------------------------------------------------------------------------------------
# 2. Planted group effects and differences
# ----------------------------------------------------------------------------------------------

def test_planted_group_effects_and_their_difference_are_recovered():
    panel = grouped_panel(effects={"a": -1.0, "b": -0.4}, noise=0.5, seed=1)
    result = heterogeneity.fully_interacted_twfe(panel, "y", "D", "group", controls="x", unit="unit", time="year")
    for group, planted in (("a", -1.0), ("b", -0.4)):
        low, high = result.conf_int(group)
        assert low <= planted <= high
    low, high = result.conf_int("b - a")
    assert low <= 0.6 <= high and low > 0  # the difference is recovered and detected
    assert result.extra["equality_test"]["p_value"] < 0.001


def test_no_planted_difference_is_not_rejected():
    panel = grouped_panel(effects={"a": -0.5, "b": -0.5, "c": -0.5}, noise=0.5, seed=2)
    result = heterogeneity.fully_interacted_twfe(panel, "y", "D", "group", controls="x", unit="unit", time="year")
    assert result.extra["equality_test"]["p_value"] > 0.05
    assert result.extra["equality_test"]["df"] == (2, panel["unit"].nunique() - 1)


def test_without_noise_the_group_effects_are_exact():
    panel = grouped_panel(effects={"a": -1.0, "b": -0.4, "c": 0.3}, noise=0.0, seed=3)
    result = heterogeneity.split_twfe(panel, "y", "D", "group", controls="x", unit="unit", time="year")
    np.testing.assert_allclose(result.table["estimate"], [-1.0, -0.4, 0.3], atol=1e-8)


def test_by_group_runs_any_estimator_and_reports_groups_too_small(sim, region):
    cities = sim.cities.set_index("adcode")
    sample = sim.data[sim.data["city"].map(cities["group"]).isin(["dual", "none"])]
    result = heterogeneity.by_group(
        sample, region, lambda part: did.imputation(part, "Safety", "city", "year", "dual_year"),
        treatment="Dual_policy", min_treated_units=11, min_untreated_units=5)
    assert np.isnan(result.table.loc["west", "estimate"])  # 10 dual-pilot cities in the west
    assert "10 treated" in result.extra["skipped"]["west"]
    east = sample[sample["city"].map(region).eq("east")]
    assert result.table.loc["east", "estimate"] == pytest.approx(
        did.imputation(east, "Safety", "city", "year", "dual_year").estimate())


# ----------------------------------------------------------------------------------------------
# 3. The difference tests
# ----------------------------------------------------------------------------------------------

def test_independent_difference_of_the_papers_region_coefficients():
    # Table 8, columns 5 and 7: east -0.572 (0.133), west -0.107 (0.098)
    test = heterogeneity.independent_difference(-0.107, 0.098, -0.572, 0.133)
    assert test["difference"] == pytest.approx(0.465)
    assert test["std_error"] == pytest.approx(np.sqrt(0.098**2 + 0.133**2))
    assert test["p_value"] == pytest.approx(2 * stats.norm.sf(0.465 / np.sqrt(0.098**2 + 0.133**2)))
    assert test["ci_low"] < 0.465 < test["ci_high"]


def test_two_group_equality_test_is_the_squared_z():
    difference = heterogeneity.independent_difference(-0.296, 0.103, -0.587, 0.103)
    equality = heterogeneity.independent_equality_test([-0.296, -0.587], [0.103, 0.103])
    assert equality["statistic"] == pytest.approx(difference["z"] ** 2)
    assert equality["p_value"] == pytest.approx(difference["p_value"])
    assert equality["pooled"] == pytest.approx((-0.296 - 0.587) / 2)


def test_two_group_wald_test_is_the_squared_t_of_the_difference():
    panel = grouped_panel(effects={"a": -1.0, "b": -0.6}, seed=4)
    result = heterogeneity.fully_interacted_twfe(panel, "y", "D", "group", unit="unit", time="year")
    row = result.table.loc["b - a"]
    assert result.extra["equality_test"]["statistic"] == pytest.approx((row["estimate"] / row["std_error"]) ** 2)
    assert result.extra["equality_test"]["p_value"] == pytest.approx(row["p_value"])


# ----------------------------------------------------------------------------------------------
# 4. The 2014 size classes
# ----------------------------------------------------------------------------------------------

def test_size_classes_reproduce_the_simulations_classes(sim):
    cities = sim.cities
    classes = heterogeneity.size_class_2014(cities["urban_population_2014"])
    assert (classes.to_numpy() == cities["size_class_2014"].to_numpy()).all()
    assert (classes.isin(["large", "very large", "megacity"]).to_numpy() == cities["large_city"].to_numpy()).all()
    assert int(cities["large_city"].sum()) == sim.spec["size_classes"]["large_cities"]


def test_size_class_bounds_include_the_lower_bound():
    classes = heterogeneity.size_class_2014(pd.Series([0, 49.99, 50, 99.9, 100, 499, 500, 999, 1000, 2500]))
    assert list(classes) == ["small", "small", "medium", "medium", "large", "large", "very large", "very large",
                             "megacity", "megacity"]
    with pytest.raises(DidArgumentError, match="non-negative number: 2 values"):
        heterogeneity.size_class_2014(pd.Series([10.0, np.nan, -3.0]))


# ----------------------------------------------------------------------------------------------
# 5. Arguments
# ----------------------------------------------------------------------------------------------

def test_a_split_with_a_single_group_is_refused(sim):
    one_group = pd.Series("east", index=sim.cities["adcode"], name="region")
    for call in (heterogeneity.split_twfe, heterogeneity.fully_interacted_twfe):
        with pytest.raises(DidArgumentError, match="group 'region' has a single group \\('east'\\): a split needs"):
            call(sim.data, "Safety", "Dual_policy", one_group, CONTROLS)


def test_a_group_must_be_constant_within_units_and_known_for_all(sim, region):
    data = sim.data.assign(period=np.where(sim.data["year"] < 2016, "early", "late"))
    with pytest.raises(DidArgumentError, match="must be constant within each city: 218 units change group"):
        heterogeneity.split_twfe(data, "Safety", "Dual_policy", "period")
    partial = region.iloc[:200]
    with pytest.raises(DidArgumentError, match="group 'region' is missing for 18 units \\(city "):
        heterogeneity.fully_interacted_twfe(sim.data, "Safety", "Dual_policy", partial)


def test_a_group_without_treated_units_is_refused(sim):
    groups = sim.cities.set_index("adcode")["group"].rename("pilot_group")
    with pytest.raises(DidArgumentError, match="groups \\['none', 'single'\\] of 'pilot_group' have no treated city"):
        heterogeneity.split_twfe(sim.data, "Safety", "Dual_policy", groups, CONTROLS)


def test_unknown_columns_and_a_bad_reference_are_named(sim, region):
    with pytest.raises(DidArgumentError, match="unknown column 'regoin'"):
        heterogeneity.split_twfe(sim.data, "Safety", "Dual_policy", "regoin")
    with pytest.raises(DidArgumentError, match="reference group 'north' is not a group of 'region'"):
        heterogeneity.fully_interacted_twfe(sim.data, "Safety", "Dual_policy", region, reference="north")
    with pytest.raises(DidArgumentError, match="standard errors must be finite"):
        heterogeneity.independent_difference(-0.1, np.nan, -0.2, 0.1)


def test_clusters_that_span_groups_are_refused(sim):
    cities = sim.cities.set_index("adcode")
    data = sim.data.assign(province=sim.data["city"].map(cities["province_en"]))
    with pytest.raises(DidArgumentError, match="clusters must not span groups: province"):
        heterogeneity.fully_interacted_twfe(data, "Safety", "Dual_policy", cities["resource_based"].rename("resource"),
                                            cluster="province")


# ----------------------------------------------------------------------------------------------
# 6. Every pair of groups, and Holm's adjustment
# ----------------------------------------------------------------------------------------------

def test_pairwise_differences_match_the_reference_rows_and_the_covariance(sim, region):
    pooled = heterogeneity.fully_interacted_twfe(sim.data, "Safety", "Dual_policy", region, CONTROLS,
                                                 reference="east")
    pairs = heterogeneity.pairwise_differences(pooled)
    assert list(pairs.index) == ["east - central", "west - central", "west - east"]
    for label in ("west - east",):
        np.testing.assert_allclose(pairs.loc[label].to_numpy(), pooled.table.loc[label].to_numpy(), atol=1e-12)
    # west - central by hand from the pooled covariance (zero across groups: clusters nested)
    covariance = pd.DataFrame(pooled.fitted._vcov, index=pooled.fitted._coefnames, columns=pooled.fitted._coefnames)
    terms = pooled.extra["terms"]
    assert covariance.loc[terms["west"], terms["central"]] == pytest.approx(0.0, abs=1e-12)
    se = np.sqrt(covariance.loc[terms["west"], terms["west"]] + covariance.loc[terms["central"], terms["central"]])
    assert pairs.loc["west - central", "std_error"] == pytest.approx(se, rel=1e-12)
    df = pooled.extra["n_clusters"] - 1
    t = pairs.loc["west - central", "estimate"] / se
    assert pairs.loc["west - central", "p_value"] == pytest.approx(2 * stats.t.sf(abs(t), df), rel=1e-10)
    chosen = heterogeneity.pairwise_differences(pooled, [("west", "central")])
    assert list(chosen.index) == ["west - central"]
    with pytest.raises(DidArgumentError, match="not groups"):
        heterogeneity.pairwise_differences(pooled, [("north", "east")])
    separate = heterogeneity.split_twfe(sim.data, "Safety", "Dual_policy", region, CONTROLS)
    with pytest.raises(DidArgumentError, match="fully_interacted_twfe"):
        heterogeneity.pairwise_differences(separate)


def test_holm_is_the_step_down_rule_and_keeps_the_index():
    p = pd.Series({"a": 0.01, "b": 0.04, "c": 0.03, "d": 0.20, "e": np.nan})
    adjusted = heterogeneity.holm(p)
    # sorted 0.01, 0.03, 0.04, 0.20 (m = 4): 0.04, 0.09, 0.09 (running maximum of 0.08), 0.20
    expected = pd.Series({"a": 0.04, "b": 0.09, "c": 0.09, "d": 0.20, "e": np.nan})
    pd.testing.assert_series_equal(adjusted, expected, check_names=False)
    assert heterogeneity.holm([0.5, 0.9]).tolist() == [1.0, 1.0]
    with pytest.raises(DidArgumentError, match="between 0 and 1"):
        heterogeneity.holm([0.5, 1.5])
