"""The simulated panel: determinism, calibration to Table 1 and Table 2, planted truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from citypilots.data import panel as panel_module
from citypilots.data.paper import load_descriptives
from citypilots.simulation.calibration import calibrate, twfe_dual_estimate
from citypilots.simulation.specification import load_spec
from citypilots.simulation.generator import simulate_panel

@pytest.fixture(scope="module")
def sim():
    return simulate_panel()


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


def test_an_override_with_a_typo_is_an_error():
    with pytest.raises(KeyError, match="homogenous"):
        simulate_panel(overrides={"effects.homogenous": True})


def test_the_simulated_panel_passes_the_real_data_loader(sim, tmp_path):
    path = tmp_path / "simulated.csv"
    panel_module.to_csv(sim.data, path)
    loaded = panel_module.load_panel(path)
    assert len(loaded) == len(sim.data)
    assert np.allclose(loaded["Safety"], sim.data["Safety"])


