"""Contamination weights (Goldsmith-Pinkham, Hull and Kolesar 2024) and TWFE weights
(de Chaisemartin and D'Haultfoeuille 2020): against an explicit dummy-variable regression, the
exact decomposition of each coefficient, and diff-diff's weights."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from citypilots.data.panel import CONTROLS
from citypilots.estimators.contamination import contamination_weights
from citypilots.estimators.did import twfe
from citypilots.estimators.estimates import DidArgumentError
from citypilots.simulation.generator import simulate_panel

TREATMENTS = ["Innova_policy", "Smart_policy", "Dual_policy"]


@pytest.fixture(scope="module")
def sim():
    return simulate_panel()


def four_cell_effects(simulated) -> pd.DataFrame:
    """Each city-year's effect of each dummy: y = y(none) + tau_A A + tau_B B + tau_AB (A x B)."""
    po = simulated.truth.potential_outcomes
    return pd.DataFrame({"Innova_policy": po["Safety_innovation_only"] - po["Safety_none"],
                         "Smart_policy": po["Safety_smart_only"] - po["Safety_none"],
                         "Dual_policy": simulated.truth.contrast("synergy")})


def test_weights_equal_an_explicit_dummy_variable_regression(sim):
    """On 40 cities, every weight from an explicit least-squares residualisation (unit and year
    dummies written out) equals the package's to 1e-8."""
    cities = sim.data["city"].drop_duplicates().iloc[::5].head(40)
    small = sim.data[sim.data["city"].isin(cities)].reset_index(drop=True)
    result = contamination_weights(small, "Safety", TREATMENTS, controls=CONTROLS)
    dummies = pd.get_dummies(small[["city", "year"]].astype(str), drop_first=False, dtype=float)
    for name in TREATMENTS:
        others = [t for t in TREATMENTS if t != name]
        design = np.column_stack([small[others + list(CONTROLS)].to_numpy(float), dummies.to_numpy()])
        target = small[name].to_numpy(float)
        coefficients, *_ = np.linalg.lstsq(design, target, rcond=None)
        residual = target - design @ coefficients
        for other in TREATMENTS:
            expected = residual * small[other].to_numpy(float) / (residual @ residual)
            np.testing.assert_allclose(result.weights[(name, other)].to_numpy(), expected, atol=1e-8)


def test_own_weights_sum_to_one_and_contamination_weights_to_zero(sim):
    result = contamination_weights(sim.data, "Safety", TREATMENTS, controls=CONTROLS)
    for name in TREATMENTS:
        assert result.weights[(name, name)].sum() == pytest.approx(1.0, abs=1e-9)
        for other in TREATMENTS:
            if other != name:
                assert result.weights[(name, other)].sum() == pytest.approx(0.0, abs=1e-9)


def test_the_parts_add_up_to_each_coefficient(sim):
    result = contamination_weights(sim.data, "Safety", TREATMENTS, controls=CONTROLS, effects=four_cell_effects(sim))
    fit = twfe(sim.data, "Safety", "Dual_policy", controls=("Innova_policy", "Smart_policy", *CONTROLS))
    parts = result.decomposition
    for name in TREATMENTS:
        assert parts.loc[name, "coefficient"] == pytest.approx(fit.estimate(name), abs=1e-8)
        assert parts.loc[name].drop("coefficient").sum() == pytest.approx(parts.loc[name, "coefficient"], abs=1e-10)


def test_constant_effects_leave_no_contamination():
    """With every effect constant, the contamination parts vanish (the weights sum to zero)."""
    homogeneous = simulate_panel(overrides={"effects.homogeneous": True})
    effects = pd.DataFrame({name: np.full(len(homogeneous.data), -0.1) for name in TREATMENTS})
    result = contamination_weights(homogeneous.data, "Safety", TREATMENTS, effects=effects)
    contamination = result.decomposition.filter(like="contamination by")
    assert np.nanmax(np.abs(contamination.to_numpy())) < 1e-10


def test_the_one_treatment_own_weights_are_de_chaisemartin_dhaultfoeuilles(sim):
    """The residualised treatment over its sum of squares, on the treated cells, is the weight of
    Theorem 1 that citypilots.estimators.staggered.twfe_weights computes (checked there against
    diff-diff)."""
    from citypilots.estimators.contamination import _residualise
    from citypilots.estimators.staggered import twfe_weights

    weights = twfe_weights(sim.data, "Safety", "Dual_policy")
    residual = _residualise(sim.data[["Safety", "city", "year", "Dual_policy"]], "Dual_policy", [], "city", "year")
    own = sim.data[["city", "year"]].assign(own=residual * sim.data["Dual_policy"].to_numpy() / (residual @ residual))
    merged = weights.table.merge(own, on=["city", "year"])
    assert len(merged) == int(sim.data["Dual_policy"].sum())
    np.testing.assert_allclose(merged["weight"], merged["own"], atol=1e-10)


def test_one_treatment_or_misaligned_effects_are_errors(sim):
    with pytest.raises(DidArgumentError, match="at least two treatments"):
        contamination_weights(sim.data, "Safety", ["Dual_policy"])
    with pytest.raises(DidArgumentError, match="aligned"):
        contamination_weights(sim.data, "Safety", TREATMENTS, effects=four_cell_effects(sim).iloc[:10])


def test_an_omitted_treatment_gets_its_weights_and_its_part(sim):
    """Innova_policy alone on the cities that are not dual pilots, the Smart City pilot's cities
    kept among the controls (the paper's Table 2, column 3): the weight on the omitted pilot's
    effects is the regressor residualised without it, times its dummy, as written out here; the
    parts add up to the one-dummy TWFE coefficient."""
    from citypilots.estimators.contamination import _residualise

    cities = sim.cities.set_index("adcode")
    not_dual = cities.index[~(cities["innovation_year"].notna() & cities["smart_year"].notna())]
    sample = sim.data[sim.data["city"].isin(not_dual)].reset_index(drop=True)
    effects = four_cell_effects(sim).loc[sim.data["city"].isin(not_dual).to_numpy()].reset_index(drop=True)
    result = contamination_weights(sample, "Safety", ["Innova_policy"], controls=CONTROLS,
                                   effects=effects, omitted=["Smart_policy"])
    residual = _residualise(sample, "Innova_policy", list(CONTROLS), "city", "year")
    expected = residual * sample["Smart_policy"].to_numpy(float) / (residual @ residual)
    np.testing.assert_allclose(result.weights[("Innova_policy", "Smart_policy")].to_numpy(), expected, atol=1e-10)
    assert result.weights[("Innova_policy", "Smart_policy")].sum() != pytest.approx(0.0, abs=1e-6)
    parts = result.decomposition.loc["Innova_policy"]
    fit = twfe(sample, "Safety", "Innova_policy", controls=CONTROLS)
    assert parts["coefficient"] == pytest.approx(fit.estimate(), abs=1e-8)
    assert parts.drop("coefficient").sum() == pytest.approx(parts["coefficient"], abs=1e-10)
    with pytest.raises(DidArgumentError, match="per treatment; missing: \\['Smart_policy'\\]"):
        contamination_weights(sample, "Safety", ["Innova_policy"], effects=effects[["Innova_policy"]],
                              omitted=["Smart_policy"])
