"""The stacked DID wrapper (citypilots.estimators.stacked) against an independent computation.

With never-treated controls and the "aggregate" weights of Wing, Freedman and Hollingsworth, the
stacked estimate at event time h is the average over the kept cohorts a, weighted by their
numbers of treated units, of the 2x2 comparison of cohort a with the never-treated units between
a - 1 and a + h: Callaway and Sant'Anna's ATT(a, a + h). The overall row is the mean over
h = 0..kappa_post. The test rebuilds both from diff_diff's Callaway-Sant'Anna cells.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from citypilots.estimators import did
from citypilots.estimators.estimates import DidArgumentError
from citypilots.estimators.stacked import stacked_did
from citypilots.simulation.generator import simulate_panel


@pytest.fixture(scope="module")
def sample():
    simulated = simulate_panel(seed=5)
    groups = simulated.cities.set_index("adcode")["group"]
    return simulated.data[simulated.data["city"].map(groups).isin(["dual", "none"])].reset_index(drop=True)


def test_stacked_is_the_cohort_weighted_average_of_callaway_santanna_cells(sample):
    result = stacked_did(sample, "Safety", "city", "year", "dual_year", kappa_pre=3, kappa_post=5)
    assert result.extra["cohorts"] == [2013, 2015, 2018] and result.extra["trimmed"] == [2022]
    cells = did.att_gt(sample, "Safety", "city", "year", "dual_year", control_group="never").table
    sizes = sample.drop_duplicates("city")["dual_year"].value_counts()
    kept = result.extra["cohorts"]
    share = pd.Series({a: sizes[a] for a in kept}, dtype=float)
    share /= share.sum()
    by_event = {}
    for h in range(0, 6):
        values = [cells.loc[(cells["group"] == a) & (cells["time"] == a + h), "estimate"].item() for a in kept]
        by_event[h] = float(np.dot(share.to_numpy(), values))
        assert abs(result.estimate(h) - by_event[h]) < 1e-10
    assert abs(result.estimate() - np.mean(list(by_event.values()))) < 1e-10
    table = result.table
    assert list(table.index) == [-3, -2, -1, 0, 1, 2, 3, 4, 5, "ATT"]
    assert table.loc[-1, "estimate"] == 0 and np.isnan(table.loc[-1, "std_error"])
    low, high = result.conf_int()
    assert low < result.estimate() < high


def test_stacked_arguments_are_checked(sample):
    with pytest.raises(DidArgumentError, match="control_group"):
        stacked_did(sample, "Safety", "city", "year", "dual_year", control_group="all")
    with pytest.raises(DidArgumentError, match="kappa_pre"):
        stacked_did(sample, "Safety", "city", "year", "dual_year", kappa_pre=0)
    with pytest.raises(DidArgumentError, match="unknown column"):
        stacked_did(sample, "Safety", "city", "year", "first_year")
