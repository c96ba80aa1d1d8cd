"""The truth behind the simulated panel: potential outcomes from the same draws, and estimands.

1. the potential outcomes: the observed outcome is "both"; a city without a pilot has four equal
   outcomes; each state differs from "none" only where its pilots are held;
2. the estimands are the contrasts their docstrings state (the synergy is the four-cell
   interaction to 1e-9) and each is zero in its null world;
3. a design whose planted effects are realised: the floor and the cap rarely bind, and every
   planted heterogeneity shows up in the realised effects;
4. the same panel on any machine: the written panel does not move when NumPy's exp, log, log1p
   and power are off by one unit in the last place.
"""

from __future__ import annotations

import hashlib
import re

import numpy as np
import pandas as pd
import pytest

from citypilots.simulation.specification import null_world
from citypilots.simulation.generator import simulate_panel
from citypilots.simulation.truth import ESTIMANDS

DEFAULT_PANEL_SHA256 = "44c8bc2ea7b2dfdd77c04460b339948e90ecc024e77c50508ee550f54cd2b296"
"""SHA-256 of the default panel written as CSV. It changes only when the specification, the
calendars, the generator or the pinned NumPy/pandas change; update it deliberately."""


@pytest.fixture(scope="module")
def sim():
    return simulate_panel()


def csv_digest(frame: pd.DataFrame) -> str:
    return hashlib.sha256(frame.to_csv(index=False).encode()).hexdigest()


# ----------------------------------------------------------------------------------------------
# 1. Potential outcomes
# ----------------------------------------------------------------------------------------------

def test_potential_outcomes_are_aligned_with_the_panel_and_both_is_observed(sim):
    po = sim.truth.potential_outcomes
    assert po[["city", "year"]].equals(sim.data[["city", "year"]])
    for column in ("Safety_none", "Safety_innovation_only", "Safety_smart_only", "Safety_both"):
        assert column in po.columns
    assert po["Safety_both"].equals(sim.data["Safety"])


def test_each_state_differs_from_none_only_where_its_pilots_are_held(sim):
    po, data = sim.truth.potential_outcomes, sim.data
    untreated = (data["Innova_policy"] == 0) & (data["Smart_policy"] == 0)
    for column in ("Safety_innovation_only", "Safety_smart_only", "Safety_both"):
        assert (po.loc[untreated, column] == po.loc[untreated, "Safety_none"]).all(), column
    no_innovation = data["Innova_policy"] == 0
    assert (po.loc[no_innovation, "Safety_innovation_only"] == po.loc[no_innovation, "Safety_none"]).all()
    no_smart = data["Smart_policy"] == 0
    assert (po.loc[no_smart, "Safety_smart_only"] == po.loc[no_smart, "Safety_none"]).all()
    # Where a city holds the Innovative City pilot alone, "both" is its innovation-only outcome.
    alone = (data["Innova_policy"] == 1) & (data["Smart_policy"] == 0)
    assert (po.loc[alone, "Safety_both"] == po.loc[alone, "Safety_innovation_only"]).all()
    # The first-pilot-only outcome exists exactly for dual cities that joined in different years.
    ordered = data["innovative_year"].notna() & data["smart_year"].notna() & (data["innovative_year"] != data["smart_year"])
    assert po["Safety_first_only"].notna().equals(ordered.fillna(False).astype(bool))


def test_potential_outcomes_pass_through_the_floor_and_the_rounding(sim):
    po = sim.truth.potential_outcomes
    for column in [c for c in po.columns if c.startswith("Safety_")]:
        values = po[column].dropna().to_numpy()
        assert (values >= 0).all(), column
        assert np.allclose(values * 100, np.round(values * 100), atol=1e-9), column


# ----------------------------------------------------------------------------------------------
# 2. Estimands
# ----------------------------------------------------------------------------------------------

def test_the_synergy_is_the_four_cell_interaction(sim):
    po, dual = sim.truth.potential_outcomes, sim.data["Dual_policy"] == 1
    four_cells = (po["Safety_both"] - po["Safety_innovation_only"] - po["Safety_smart_only"] + po["Safety_none"])[dual]
    assert sim.truth.estimand("synergy") == pytest.approx(four_cells.mean(), abs=1e-9)
    assert sim.truth.synergy() == sim.truth.estimand("synergy")


