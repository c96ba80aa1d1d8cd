"""Hansen's (1999) panel threshold regression (citypilots.threshold.panel_threshold)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from citypilots.estimators.estimates import DidArgumentError
from citypilots.threshold import critical_value, panel_threshold


def planted_panel(seed: int = 1, n_units: int = 120, n_periods: int = 8, thresholds=(0.4, 0.75),
                  slopes=(1.0, 2.0, -0.5)) -> pd.DataFrame:
    """y = unit effect + slope(q) x + 0.3 w + noise, with the slope changing at ``thresholds``."""
    rng = np.random.default_rng(seed)
    unit = np.repeat(np.arange(n_units), n_periods)
    period = np.tile(np.arange(n_periods), n_units)
    q, x, w = rng.uniform(0, 1, unit.size), rng.normal(size=unit.size), rng.normal(size=unit.size)
    regime = np.searchsorted(np.asarray(thresholds), q, side="left")
    slope = np.asarray(slopes)[regime]
    y = rng.normal(size=n_units)[unit] + slope * x + 0.3 * w + rng.normal(0, 0.5, unit.size)
    return pd.DataFrame({"unit": unit, "year": period, "y": y, "x": x, "q": q, "w": w})


def test_recovers_a_planted_threshold_and_its_slopes():
    data = planted_panel(thresholds=(0.5,), slopes=(1.0, -0.5))
    result = panel_threshold(data, "y", "x", "q", controls="w", unit="unit", time="year", bootstrap=50)
    assert result.thresholds[0] == pytest.approx(0.5, abs=0.02)
    low, high = result.confidence_intervals[0]
    assert low <= 0.5 + 0.02 and high >= 0.5 - 0.02
    assert result.params.estimate("x [regime 1]") == pytest.approx(1.0, abs=0.1)
    assert result.params.estimate("x [regime 2]") == pytest.approx(-0.5, abs=0.1)
    assert result.p_values[0] < 0.05


def test_two_thresholds_are_found_and_tested():
    result = panel_threshold(planted_panel(), "y", "x", "q", controls="w", unit="unit", time="year",
                             n_thresholds=2, bootstrap=50)
    assert result.thresholds == pytest.approx([0.4, 0.75], abs=0.03)
    assert len(result.f_stats) == len(result.p_values) == 2 and max(result.p_values) < 0.05
    assert result.ssr[0] > result.ssr[1] > result.ssr[2]


def test_the_ssr_at_the_threshold_equals_a_brute_force_fit_with_unit_dummies():
    data = planted_panel(thresholds=(0.5,), slopes=(1.0, -0.5))
    result = panel_threshold(data, "y", "x", "q", controls="w", unit="unit", time="year", bootstrap=0)
    gamma = result.thresholds[0]
    below = (data["q"] <= gamma).to_numpy()
    design = np.column_stack([data["x"] * below, data["x"] * ~below, data["w"],
                              pd.get_dummies(data["unit"], dtype=float).to_numpy()])
    coefficients, *_ = np.linalg.lstsq(design, data["y"].to_numpy(), rcond=None)
    residual = data["y"].to_numpy() - design @ coefficients
    assert result.ssr[1] == pytest.approx(float(residual @ residual), rel=1e-9)
    # and no other candidate does better (40 distinct values around it, brute force on the
    # within-transformed data, which by Frisch-Waugh-Lovell gives the same SSR as the dummies)
    def within(values):
        return values - values.groupby(data["unit"]).transform("mean")

    values = np.unique(data["q"])
    position = int(np.searchsorted(values, gamma))
    for candidate in values[max(position - 20, 0): position + 20]:
        below = data["q"] <= candidate
        regressors = np.column_stack([within(data["x"] * below), within(data["x"] * ~below), within(data["w"])])
        target = within(data["y"]).to_numpy()
        coefficients, *_ = np.linalg.lstsq(regressors, target, rcond=None)
        residual = target - regressors @ coefficients
        assert float(residual @ residual) >= result.ssr[1] - 1e-8
    assert math.isnan(result.p_values[0])


def test_the_bootstrap_is_reproducible():
    data = planted_panel(thresholds=(0.5,), slopes=(1.0, 0.8))
    first = panel_threshold(data, "y", "x", "q", unit="unit", time="year", bootstrap=40, seed=3)
    again = panel_threshold(data, "y", "x", "q", unit="unit", time="year", bootstrap=40, seed=3)
    assert first.p_values == again.p_values and first.f_stats == again.f_stats


def test_grid_of_quantiles_and_the_critical_value():
    data = planted_panel(thresholds=(0.5,), slopes=(1.0, -0.5))
    result = panel_threshold(data, "y", "x", "q", unit="unit", time="year", grid=50, bootstrap=0)
    assert result.extra["grid_size"] <= 50
    assert result.thresholds[0] == pytest.approx(0.5, abs=0.05)
    assert critical_value(0.05) == pytest.approx(7.352, abs=1e-3)  # Hansen (2000), Table 1


def test_an_unbalanced_panel_or_bad_arguments_are_refused_with_the_reason():
    data = planted_panel()
    with pytest.raises(DidArgumentError, match="not balanced"):
        panel_threshold(data.iloc[1:], "y", "x", "q", unit="unit", time="year")
    with pytest.raises(DidArgumentError, match="n_thresholds=4"):
        panel_threshold(data, "y", "x", "q", unit="unit", time="year", n_thresholds=4)
