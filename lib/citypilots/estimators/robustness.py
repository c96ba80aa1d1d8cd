"""Re-specifications of a panel regression used as robustness checks: shifted outcomes.

A check such as "the outcome lagged two periods" regresses ``y_{i,t+k}`` on the treatment and
controls of period t. :func:`shift_within_unit` builds that column by the *time value*, not by
row position, so a gap in a unit's years gives a missing value instead of the wrong year's.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .estimates import DidArgumentError, check_columns, check_numeric, check_unique_unit_time


def shift_within_unit(data: pd.DataFrame, column: str, periods: int, unit: str = "city",
                      time: str = "year") -> pd.Series:
    """The value of ``column`` for the same unit ``periods`` periods later (earlier if negative).

    Row i gets ``column`` at (``unit_i``, ``time_i + periods``), or NaN where the panel has no such
    row (the last ``periods`` years of each unit, or gaps). The result keeps ``data``'s index; the
    name says what it is, e.g. ``Safety_lead2`` or ``Safety_lag1``.
    """
    check_columns(data, [column, unit, time])
    check_numeric(data, [column, time])
    check_unique_unit_time(data, unit, time)
    if isinstance(periods, bool) or int(periods) != periods:
        raise DidArgumentError(f"periods={periods!r} must be a whole number of periods")
    periods = int(periods)
    values = data.set_index([unit, time])[column]
    wanted = pd.MultiIndex.from_arrays([data[unit].to_numpy(), data[time].to_numpy() + periods])
    shifted = values.reindex(wanted).to_numpy(dtype=float, na_value=np.nan)
    label = f"{column}_lead{periods}" if periods > 0 else (f"{column}_lag{-periods}" if periods < 0 else column)
    return pd.Series(shifted, index=data.index, name=label)
