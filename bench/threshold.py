"""Benchmark of Hansen's panel threshold regression: the 300-draw bootstrap on a companion-sized panel."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd


def companion_sized_panel(n_units: int = 287, n_periods: int = 12, seed: int = 0) -> pd.DataFrame:
    """A balanced panel the size of the Zhu and Chen companion study (287 cities, 2011-2022)
    with one planted threshold."""
    rng = np.random.default_rng(seed)
    unit = np.repeat(np.arange(n_units), n_periods)
    q, x, w = rng.uniform(0, 1, unit.size), rng.normal(size=unit.size), rng.normal(size=unit.size)
    y = rng.normal(size=n_units)[unit] + np.where(q <= 0.5, 1.0, 0.7) * x + 0.3 * w + rng.normal(0, 0.5, unit.size)
    return pd.DataFrame({"unit": unit, "year": np.tile(np.arange(n_periods), n_units), "y": y, "x": x, "q": q, "w": w})


def threshold_bootstrap_seconds() -> float:
    """Wall time of one-threshold estimation with 300 bootstrap draws (every distinct q searched)."""
    from citypilots.threshold import panel_threshold

    data = companion_sized_panel()
    panel_threshold(data, "y", "x", "q", controls="w", unit="unit", time="year", bootstrap=2)  # warm-up
    start = time.perf_counter()
    panel_threshold(data, "y", "x", "q", controls="w", unit="unit", time="year", n_thresholds=2, bootstrap=300)
    return time.perf_counter() - start
