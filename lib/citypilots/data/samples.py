"""Comparison groups of a two-program pilot study, and the samples a regression keeps.

A city that joins two pilot programs (say Innovative City and Smart City) is a *dual* pilot; a
city in exactly one is a *single* pilot of that program; a city in neither is a *non-pilot*.
Dual pilots are also ordered by which program came first. The paper's columns compare these
groups with each other ("dual vs non-pilot", "dual vs single-pilot", ...), and the sample sizes
it prints say which cities each comparison keeps; :func:`keep_groups` makes such a sample.

Everything here works on one row per unit with two adoption-year columns (missing = never).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

def pilot_groups(first_program_year: pd.Series, second_program_year: pd.Series,
                 names: tuple[str, str] = ("innovation", "smart")) -> pd.Series:
    """Each unit's group: ``"dual"``, ``"<name> only"`` or ``"none"`` (index kept).

    ``first_program_year``, ``second_program_year``: adoption years of the two programs, missing
    where a unit never joined. ``names`` label the single-program groups.
    """
    in_first, in_second = first_program_year.notna(), second_program_year.notna()
    group = np.select([in_first & in_second, in_first, in_second],
                      ["dual", f"{names[0]} only", f"{names[1]} only"], default="none")
    return pd.Series(group, index=first_program_year.index, name="group")


def adoption_order(first_program_year: pd.Series, second_program_year: pd.Series,
                   names: tuple[str, str] = ("innovation", "smart")) -> pd.Series:
    """For dual units, which program came first: ``"<name> first"`` or ``"same year"``; else missing."""
    dual = first_program_year.notna() & second_program_year.notna()
    first_year = first_program_year.astype("Float64")
    second_year = second_program_year.astype("Float64")
    order = pd.Series(pd.NA, index=first_program_year.index, dtype="string", name="order")
    order[dual & (first_year < second_year)] = f"{names[0]} first"
    order[dual & (second_year < first_year)] = f"{names[1]} first"
    order[dual & (first_year == second_year)] = "same year"
    return order


def keep_groups(data: pd.DataFrame, unit_groups: pd.Series, groups: Iterable[str],
                unit: str = "city") -> pd.DataFrame:
    """The rows of ``data`` whose unit's group (``unit_groups``, indexed by unit) is in ``groups``.

    Raises ``KeyError`` naming a requested group that no unit has (a typo must not give an
    empty sample) and ``ValueError`` when a unit of ``data`` has no group.
    """
    groups = list(groups)
    unknown = [g for g in groups if g not in set(unit_groups)]
    if unknown:
        raise KeyError(f"no unit is in group {', '.join(map(repr, unknown))}; "
                       f"groups present: {', '.join(sorted(map(str, set(unit_groups))))}")
    group_of_row = data[unit].map(unit_groups)
    if group_of_row.isna().any():
        missing = sorted(set(data.loc[group_of_row.isna(), unit]))
        raise ValueError(f"{len(missing)} units of the data have no group, e.g. {missing[:5]}")
    return data[group_of_row.isin(groups).to_numpy()].reset_index(drop=True)
