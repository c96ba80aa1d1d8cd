"""Comparison groups of a two-program study and the samples the paper's columns keep."""

from __future__ import annotations

import pandas as pd
import pytest

from citypilots.data.samples import adoption_order, keep_groups, pilot_groups
from citypilots.simulation.generator import simulate_panel


@pytest.fixture(scope="module")
def sim():
    return simulate_panel()


def test_groups_and_orders_of_a_small_table():
    innovation = pd.Series([2010, 2018, None, None, 2013], index=[1, 2, 3, 4, 5], dtype="Int64")
    smart = pd.Series([2013, 2013, 2015, None, 2013], index=[1, 2, 3, 4, 5], dtype="Int64")
    assert pilot_groups(innovation, smart).to_dict() == {
        1: "dual", 2: "dual", 3: "smart only", 4: "none", 5: "dual"}
    order = adoption_order(innovation, smart)
    assert order[1] == "innovation first" and order[2] == "smart first" and order[5] == "same year"
    assert order[[3, 4]].isna().all()


def test_the_papers_sample_sizes_follow_from_the_groups(sim):
    cities = sim.cities.set_index("adcode")
    group = pilot_groups(cities["innovation_year"], cities["smart_year"])
    # Table 2: columns 3-4 keep 2,896 rows (181 non-dual cities), column 5 2,224, column 6 1,856.
    assert len(keep_groups(sim.data, group, ["innovation only", "smart only", "none"])) == 2896
    assert len(keep_groups(sim.data, group, ["dual", "none"])) == 2224
    assert len(keep_groups(sim.data, group, ["dual", "innovation only", "smart only"])) == 1856
    # Table 3: 16 innovation-first and 18 smart-first dual cities.
    assert adoption_order(cities["innovation_year"], cities["smart_year"]).value_counts().to_dict() == {
        "smart first": 18, "innovation first": 16, "same year": 3}


def test_a_group_nobody_is_in_is_an_error_not_an_empty_sample(sim):
    cities = sim.cities.set_index("adcode")
    group = pilot_groups(cities["innovation_year"], cities["smart_year"])
    with pytest.raises(KeyError, match="'dual pilot'"):
        keep_groups(sim.data, group, ["dual pilot"])


def test_a_unit_without_a_group_is_an_error(sim):
    cities = sim.cities.set_index("adcode")
    group = pilot_groups(cities["innovation_year"], cities["smart_year"]).iloc[1:]
    with pytest.raises(ValueError, match="1 units of the data have no group"):
        keep_groups(sim.data, group, ["dual"])
