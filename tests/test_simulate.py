"""The simulated panel: determinism, calibration to Table 1 and Table 2, planted truth."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest

from citypilots import panel as panel_module
from citypilots.paper import load_descriptives
from citypilots.simulate import calibrate, load_spec, planted_sizes, simulate_panel, twfe_dual_estimate

# SHA-256 of the default panel written as CSV. It changes only when the specification, the
# calendars, the generator or the pinned NumPy/pandas change; update it deliberately.
DEFAULT_PANEL_SHA256 = "6e4bdbdabab4f82a2a545c29881b795d1280b83493fe249f26cc7b184914d2d5"


@pytest.fixture(scope="module")
def sim():
    return simulate_panel()


def csv_digest(frame: pd.DataFrame) -> str:
    return hashlib.sha256(frame.to_csv(index=False).encode()).hexdigest()


def test_same_spec_and_seed_give_a_byte_identical_panel(sim):
    assert csv_digest(simulate_panel().data) == csv_digest(sim.data)
    assert csv_digest(sim.data) == DEFAULT_PANEL_SHA256


def test_another_seed_gives_another_panel_on_the_same_cities(sim):
    other = simulate_panel(seed=1)
    assert csv_digest(other.data) != csv_digest(sim.data)
    assert other.data["city"].equals(sim.data["city"])
    assert other.data["Dual_policy"].equals(sim.data["Dual_policy"])


def test_panel_shape_and_group_sizes_match_the_paper(sim):
    data = sim.data
    assert len(data) == 3488 == 218 * 16
    assert not data.duplicated(["city", "year"]).any()
    assert sim.cities["group"].value_counts().to_dict() == {"none": 102, "single": 79, "dual": 37}
    assert sim.cities["large_city"].sum() == 79
    assert (data["Safety"] >= 0).all()


def test_covariates_and_outcome_are_calibrated_to_table_1(sim):
    # Tolerance: each mean within 0.1 printed SD of the printed mean; each SD within 15% of the
    # printed SD. Dual_policy's share is set by the calendar, not calibrated: within 0.015.
    paper = load_descriptives()
    for variable in paper.index.drop("Dual_policy"):
        mean, sd = sim.data[variable].mean(), sim.data[variable].std()
        assert abs(mean - paper.loc[variable, "mean"]) <= 0.1 * paper.loc[variable, "sd"], variable
        assert abs(sd / paper.loc[variable, "sd"] - 1) <= 0.15, variable
    assert abs(sim.data["Dual_policy"].mean() - paper.loc["Dual_policy", "mean"]) <= 0.015


def test_the_extremes_sit_near_table_1(sim):
    # Minimum and maximum are single draws and depend on each variable's chosen shape, so the
    # tolerance is looser: within a third of the printed range (max - min) of the printed value;
    # no simulated value lies outside the printed [min, max] of a bounded covariate.
    paper = load_descriptives()
    for variable in paper.index:
        printed_range = paper.loc[variable, "max"] - paper.loc[variable, "min"]
        for statistic in ("min", "max"):
            simulated = getattr(sim.data[variable], statistic)()
            assert abs(simulated - paper.loc[variable, statistic]) <= printed_range / 3, (variable, statistic)
    # TI and IU are shifted by the planted dual-pilot effect after the clip, so they may pass it.
    for variable in paper.index.drop(["Safety", "Dual_policy", "TI", "IU"]):
        assert sim.data[variable].min() >= paper.loc[variable, "min"] - 1e-12, variable
        assert sim.data[variable].max() <= paper.loc[variable, "max"] + 1e-12, variable


def test_the_papers_specification_lands_near_its_printed_estimate(sim):
    assert twfe_dual_estimate(sim.data) == pytest.approx(-0.555, abs=0.03)


def test_calibration_reproduces_the_value_in_the_specification():
    spec = load_spec()
    assert calibrate() == pytest.approx(spec["effects"]["dual"]["level"], abs=0.02)


def test_the_truth_is_the_realised_effect_and_zero_where_a_city_has_no_pilot(sim):
    effects, data = sim.truth.effects, sim.data
    assert effects[["city", "year"]].equals(data[["city", "year"]])
    untreated = (data["Innova_policy"] == 0) & (data["Smart_policy"] == 0)
    assert (effects.loc[untreated, "effect_total"] == 0).all()
    assert np.allclose(data["Safety"] - effects["Safety_no_pilot"], effects["effect_total"])
    dual = data["Dual_policy"] == 1
    assert sim.truth.summary["att_dual_vs_no_pilot"] == pytest.approx(effects.loc[dual, "effect_total"].mean())
    assert sim.truth.summary["att_dual_vs_no_pilot"] < sim.truth.summary["att_second_pilot"] < 0


def test_the_synergy_starts_two_years_after_the_second_pilot(sim):
    effects = sim.truth.effects
    assert (effects.loc[effects["event_time"] < 2, "synergy"] == 0).all()
    # From two years on it is active wherever the city has deaths to prevent (a city-year with no
    # deaths even without pilots has nothing to cut: the cap of `max_share` sets it to zero).
    active = (effects["event_time"] >= 2) & (effects["Safety_no_pilot"] > 0)
    assert active.sum() > 150
    assert (effects.loc[active, "synergy"] < 0).all()


def test_homogeneous_effects_are_one_line_away():
    homogeneous = simulate_panel(overrides={"effects.homogeneous": True})
    sizes = planted_sizes(homogeneous.spec)
    assert sizes == homogeneous.spec["effects"]["homogeneous_sizes"]
    data, effects = homogeneous.data, homogeneous.truth.effects
    dual = data["Dual_policy"] == 1
    assert (effects.loc[dual, "synergy"] == sizes["dual"]).all()
    assert (effects["moderation"] == 0).all()
    single = sizes["innovation_single"] * data["Innova_policy"] + sizes["smart_single"] * data["Smart_policy"]
    assert np.allclose(effects["single"], single)
    # The constant effect is realised: the zero floor binds in few dual-pilot city-years, and
    # where it does not, observed minus no-pilot deaths is the planted total (to the rounding
    # to whole deaths).
    zero = data["Safety"] == 0
    assert (zero & dual).sum() / dual.sum() < 0.12
    planted_total = single + effects["synergy"] + effects["mediated_TI"] + effects["mediated_IU"]
    realised = dual & ~zero & (effects["Safety_no_pilot"] > 0)
    assert np.allclose(effects.loc[realised, "effect_total"], planted_total[realised], atol=0.011)


def test_an_override_with_a_typo_is_an_error():
    with pytest.raises(KeyError, match="homogenous"):
        simulate_panel(overrides={"effects.homogenous": True})


def test_mediators_move_with_the_dual_pilot_by_the_planted_amounts(sim):
    mediators = sim.spec["effects"]["mediators"]
    dual = sim.data["Dual_policy"]
    expected_ti = mediators["TI"]["a"] * mediators["TI"]["b"] * dual
    assert np.allclose(sim.truth.effects["mediated_TI"], expected_ti)
    assert sim.truth.summary["indirect_TI"] == pytest.approx(0.248 * -0.153)


def test_spillover_follows_the_planted_distance_bands(sim):
    from citypilots.cities import distance_matrix_km

    distance = distance_matrix_km(sim.cities)
    bands = sim.spec["effects"]["spillover"]["bands_km"]
    dual_2020 = sim.data.loc[sim.data["year"] == 2020, "Dual_policy"].to_numpy()
    city = 0
    expected = sum(effect * (((distance[city] >= low) & (distance[city] < high)) * dual_2020)[np.arange(len(dual_2020)) != city].sum()
                   for low, high, effect in bands)
    observed = sim.truth.effects.loc[(sim.data["year"] == 2020).to_numpy(), "spillover"].to_numpy()[city]
    assert observed == pytest.approx(expected)


def test_the_simulated_panel_passes_the_real_data_loader(sim, tmp_path):
    path = tmp_path / "simulated.csv"
    panel_module.to_csv(sim.data, path)
    loaded = panel_module.load_panel(path)
    assert len(loaded) == len(sim.data)
    assert np.allclose(loaded["Safety"], sim.data["Safety"])


def test_event_time_path_is_relative_to_the_reference_year(sim):
    path = sim.truth.event_time_path(reference=-1)
    assert path[-1] == 0
    # By hand for event time 3: each dual city's effect at 3 minus its effect at -1.
    effects = sim.truth.effects
    at = {e: effects[effects["event_time"] == e].set_index("city")["effect_total"] for e in (3, -1)}
    assert path[3] == pytest.approx((at[3] - at[-1].reindex(at[3].index)).mean())
    # The planted synergy starts two years after the dual year: the path drops then.
    assert path[2] < path[1] - 0.2
