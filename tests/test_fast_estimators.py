"""The NumPy estimators of citypilots.estimators.fast against the packages they replace.

Each fast estimator must give the same estimate, standard error, interval and p-value as the
package wrapper (pyfixest through did.twfe; diff_diff through did.att_gt, did.sun_abraham,
did.imputation and stacked.stacked_did) on the same simulated panels, to 1e-8, in worlds with
constant, growing and cohort-specific effects.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from citypilots.estimators import did, fast
from citypilots.estimators.estimates import RESULT_COLUMNS, DidArgumentError
from citypilots.estimators.stacked import stacked_did
from citypilots.simulation.generator import simulate_panel

WORLDS = {
    "book": {},
    "homogeneous": {"effects.homogeneous": True},
    "by cohort": {"effects.homogeneous": True, "effects.dual_by_cohort": {2013: 2.0, 2022: 0.25}},
}


def dual_and_never(simulated) -> pd.DataFrame:
    groups = simulated.cities.set_index("adcode")["group"]
    return simulated.data[simulated.data["city"].map(groups).isin(["dual", "none"])].reset_index(drop=True)


@pytest.fixture(scope="module", params=[("book", 3), ("homogeneous", 11), ("by cohort", 12)],
                ids=lambda p: f"{p[0]}-seed{p[1]}")
def panel(request):
    world, seed = request.param
    simulated = simulate_panel(seed=seed, overrides=WORLDS[world])
    sample = dual_and_never(simulated)
    design = fast.BalancedDesign.from_long(sample, "city", "year", "dual_year")
    return sample, design, design.matrix(sample["Safety"])


def package_results(sample: pd.DataFrame) -> dict:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {
            "TWFE": did.twfe(sample, "Safety", "Dual_policy"),
            "Callaway-Sant'Anna": did.att_gt(sample, "Safety", "city", "year", "dual_year",
                                             control_group="never").aggregate("simple"),
            "Sun-Abraham": did.sun_abraham(sample, "Safety", "city", "year", "dual_year"),
            "imputation": did.imputation(sample, "Safety", "city", "year", "dual_year"),
            "stacked": stacked_did(sample, "Safety", "city", "year", "dual_year", kappa_pre=3, kappa_post=5),
        }


def test_every_fast_estimator_equals_its_package_to_1e8(panel):
    sample, design, outcome = panel
    reference = package_results(sample)
    mine = fast.fit_all(design, outcome)
    for label, result in reference.items():
        expected = result.table.loc[result.main_term, list(RESULT_COLUMNS)].to_numpy(dtype=float)
        got = mine[label].table.iloc[0][list(RESULT_COLUMNS)].to_numpy(dtype=float)
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-8, err_msg=label)


def test_the_estimate_is_the_weights_applied_to_the_outcome(panel):
    _, design, outcome = panel
    treated = design.treated
    for label, estimator in fast.ESTIMATORS.items():
        W = fast.weights(design, label)
        assert abs((W * outcome).sum() - estimator(design, outcome).estimate()) < 1e-10, label
        # Weights on treated unit-periods add up to 1, and all weights to 0 (unit and time effects drop out).
        assert abs(W[treated].sum() - 1) < 1e-10 and abs(W.sum()) < 1e-10, label
        assert np.allclose(W.sum(axis=0), 0, atol=1e-12) and np.allclose(W.sum(axis=1), 0, atol=1e-12), label


def test_unit_and_time_effects_leave_every_estimate_unchanged(panel):
    _, design, outcome = panel
    rng = np.random.default_rng(1)
    shifted = outcome + rng.normal(size=(outcome.shape[0], 1)) + rng.normal(size=(1, outcome.shape[1]))
    for label, estimator in fast.ESTIMATORS.items():
        assert abs(estimator(design, shifted).estimate() - estimator(design, outcome).estimate()) < 1e-10, label


def test_callaway_santanna_and_sun_abraham_share_the_estimate_not_the_standard_error(panel):
    _, design, outcome = panel
    cs, sa = fast.callaway_santanna(design, outcome), fast.sun_abraham(design, outcome)
    assert abs(cs.estimate() - sa.estimate()) < 1e-12
    assert cs.std_error() != sa.std_error()


@pytest.mark.parametrize("groups", [("dual", "none"), ("dual",)])
def test_twfe_weights_are_de_chaisemartin_dhaultfoeuilles(groups):
    """TWFE's weights on the treated city-years against diff-diff's twowayfeweights (through
    citypilots.estimators.staggered), with and without never-treated units."""
    from citypilots.estimators.staggered import twfe_weights

    simulated = simulate_panel()
    cities = simulated.cities.set_index("adcode")["group"]
    sample = simulated.data[simulated.data["city"].map(cities).isin(groups)].reset_index(drop=True)
    design = fast.BalancedDesign.from_long(sample, "city", "year", "dual_year")
    W = fast.weights(design, "TWFE")
    reference = twfe_weights(sample, "Safety", "Dual_policy")
    units = pd.Index(design.units).get_indexer(reference.table["city"])
    periods = reference.table["year"].to_numpy() - design.periods[0]
    np.testing.assert_allclose(W[units, periods], reference.table["weight"].to_numpy(), atol=1e-10)
    assert len(reference.table) == int(design.treated.sum())


def test_design_checks_are_errors_for_people():
    simulated = simulate_panel()
    sample = dual_and_never(simulated)
    with pytest.raises(DidArgumentError, match="not balanced"):
        fast.BalancedDesign.from_long(sample.iloc[1:], "city", "year", "dual_year")
    gap = sample[sample["year"] != 2015]
    with pytest.raises(DidArgumentError, match="consecutive"):
        fast.BalancedDesign.from_long(gap, "city", "year", "dual_year")
    dual_only = sample[sample["dual_year"].notna()]
    design = fast.BalancedDesign.from_long(dual_only, "city", "year", "dual_year")
    outcome = design.matrix(dual_only["Safety"])
    fast.twfe(design, outcome)  # TWFE needs no never-treated unit
    for estimator in (fast.callaway_santanna, fast.sun_abraham, fast.stacked):
        with pytest.raises(DidArgumentError, match="never-treated"):
            estimator(design, outcome)
    with pytest.raises(DidArgumentError, match="no untreated unit in period"):
        fast.imputation(design, outcome)
    design = fast.BalancedDesign.from_long(sample, "city", "year", "dual_year")
    with pytest.raises(DidArgumentError, match="units x periods"):
        fast.twfe(design, np.zeros((3, 3)))


def test_stacked_trims_the_cohorts_whose_window_does_not_fit():
    design = fast.BalancedDesign.from_long(dual_and_never(simulate_panel()), "city", "year", "dual_year")
    kept, trimmed = fast.stacked_cohorts(design, 3, 5)
    assert kept == [2013, 2015, 2018] and trimmed == [2022]
    kept, trimmed = fast.stacked_cohorts(design, 3, 1)
    assert kept == [2013, 2015, 2018, 2022] and trimmed == []
