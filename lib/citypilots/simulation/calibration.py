"""Calibration of a specification to the paper: the synergy level that puts the paper's own
TWFE specification on its printed estimate."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..data.panel import CONTROLS
from .generator import simulate_panel
from .specification import load_spec

__all__ = ["twfe_dual_estimate", "calibrate"]


def twfe_dual_estimate(data: pd.DataFrame, controls: tuple[str, ...] = CONTROLS) -> float:
    """The paper's specification: Safety on Dual_policy and controls, city and year fixed effects."""
    import pyfixest as pf

    formula = "Safety ~ Dual_policy" + "".join(f" + {c}" for c in controls) + " | city + year"
    return float(pf.feols(formula, data=data, vcov={"CRV1": "city"}).coef()["Dual_policy"])


def calibrate(spec: str | Path | dict | None = None, seed: int | None = None) -> float:
    """The value of the spec's calibration parameter that puts the TWFE estimate on its target.

    The TWFE estimate is close to linear in the synergy level, so two simulations and a secant
    step, then one more to polish, suffice. Returns the parameter value (write it to the spec).
    """
    base = load_spec(spec)
    parameter, target = base["calibration"]["parameter"], base["calibration"]["target"]["estimate"]

    def estimate(value: float) -> float:
        return twfe_dual_estimate(simulate_panel(base, seed, overrides={parameter: value}).data)

    x0, x1 = 0.0, -0.5
    y0, y1 = estimate(x0), estimate(x1)
    for _ in range(3):
        x0, y0, x1 = x1, y1, x1 + (target - y1) * (x1 - x0) / (y1 - y0)
        y1 = estimate(x1)
    return round(float(x1), 3)
