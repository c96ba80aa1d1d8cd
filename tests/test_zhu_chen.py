"""The simulated panel of the companion study Zhu and Chen (2025): sample, index, potential
outcomes, estimands and null worlds (citypilots.simulation.zhu_chen)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from citypilots.data.cities import cities_present_throughout
from citypilots.data.indices import entropy_index
from citypilots.data.pilots import adoption_years
from citypilots.simulation import zhu_chen
from citypilots.simulation.generator import round_significant
from citypilots.simulation.montecarlo import run_one_seed, simulator_of
from citypilots.simulation.specification import load_spec


@pytest.fixture(scope="module")
def sim():
    return zhu_chen.simulate_panel()


def test_the_sample_is_every_city_present_from_2011_with_the_smart_city_calendar(sim):
    data = sim.data
    assert data["city"].nunique() == 287 and sorted(data["year"].unique()) == list(range(2011, 2023))
    assert len(data) == 287 * 12
    assert set(data["city"]) == set(cities_present_throughout(2011)["adcode"])
    first = adoption_years("smart_city")["year"]
    on = data.loc[data["Smart_policy"] == 1].groupby("city")["year"].min()
    assert on.to_dict() == first[first.index.isin(data["city"])].to_dict()
    assert set(data["region"]) == {"east", "central", "west"}


def test_the_outcome_is_the_entropy_index_of_the_panels_indicators(sim):
    names = zhu_chen.indicator_names(sim.spec)
    index = entropy_index(sim.data[names], negative=zhu_chen.negative_indicators(sim.spec))
    np.testing.assert_allclose(sim.data["NQP"], index, rtol=1e-5)
    np.testing.assert_array_equal(sim.data["NQP"], sim.truth.potential_outcomes["NQP_smart"])
    assert sim.truth.index_weights.sum() == pytest.approx(1.0)


def test_every_simulated_float_is_rounded(sim):
    for column in ["NQP", *zhu_chen.indicator_names(sim.spec), *zhu_chen.COVARIATES, "urban_population"]:
        values = sim.data[column].to_numpy(dtype=float)
        np.testing.assert_array_equal(values, round_significant(values), err_msg=column)


def test_same_seed_same_panel_another_seed_another(sim):
    again = zhu_chen.simulate_panel()
    pd.testing.assert_frame_equal(sim.data, again.data)
    other = zhu_chen.simulate_panel(seed=1)
    assert not np.allclose(other.data["NQP"], sim.data["NQP"])
    np.testing.assert_array_equal(other.data["Smart_policy"], sim.data["Smart_policy"])


def test_the_untreated_world_differs_only_where_the_pilot_is_in_force(sim):
    po, treated = sim.truth.potential_outcomes, sim.data["Smart_policy"].to_numpy() == 1
    for world in zhu_chen.WORLDS:
        gap = (po[f"NQP_{world}"] - po["NQP_none"]).to_numpy()
        assert np.abs(gap[~treated]).max() < 1e-5, world


def test_the_parts_add_up_to_the_effect_on_the_index(sim):
    truth = sim.truth
    parts = truth.estimand("direct") + truth.estimand("mediated_HC") + truth.estimand("mediated_ST")
    assert truth.estimand("smart_city") == pytest.approx(parts, abs=1e-5)
    assert truth.estimand("mediator_shift_HC") == pytest.approx(sim.spec["effects"]["mediators"]["HC"]["a"], abs=1e-4)


def planted_index_effect(sim) -> np.ndarray:
    """The effect the specification plants on the index of each city-year, before the floor and
    the rounding: sum_k w_k s_k sd_k (beta_k m_it + sum_m l_km a_m / sd_m) / range_k."""
    spec, data = sim.spec, sim.data
    effects, cov = spec["effects"], spec["covariates"]
    threshold = effects["threshold"]
    multiplier = (np.where(data["ISU"] <= threshold["value"], threshold["below"], threshold["above"])
                  * data["region"].map(effects["region"]).to_numpy()
                  * np.where(data["large_city"], effects["size"]["large"], effects["size"]["medium_small"]))
    total = np.zeros(len(data))
    for k in zhu_chen.indicator_names(spec):
        indicator = spec["indicators"][k]
        shift = effects["direct"][k] * multiplier + sum(
            indicator["loading"][m] * effects["mediators"][m]["a"] / cov[m]["sd"] for m in zhu_chen.MEDIATORS)
        sign = -1.0 if indicator["negative"] else 1.0
        span = data[k].max() - data[k].min()
        total += sim.truth.index_weights[k] * sign * indicator["sd"] * shift / span
    return total * data["Smart_policy"].to_numpy()


def test_the_realised_effect_is_what_the_specification_plants(sim):
    realised = sim.truth.contrast("smart_city").to_numpy()
    treated = sim.data["Smart_policy"].to_numpy() == 1
    assert sim.truth.bound_share() < 0.01
    kept = treated & ~sim.truth.at_bound
    np.testing.assert_allclose(realised[kept], planted_index_effect(sim)[kept], atol=2e-5)


def test_the_threshold_region_and_size_are_realised(sim):
    truth = sim.truth
    assert truth.estimand("regime_above") > 1.3 * truth.estimand("regime_below") > 0
    assert truth.estimand("region_central") < 0.6 * min(truth.estimand("region_east"), truth.estimand("region_west"))
    assert truth.estimand("size_large") < 0.6 * truth.estimand("size_medium_small")


@pytest.mark.parametrize("name", zhu_chen.ESTIMANDS)
def test_each_estimand_is_zero_in_its_null_world(name):
    null = zhu_chen.simulate_panel(overrides=zhu_chen.null_world(name))
    assert null.truth.estimand(name) == pytest.approx(0.0, abs=1e-5)


def test_without_the_threshold_the_effect_does_not_jump_at_it():
    """In the threshold's null world the effect of a city-year depends on its region and size only."""
    for overrides, flat in ((zhu_chen.null_world("threshold"), True), ({}, False)):
        sim = zhu_chen.simulate_panel(overrides=overrides)
        treated = sim.data["Smart_policy"] == 1
        contrast = sim.truth.contrast("smart_city")[treated]
        spread = contrast.groupby([sim.data.loc[treated, "region"], sim.data.loc[treated, "large_city"]]).std()
        assert (spread.max() < 1e-5) == flat


def test_unknown_estimands_and_bad_masks_are_errors(sim):
    with pytest.raises(KeyError, match="unknown estimand"):
        sim.truth.estimand("synergy")
    with pytest.raises(ValueError, match="one entry per panel row"):
        sim.truth.estimand("smart_city", rows=np.ones(3, dtype=bool))
    with pytest.raises(KeyError, match="no null world"):
        zhu_chen.null_world("synergy")


def test_the_monte_carlo_machinery_simulates_with_this_generator():
    spec = load_spec("zhu_chen")
    assert simulator_of(spec) is zhu_chen.simulate_panel
    row = run_one_seed(_mean_outcome, spec, 3, truths=("smart_city",))
    assert row["seed"] == 3 and row["truth_smart_city"] > 0


def _mean_outcome(panel) -> dict:
    return {"mean": float(panel.data["NQP"].mean())}
