"""The companion panel of Gao, Han and Han: generator, potential quotients, truth, null worlds."""

import numpy as np
import pandas as pd
import pytest

from citypilots.data.indices import location_quotient
from citypilots.simulation import gao
from citypilots.simulation.montecarlo import run_one_seed, simulator_of
from citypilots.simulation.specification import load_spec


@pytest.fixture(scope="module")
def panel():
    return gao.simulate_panel()


def test_reproducible_and_named_generator(panel):
    again = gao.simulate_panel()
    pd.testing.assert_frame_equal(panel.data, again.data)
    assert simulator_of(load_spec("gao")) is gao.simulate_panel
    row = run_one_seed(lambda p: {"n": len(p.data)}, load_spec("gao"), 1, truths=("synergy",))
    assert row["n"] == len(panel.data) and np.isfinite(row["truth_synergy"])


def test_sample_is_every_real_city_with_the_real_calendars(panel):
    cities = panel.cities
    assert len(cities) == 297 and panel.data["year"].agg(["min", "max"]).tolist() == [2006, 2023]
    assert len(panel.data) == 297 * 18
    assert cities["low_carbon_year"].notna().sum() == 126 and not cities["low_carbon_year_imputed"].any()
    assert cities["smart_year"].notna().sum() == 104 and cities["smart_year_imputed"].sum() == 102
    assert len(gao.simulate_panel(overrides={"sample.present_from": 2006}).cities) == 285


def test_outcome_is_the_location_quotient_of_the_simulated_employment(panel):
    data = panel.data
    direct = location_quotient(data, "digital_employment", "employment")
    np.testing.assert_allclose(data["digital_lq"], direct, rtol=6e-6)
    po = panel.truth.potential_outcomes
    np.testing.assert_array_equal(po["LQ_both"], data["digital_lq"])
    np.testing.assert_array_equal(po["digital_both"], data["digital_employment"])


def test_potential_quotient_recomputes_the_national_share_with_the_city_alone_switched(panel):
    """Independent computation: replace one city's employments by its employments without any
    pilot, keep every other city's observed ones, and call location_quotient on that panel."""
    data, po = panel.data, panel.truth.potential_outcomes
    for row in np.flatnonzero(data["Dual_policy"].to_numpy() == 1)[::97]:
        changed = data[["year", "digital_employment", "employment"]].copy()
        changed.loc[row, "digital_employment"] = po.loc[row, "digital_none"]
        changed.loc[row, "employment"] = po.loc[row, "employment_none"]
        lq = location_quotient(changed, "digital_employment", "employment").loc[row]
        assert po.loc[row, "LQ_none"] == pytest.approx(lq, rel=6e-6)


def test_realised_employment_effects_are_what_the_spec_plants(panel):
    """Digital jobs: the interaction over the Smart City effect, row by row, is the planted
    synergy share over the planted Smart City share (no floor binds)."""
    po, status, spec = panel.truth.potential_outcomes, panel.truth.status, panel.spec["effects"]
    dual = status["Dual_policy"].to_numpy() == 1
    years_smart = (panel.data["year"] - panel.data["smart_year"]).to_numpy(dtype=float)
    years_dual = status["event_time"].to_numpy(dtype=float)
    syn = spec["synergy"]
    multiplier = (status["economic_level"].map(syn["economic_level"])
                  * status["environmental_base"].map(syn["environmental_base"])).to_numpy()
    planted_ratio = (((syn["level"] + syn["per_year"] * years_dual) * multiplier
                      + sum(m["a"] * m["b"] for m in spec["mediators"].values()))
                     / (spec["smart"]["level"] + spec["smart"]["per_year"] * years_smart))
    interaction = po["digital_both"] - po["digital_smart_only"] - po["digital_low_carbon_only"] + po["digital_none"]
    ratio = (interaction / (po["digital_smart_only"] - po["digital_none"])).to_numpy()
    np.testing.assert_allclose(ratio[dual], planted_ratio[dual], rtol=2e-3)
    assert panel.truth.bound_share() == 0.0 and panel.truth.at_bound.mean() == 0.0


def test_every_estimand_is_defined_and_positive(panel):
    truth = panel.truth
    for name in gao.ESTIMANDS:
        assert truth.estimand(name) > 0, name
    assert truth.dual_vs_none() > truth.smart_single() + truth.low_carbon_single()
    path = truth.event_time_path("dual_vs_none", reference=None)
    assert (path.loc[0:8].diff().dropna() > 0).all()  # the effect grows with years in the pilot


def test_null_worlds(panel):
    none = gao.simulate_panel(overrides=gao.null_world("dual_vs_none"))
    po = none.truth.potential_outcomes
    np.testing.assert_array_equal(po["LQ_both"], po["LQ_none"])
    assert none.truth.dual_vs_none() == 0.0 and none.truth.synergy() == 0.0
    no_synergy = gao.simulate_panel(overrides=gao.null_world("no_synergy"))
    # Without the synergy the four cells add up in jobs; the quotient's denominators leave a sliver.
    assert abs(no_synergy.truth.synergy()) < 0.02 * panel.truth.synergy()
    assert no_synergy.truth.smart_single() == pytest.approx(panel.truth.smart_single(), rel=0.02)
    flat = gao.simulate_panel(overrides=gao.null_world("no_growth"))
    assert abs(flat.truth.duration_slope()) < 0.05 * panel.truth.duration_slope()
    for m in gao.MEDIATORS:
        off = gao.simulate_panel(overrides=gao.null_world(f"mediated_{m}"))
        assert off.truth.mediated(m) == 0.0 and off.truth.mediator_shift(m) == 0.0
    with pytest.raises(KeyError):
        gao.null_world("no_such_effect")


def test_heterogeneity_groups_match_the_panel_rule(panel):
    data, status = panel.data, panel.truth.status
    rules = panel.spec["groups"]
    for trait, rule in rules.items():
        groups = gao.baseline_group(data, rule["column"], rule["above"], rule["below"])
        assert (groups.to_numpy() == status[trait].to_numpy()).all()
    high = status["economic_level"].to_numpy() == "high"
    dual = status["Dual_policy"].to_numpy() == 1
    assert panel.truth.synergy(dual & high) > panel.truth.synergy(dual & ~high)


def test_denominator_spillover_is_small(panel):
    """Other cities' pilots raise the national share and so lower a never-pilot city's quotient:
    measured against the world without any pilot effect (same draws), it is a small drop."""
    none = gao.simulate_panel(overrides=gao.null_world("dual_vs_none"))
    never = panel.data.groupby("city")[["Smart_policy", "Low_carbon_policy"]].transform("max").sum(axis=1) == 0
    late = (panel.data["year"] == 2023) & never
    drop = (panel.data.loc[late, "digital_lq"] / none.data.loc[late, "digital_lq"] - 1).mean()
    assert -0.15 < drop < 0
