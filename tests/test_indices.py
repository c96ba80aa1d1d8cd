"""Constructed variables (citypilots.data.indices): hand-computed examples and defining properties."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from citypilots.data.indices import SHIFT, entropy_index, entropy_weights, location_quotient, resilience_index
from citypilots.errors import DataError

INDICATORS = pd.DataFrame({"patents": [1.0, 2.0, 3.0, 10.0], "graduates": [5.0, 5.5, 6.0, 6.5],
                           "emissions": [4.0, 3.0, 2.0, 1.0]})


def test_entropy_weights_by_hand():
    z = (INDICATORS - INDICATORS.min()) / (INDICATORS.max() - INDICATORS.min())
    z["emissions"] = 1 - z["emissions"]
    z = z + SHIFT
    p = z / z.sum()
    e = -(p * np.log(p)).sum() / np.log(4)
    expected = (1 - e) / (1 - e).sum()
    weights = entropy_weights(INDICATORS, negative=["emissions"])
    pd.testing.assert_series_equal(weights, expected.rename("weight"))
    assert weights.sum() == pytest.approx(1.0)
    # the most unequal indicator (patents: one city far ahead) gets the largest weight
    assert weights.idxmax() == "patents"


def test_entropy_weights_do_not_change_when_an_indicator_is_rescaled_or_shifted():
    rescaled = INDICATORS.assign(patents=1000 * INDICATORS["patents"] + 7)
    pd.testing.assert_series_equal(entropy_weights(rescaled, ["emissions"]), entropy_weights(INDICATORS, ["emissions"]))


def test_a_negative_indicator_counts_in_reverse():
    flipped = INDICATORS.assign(emissions=-INDICATORS["emissions"])
    pd.testing.assert_series_equal(entropy_index(INDICATORS, negative=["emissions"]), entropy_index(flipped))
    index = entropy_index(INDICATORS, negative=["emissions"])
    assert index.is_monotonic_increasing  # every indicator improves from row to row


def test_bad_indicators_are_all_reported():
    bad = INDICATORS.assign(graduates=1.0, patents=[1.0, None, 3.0, 4.0])
    with pytest.raises(DataError) as error:
        entropy_weights(bad, negative=["smoke"])
    message = str(error.value)
    assert "graduates" in message and "constant" in message and "missing" in message and "smoke" in message


def test_location_quotient_by_hand():
    data = pd.DataFrame({"city": [1, 2, 1, 2], "year": [2020, 2020, 2021, 2021],
                         "digital": [10.0, 30.0, 20.0, 20.0], "jobs": [100.0, 100.0, 100.0, 300.0]})
    lq = location_quotient(data, "digital", "jobs")
    # 2020: nation 40/200 = 0.2; city 1 0.1/0.2 = 0.5, city 2 0.3/0.2 = 1.5
    # 2021: nation 40/400 = 0.1; city 1 0.2/0.1 = 2.0, city 2 (20/300)/0.1 = 2/3
    np.testing.assert_allclose(lq, [0.5, 1.5, 2.0, 2 / 3])


def test_resilience_is_zero_on_the_national_path_and_signs_doing_better():
    # two cities; nation 100 -> 80 (-20%) -> 120 (+50%)
    data = pd.DataFrame({"city": [1, 1, 1, 2, 2, 2], "year": [1, 2, 3, 1, 2, 3],
                         "patents": [50.0, 40.0, 60.0, 50.0, 40.0, 60.0]})
    assert resilience_index(data, "patents").dropna().abs().max() < 1e-12
    data.loc[1, "patents"], data.loc[4, "patents"] = 45.0, 35.0  # city 1 resists the fall, city 2 falls more
    resilience = resilience_index(data, "patents")
    # year 2: nation 100 -> 80 (g = -0.2); expected change -10 for both; actual -5 and -15
    assert resilience[1] == pytest.approx((-5 - -10) / 10)
    assert resilience[4] == pytest.approx((-15 - -10) / 10)
    assert resilience.isna().tolist() == [True, False, False, True, False, False]


def test_an_index_on_a_reference_scale_is_the_references_own_index_and_linear_in_the_indicators():
    same = entropy_index(INDICATORS, negative=["emissions"], reference=INDICATORS)
    pd.testing.assert_series_equal(same, entropy_index(INDICATORS, negative=["emissions"]))
    moved = INDICATORS.assign(patents=INDICATORS["patents"] + 2.0, emissions=INDICATORS["emissions"] - 1.0)
    index = entropy_index(moved, negative=["emissions"], reference=INDICATORS)
    weights = entropy_weights(INDICATORS, negative=["emissions"])
    span = INDICATORS.max() - INDICATORS.min()
    change = weights["patents"] * 2.0 / span["patents"] + weights["emissions"] * 1.0 / span["emissions"]
    np.testing.assert_allclose(index - same, change)
    with pytest.raises(DataError, match="reference"):
        entropy_index(INDICATORS, reference=INDICATORS[["graduates", "patents", "emissions"]])