def test_estimands_are_the_contrasts_their_docstrings_state(sim):
    truth, po, data = sim.truth, sim.truth.potential_outcomes, sim.data
    dual = data["Dual_policy"] == 1
    assert truth.estimand("dual_vs_none") == pytest.approx((po["Safety_both"] - po["Safety_none"])[dual].mean())
    ordered = dual & po["Safety_first_only"].notna()
    assert truth.estimand("second_given_first") == pytest.approx(
        (po["Safety_both"] - po["Safety_first_only"])[ordered].mean())
    alone = (data["Innova_policy"] == 1) & (data["Smart_policy"] == 0)
    assert truth.estimand("innovation_single") == pytest.approx(
        (po["Safety_innovation_only"] - po["Safety_none"])[alone].mean())
    assert truth.estimand("mediated_TI") == pytest.approx((po["Safety_both"] - po["Safety_both_TI_untreated"])[dual].mean())
    listed = data["Supervision"] == 1
    assert truth.estimand("Supervision") == pytest.approx((po["Safety_both"] - po["Safety_without_Supervision"])[listed].mean())
    # rows: any boolean mask; per: a denominator row by row
    east = data["city"].isin(sim.cities.loc[sim.cities["region"] == "east", "adcode"]).to_numpy()
    assert truth.estimand("dual_vs_none", rows=dual.to_numpy() & east) == pytest.approx(
        (po["Safety_both"] - po["Safety_none"])[dual & east].mean())
    gdp = np.power(10.0, data["lnGDP"].to_numpy())
    assert truth.estimand("dual_vs_none", per=gdp) == pytest.approx(((po["Safety_both"] - po["Safety_none"]) / gdp)[dual].mean())


def test_every_estimand_has_a_method_with_a_docstring_stating_its_contrast(sim):
    for name in ESTIMANDS:
        method = getattr(sim.truth, name)
        assert re.search(r"``(Safety|TI|IU)_[a-z_]+", method.__doc__), name
        assert method() == sim.truth.estimand(name)
    assert set(sim.truth.other_policies) == set(sim.spec["other_policies"])


def test_an_unknown_estimand_or_a_bad_mask_is_an_error(sim):
    with pytest.raises(KeyError, match="known"):
        sim.truth.estimand("synergie")
    with pytest.raises(ValueError, match="boolean mask"):
        sim.truth.estimand("synergy", rows=np.ones(10, dtype=bool))


NULL_WORLD_TOLERANCE = {"synergy": 0.002}
"""Every estimand is exactly zero in its null world; the synergy's four cells are each rounded to
whole deaths (0.01), so their average contrast is zero to well within a fifth of a death."""


@pytest.mark.parametrize("name", [*ESTIMANDS, "Made_in_China_2025", "Supervision", "Broadband_China"])
def test_each_estimand_is_zero_in_its_null_world(name):
    nulled = simulate_panel(overrides=null_world(name))
    assert abs(nulled.truth.estimand(name)) <= NULL_WORLD_TOLERANCE.get(name, 0.0)


def test_the_event_time_path_is_relative_to_the_reference_year(sim):
    path = sim.truth.event_time_path(reference=-1)
    assert path[-1] == 0
    po, status = sim.truth.potential_outcomes, sim.truth.status
    effect = (po["Safety_both"] - po["Safety_none"]).groupby([status["city"], status["event_time"]]).first()
    at_3 = effect.xs(3.0, level="event_time")
    at_minus_1 = effect.xs(-1.0, level="event_time").reindex(at_3.index)
    assert path[3] == pytest.approx((at_3 - at_minus_1).mean())


# ----------------------------------------------------------------------------------------------
# 3. A design whose effects survive: the floor and the cap rarely bind, heterogeneity is realised
# ----------------------------------------------------------------------------------------------

