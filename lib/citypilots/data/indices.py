"""Constructed variables of the companion studies: composite indices, location quotients, resilience.

- :func:`entropy_weights` / :func:`entropy_index`: the entropy weight method for a composite
  index (a standard objective weighting in the Chinese regional-economics literature, e.g. for
  "new quality productive forces"; the method: Zou, Yun and Sun 2006, J. Environmental Sciences
  18(5)). Each indicator is min-max normalised (reversed for an indicator where less is better),
  its entropy over the observations measures how little it varies, and weights are proportional
  to one minus the entropy.
- :func:`location_quotient`: a sector's share of a city's total (employment, output) over the
  same share in the nation (Isard 1960): above one, the city is specialised in the sector.
- :func:`resilience_index`: resistance and recovery of a city's series against the national path
  (Martin, Sunley, Gardiner and Tyler 2016, Regional Studies 50(4)): the city's change beyond the
  change it would have had at the national rate, relative to the size of that expected change.

Why written here: each is a few lines of arithmetic that no installed package provides in this
form; the tests check each against a hand-computed example and its defining properties.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import DataError, Problem

SHIFT = 1e-4
"""Added to every normalised value before the entropy's logarithm (the usual convention: it keeps
ln 0 out of the entropy and lets the best and worst observations keep a nonzero weight)."""


def _normalised(indicators: pd.DataFrame, negative, reference: pd.DataFrame | None = None) -> pd.DataFrame:
    """Min-max normalised indicators (+ :data:`SHIFT`), with the min and max of ``reference``
    (default: of ``indicators`` themselves)."""
    problems = []
    negative = list(negative)
    unknown = [name for name in negative if name not in indicators.columns]
    if unknown:
        problems.append(Problem("indicators", None, ", ".join(unknown), "negative indicators that are not columns"))
    for name in indicators.columns:
        values = indicators[name]
        if not pd.api.types.is_numeric_dtype(values):
            problems.append(Problem("indicators", None, name, "is not numeric"))
        elif values.isna().any():
            problems.append(Problem("indicators", None, name, f"has {int(values.isna().sum())} missing values"))
        elif values.max() == values.min():
            problems.append(Problem("indicators", None, name, "is constant: it carries no information"))
    if reference is not None and list(reference.columns) != list(indicators.columns):
        problems.append(Problem("reference", None, None, "must have the indicators' columns, in their order"))
    if problems:
        raise DataError(problems)
    if reference is not None:
        _normalised(reference, negative)  # the reference must be a valid set of indicators too
    scale = indicators if reference is None else reference
    low, high = scale.min(), scale.max()
    scaled = (indicators - low) / (high - low)
    for name in negative:
        scaled[name] = 1 - scaled[name]
    return scaled + SHIFT


def entropy_weights(indicators: pd.DataFrame, negative=()) -> pd.Series:
    """Entropy-method weights of the columns of ``indicators`` (one row per observation).

    ``negative``: columns where a larger value is worse (normalised as (max - x) / (max - min)).
    Steps: z = min-max normalised values + :data:`SHIFT`; p = z / column sum; entropy
    e = -sum(p ln p) / ln(n); weight = (1 - e) / sum(1 - e). The weights sum to one.
    """
    z = _normalised(indicators, negative)
    p = z / z.sum()
    entropy = -(p * np.log(p)).sum() / np.log(len(z))
    divergence = 1 - entropy
    return (divergence / divergence.sum()).rename("weight")


def entropy_index(indicators: pd.DataFrame, negative=(), weights: pd.Series | None = None,
                  reference: pd.DataFrame | None = None) -> pd.Series:
    """The composite index: the weighted sum of the normalised indicators (weights from
    :func:`entropy_weights` unless given).

    ``reference``: indicators whose min, max and (unless ``weights`` are given) entropy weights
    fix the scale, so that the index of another set of rows, e.g. the same cities' indicators in
    another potential world, is measured on the same scale as the reference's index (it may then
    fall outside [SHIFT, 1 + SHIFT]). Default: the indicators themselves.
    """
    basis = indicators if reference is None else reference
    weights = entropy_weights(basis, negative) if weights is None else weights
    return (_normalised(indicators, negative, reference) * weights).sum(axis=1).rename("index")


def location_quotient(data: pd.DataFrame, sector: str, total: str, time: str = "year",
                      national_sector: str | None = None, national_total: str | None = None) -> pd.Series:
    """LQ = (sector / total in the city) / (sector / total in the nation), row by row.

    The national share is the sum over the panel's cities in the same ``time`` period, unless
    ``national_sector`` and ``national_total`` name columns with the national totals.
    """
    city_share = data[sector] / data[total]
    if national_sector is not None and national_total is not None:
        national_share = data[national_sector] / data[national_total]
    else:
        sums = data.groupby(time)[[sector, total]].transform("sum")
        national_share = sums[sector] / sums[total]
    return (city_share / national_share).rename(f"LQ_{sector}")


def resilience_index(data: pd.DataFrame, value: str, unit: str = "city", time: str = "year") -> pd.Series:
    """Resistance (in a year the national total falls) or recovery (when it rises) of each unit:

        R_it = (dY_it - dY_it^expected) / |dY_it^expected|,  dY_it^expected = Y_i,t-1 x g_t,

    where ``g_t`` is the growth rate of the national total (the sum over the panel's units) from
    ``t - 1`` to ``t``. Positive: the unit did better than the national path would have taken it;
    zero: exactly as the nation. Missing in a unit's first period, and where the expected change
    is zero (no national change or no earlier value).
    """
    frame = data[[unit, time, value]].sort_values([unit, time])
    national = frame.groupby(time)[value].sum()
    growth = national / national.shift(1) - 1
    previous = frame.groupby(unit)[value].shift(1)
    expected = previous * frame[time].map(growth)
    actual = frame[value] - previous
    with np.errstate(divide="ignore", invalid="ignore"):
        resilience = (actual - expected) / expected.abs()
    resilience = resilience.where(expected.abs() > 0)
    return resilience.reindex(data.index).rename(f"resilience_{value}")
