"""The companion panel of Zhang and Sun (2026): sample, index, potential outcomes, truth, null worlds."""

import numpy as np
import pandas as pd
import pytest

from citypilots.data.indices import resilience_index
from citypilots.data.pilots import adoption_years
from citypilots.estimators import fast
from citypilots.simulation import zhang_sun
from citypilots.simulation.generator import round_significant
from citypilots.simulation.montecarlo import simulator_of
from citypilots.simulation.specification import load_spec


@pytest.fixture(scope="module")
def panel():
    return zhang_sun.simulate_panel()


def test_the_spec_names_this_generator():
    assert simulator_of(load_spec("zhang_sun")) is zhang_sun.simulate_panel


def test_sample_is_284_real_cities_over_2007_2020_with_the_real_calendar(panel):
    data = panel.data
    assert panel.cities["adcode"].nunique() == 284
    assert sorted(data["year"].unique()) == list(range(2007, 2021))
    assert len(data) == 284 * 14 and not data.duplicated(["city", "year"]).any()
    first = adoption_years("smart_city")["year"]
    expected = panel.cities["adcode"].map(first).astype(float)
    assert np.array_equal(panel.cities["smart_year"].to_numpy(), expected.to_numpy(), equal_nan=True)
    on = (data["year"] >= data["smart_year"]).astype(int)
    assert (data["Smart_policy"] == on).all()


def test_same_seed_same_panel_other_seed_other_panel(panel):
    again = zhang_sun.simulate_panel()
    pd.testing.assert_frame_equal(panel.data, again.data)
    other = zhang_sun.simulate_panel(seed=1)
    assert not np.allclose(panel.data["resilience"].fillna(0), other.data["resilience"].fillna(0))


def test_every_simulated_float_is_rounded(panel):
    floats = panel.data.select_dtypes("float").drop(columns=["smart_year"])
    values = floats.to_numpy()
    assert np.array_equal(round_significant(values), values, equal_nan=True)
    po = panel.truth.potential_outcomes.drop(columns=["city", "year"]).to_numpy()
    assert np.array_equal(round_significant(po), po, equal_nan=True)


def test_outcome_is_the_library_index_of_the_output(panel):
    data = panel.data
    expected = round_significant(resilience_index(data, "innovation_output").to_numpy())
    assert np.array_equal(data["resilience"].to_numpy(), expected, equal_nan=True)
    assert data.loc[data["year"] == 2007, "resilience"].isna().all()
    assert data.loc[data["year"] > 2007, "resilience"].notna().all()


def test_index_at_a_given_path_is_the_library_formula():
    data = pd.DataFrame({"city": [1, 1, 1, 2, 2, 2], "year": [1, 2, 3] * 2,
                         "y": [10.0, 12.0, 11.0, 20.0, 21.0, 25.0]})
    output = data["y"].to_numpy().reshape(2, 3)
    total = output.sum(axis=0)
    growth = np.concatenate([[np.nan], total[1:] / total[:-1] - 1])
    assert np.allclose(zhang_sun.resilience_at_path(output, growth).ravel(),
                       resilience_index(data, "y").to_numpy(), equal_nan=True)


def test_untreated_outcomes_equal_observed_where_no_pilot_acts(panel):
    po, status = panel.truth.potential_outcomes, panel.truth.status
    untreated = status["Smart_policy"].to_numpy() == 0
    assert np.array_equal(po["resilience"][untreated], po["resilience_untreated"][untreated], equal_nan=True)
    contrast = panel.truth.contrast("att")
    assert (contrast[untreated].fillna(0) == 0).all()


def test_design_diagnostics(panel):
    summary = panel.truth.summary
    assert summary["smallest_abs_national_growth"] > 0.03  # the index's denominator stays away from 0
    assert summary["share_negative_moderation_factor"] == 0.0


def test_truth_sizes_and_signs(panel):
    truth = panel.truth
    assert 0.1 < truth.att() < 0.4
    assert truth.national_path() < 0  # pilots raise the national path: every other city looks worse
    assert truth.att_vs_no_pilot_world() < truth.att()
    for k in zhang_sun.CHANNELS:
        a = panel.spec["channels"][k]["a"]
        shift = truth.mediator_shift(k)
        assert 0.8 * a < shift <= a + 1e-9  # ramped: the first pilot year moves half of a
        assert truth.mediated(k) > 0
    for m in zhang_sun.MODERATORS:
        assert truth.moderation(m) > 0
    path = truth.event_time_path()
    assert (path[path.index < 0] == 0).all() and (path[path.index >= 0] > 0).all()


@pytest.mark.parametrize("name", ["att", "mediated_knowledge_diffusion", "moderation_LQ_finance",
                                  "mediator_shift_government_attention"])
def test_the_truth_is_zero_in_its_null_world(name):
    world = zhang_sun.simulate_panel(overrides=zhang_sun.null_world(name))
    assert world.truth.estimand(name) == 0.0
    if name == "att":
        for other in world.truth.names:
            assert world.truth.estimand(other) == 0.0


def test_a_channel_null_world_leaves_the_others(panel):
    world = zhang_sun.simulate_panel(overrides=zhang_sun.null_world("mediated_information_penetration"))
    assert world.truth.mediated("knowledge_diffusion") > 0
    assert world.truth.att() < panel.truth.att()


def test_no_heterogeneity_world_makes_group_effects_similar(panel):
    world = zhang_sun.simulate_panel(overrides=zhang_sun.null_world("no_heterogeneity_innovation_environment"))

    def gap(p):
        better = p.data["innovation_environment"].eq("better").to_numpy()
        treated = p.data["Smart_policy"].eq(1).to_numpy()
        return p.truth.att(treated & better) - p.truth.att(treated & ~better)

    assert gap(panel) > 0.08
    assert abs(gap(world)) < abs(gap(panel)) / 2


def test_unknown_names_are_refused(panel):
    with pytest.raises(KeyError):
        panel.truth.estimand("synergy")
    with pytest.raises(KeyError):
        zhang_sun.null_world("synergy")


def test_heterogeneity_robust_estimators_recover_the_att_on_average():
    estimates, truths = [], []
    for seed in range(8):
        p = zhang_sun.simulate_panel(seed=seed)
        sample = p.data[p.data["year"] > 2007].reset_index(drop=True)
        design = fast.BalancedDesign.from_long(sample, "city", "year", "smart_year")
        estimates.append(fast.callaway_santanna(design, design.matrix(sample["resilience"])).estimate())
        truths.append(p.truth.att())
    assert abs(np.mean(estimates) - np.mean(truths)) < 0.04