def pilot_traits(sim) -> dict[str, np.ndarray]:
    """Each planted heterogeneity of the synergy, as the group of every city-year's city."""
    cities = sim.cities.set_index("adcode")
    innovation, smart = (cities[c].astype(float).to_numpy() for c in ("innovation_year", "smart_year"))
    traits = {"sequence": np.where(innovation < smart, "innovation first",
                                   np.where(smart < innovation, "smart first", "same year")),
              "resource_based": cities["resource_based"].astype(str).to_numpy(),
              "large_city": cities["large_city"].astype(str).to_numpy(),
              "region": cities["region"].to_numpy()}
    return {name: sim.data["city"].map(pd.Series(values, index=cities.index)).to_numpy()
            for name, values in traits.items()}


def test_the_floor_and_the_cap_rarely_bind(sim, capsys):
    share = sim.truth.bound_share()
    with capsys.disabled():
        print(f"\n  dual-pilot city-years with a pilot potential outcome at zero or at the cap: {share:.1%}")
    assert share < 0.03


def test_planted_heterogeneity_and_moderation_are_realised(sim, capsys):
    """For every planted split of the synergy, the realised four-cell synergy of each group against
    the first group is within 10% of the same ratio of what was planted (before the floor, the
    cap and the rounding); the realised moderation slope within 10% of the planted one."""
    from citypilots.simulation.generator import planted_parts

    parts = {name: values.reshape(-1) for name, values in planted_parts(sim.draws).items()}
    dual = (sim.data["Dual_policy"] == 1).to_numpy()
    lines = []
    for trait, group_of_row in pilot_traits(sim).items():
        groups = sorted(set(group_of_row[dual]))
        realised = {g: sim.truth.synergy(dual & (group_of_row == g)) for g in groups}
        planted = {g: parts["interaction"][dual & (group_of_row == g)].mean() for g in groups}
        for group in groups[1:]:
            ratio = (realised[group] / realised[groups[0]]) / (planted[group] / planted[groups[0]])
            lines.append(f"{trait}: {group} / {groups[0]}: realised ratio {realised[group] / realised[groups[0]]:.3f}, "
                         f"planted {planted[group] / planted[groups[0]]:.3f}")
            assert abs(ratio - 1) < 0.10, lines[-1]
    sr = sim.data["SR"].to_numpy()[dual]
    centred = sr - sr.mean()
    planted_slope = (parts["moderation"][dual] * centred).sum() / (centred ** 2).sum()
    lines.append(f"moderation by SR: realised slope {sim.truth.moderation_SR():.1f}, planted {planted_slope:.1f}")
    with capsys.disabled():
        print("\n  " + "\n  ".join(lines))
    assert abs(sim.truth.moderation_SR() / planted_slope - 1) < 0.10


# ----------------------------------------------------------------------------------------------
# 4. The same panel on any machine
# ----------------------------------------------------------------------------------------------

def test_same_spec_and_seed_give_the_stored_panel(sim):
    assert csv_digest(simulate_panel().data) == csv_digest(sim.data) == DEFAULT_PANEL_SHA256


def test_another_seed_gives_another_panel_on_the_same_cities(sim):
    other = simulate_panel(seed=1)
    assert csv_digest(other.data) != csv_digest(sim.data)
    assert other.data["city"].equals(sim.data["city"])
    assert other.data["Dual_policy"].equals(sim.data["Dual_policy"])


@pytest.mark.parametrize("direction", [np.inf, -np.inf], ids=["up", "down"])
def test_the_panel_does_not_move_with_the_last_bit_of_transcendental_functions(monkeypatch, sim, direction):
    """Another CPU (AVX-512 or not) may round exp, log, log1p and power differently in the last
    place; here every call is moved by one unit in the last place and the panel must not move."""
    def off_by_one_ulp(function):
        def moved(*args, **kwargs):
            return np.nextafter(function(*args, **kwargs), direction)
        return moved

    for name in ("exp", "log", "log1p", "power"):
        monkeypatch.setattr(np, name, off_by_one_ulp(getattr(np, name)))
    assert np.exp(0.5) != np.nextafter(np.exp(0.5), -direction)  # the perturbation is in force
    assert csv_digest(simulate_panel().data) == DEFAULT_PANEL_SHA256
