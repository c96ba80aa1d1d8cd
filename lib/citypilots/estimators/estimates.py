"""The result shape and the argument checks shared by every DID estimator of the book.

:class:`DidResult` is the one result shape: a table of estimates indexed by term (a coefficient,
an event time, a group or a year) with the columns of :data:`RESULT_COLUMNS`, the numbers of
observations and units, how the standard errors were computed, and the underlying package's
fitted object. The ``check_*`` functions raise one :class:`DidArgumentError` listing every problem
at once; :mod:`citypilots.estimators.did` and :mod:`citypilots.estimators.staggered` both use them.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

RESULT_COLUMNS = ("estimate", "std_error", "ci_low", "ci_high", "p_value")


class DidArgumentError(ValueError):
    """An estimator was called with arguments that do not fit the data (unknown column, ...)."""


@dataclass
class DidResult:
    """The result of any estimator in this module.

    ``table``: indexed by term, columns :data:`RESULT_COLUMNS`. ``estimator``: a readable name
    (e.g. ``"TWFE"``, ``"Callaway-Sant'Anna (never treated)"``). ``inference``: how standard
    errors were computed (e.g. ``"clustered by city (CRV1)"``). ``main_term``: the term that
    :meth:`estimate` returns by default. ``fitted``: the underlying package's object.
    """

    estimator: str
    table: pd.DataFrame
    n_obs: int
    n_units: int
    inference: str
    main_term: Any = None
    fitted: Any = None
    extra: dict = field(default_factory=dict)

    @property
    def params(self) -> pd.Series:
        return self.table["estimate"]

    @property
    def std_errors(self) -> pd.Series:
        return self.table["std_error"]

    def estimate(self, term: Any = None) -> float:
        """The point estimate of ``term`` (default: the main term)."""
        return float(self.table.loc[self.main_term if term is None else term, "estimate"])

    def std_error(self, term: Any = None) -> float:
        return float(self.table.loc[self.main_term if term is None else term, "std_error"])

    def conf_int(self, term: Any = None) -> tuple[float, float]:
        row = self.table.loc[self.main_term if term is None else term]
        return float(row["ci_low"]), float(row["ci_high"])


# ----------------------------------------------------------------------------------------------
# Argument checks (public: the estimators of citypilots.estimators.staggered use them too)
# ----------------------------------------------------------------------------------------------

def as_names(names: str | Iterable[str]) -> tuple[str, ...]:
    """One column name or several, as a tuple: ``"lnGDP"`` -> ``("lnGDP",)``."""
    return (names,) if isinstance(names, str) else tuple(names)


def _raise_problems(problems: list[str]) -> None:
    """Raise one DidArgumentError that lists every problem found."""
    if len(problems) == 1:
        raise DidArgumentError(problems[0])
    if problems:
        raise DidArgumentError(f"{len(problems)} problems:\n" + "\n".join(f"  - {p}" for p in problems))


def _examples(values: Sequence[Any], limit: int = 5) -> str:
    """The first few values, comma separated, with how many more were left out."""
    shown = ", ".join(str(value) for value in values[:limit])
    more = len(values) - limit
    return shown + (f" and {more} more" if more > 0 else "")


def _show(value: Any) -> str:
    """A value as a message shows it: strings quoted, numbers plain."""
    return repr(value) if isinstance(value, str) else str(value)


def check_columns(data: pd.DataFrame, columns: Iterable[str]) -> None:
    """Every name in ``columns`` is a column of ``data``; all unknown names are listed at once."""
    if not isinstance(data, pd.DataFrame):
        raise DidArgumentError(f"data must be a pandas DataFrame, not {type(data).__name__}")
    missing = [name for name in dict.fromkeys(columns) if name not in data.columns]
    if not missing:
        return
    problems = []
    for name in missing:
        hint = ""
        if name in (data.index.names or []):
            hint = " (it is an index level: call data.reset_index() first)"
        elif close := difflib.get_close_matches(str(name), [str(c) for c in data.columns], n=1):
            hint = f" (did you mean {close[0]!r}?)"
        problems.append(f"unknown column {name!r}{hint}")
    _raise_problems(problems)


def check_numeric(data: pd.DataFrame, columns: Iterable[str]) -> None:
    """Every column in ``columns`` holds numbers (or booleans)."""
    problems = [f"column {name!r} must be numeric, not {data[name].dtype}"
                for name in dict.fromkeys(columns) if not pd.api.types.is_numeric_dtype(data[name])]
    _raise_problems(problems)


def check_no_missing(data: pd.DataFrame, columns: Iterable[str]) -> None:
    """No missing (NA) or infinite value in ``columns``: rows are never dropped silently."""
    problems = []
    for name in dict.fromkeys(columns):
        values = data[name]
        bad = values.isna()
        what = "missing"
        if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
            infinite = np.isinf(values.to_numpy(dtype=float, na_value=np.nan))
            bad, what = bad | infinite, ("missing or infinite" if infinite.any() else "missing")
        if bad.any():
            problems.append(f"column {name!r} has {int(bad.sum())} {what} values (rows with index "
                            f"{_examples(list(data.index[bad.to_numpy()]))}); drop or fill them first")
    _raise_problems(problems)


def check_binary(data: pd.DataFrame, column: str) -> None:
    """``column`` holds only 0 and 1 (missing values are left to :func:`check_no_missing`)."""
    values = data[column].dropna()
    offending = values[~values.isin([0, 1])]
    if len(offending):
        raise DidArgumentError(
            f"column {column!r} must be a 0/1 dummy: {len(offending)} rows have other values, "
            f"the first {_show(offending.iloc[0])} (row with index {_show(offending.index[0])})")


def check_unique_unit_time(data: pd.DataFrame, unit: str, time: str) -> None:
    """Each (unit, time) pair appears in at most one row."""
    repeated = data.loc[data.duplicated([unit, time], keep=False), [unit, time]]
    if len(repeated):
        pairs = repeated.value_counts(sort=False)
        listed = [f"({u}, {t}) x{n}" for (u, t), n in pairs.items()]
        raise DidArgumentError(f"({unit}, {time}) must identify the rows: {len(pairs)} pairs "
                               f"appear more than once: {_examples(listed)}")


def never_treated_zero(data: pd.DataFrame, time: str, cohort: str) -> bool:
    """Whether ``cohort`` uses 0 for never-treated units, as R's did, csdid and diff-diff do:
    allowed when 0 lies outside the data's time window (where it cannot be a period)."""
    first, last = data[time].min(), data[time].max()
    return bool((data[cohort] == 0).any()) and not (first <= 0 <= last)


def cohort_values(data: pd.DataFrame, time: str, cohort: str) -> np.ndarray:
    """The cohort column as floats with NaN for never treated (missing, or 0 outside the window)."""
    values = data[cohort].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    if never_treated_zero(data, time, cohort):
        values = np.where(values == 0, np.nan, values)
    return values


def check_cohort(data: pd.DataFrame, unit: str, time: str, cohort: str) -> None:
    """``cohort`` (first treated period; missing for a never-treated unit, or 0 when 0 is not a
    period of the data, the R ``did`` convention) is one whole period per unit, within the time
    span of the data."""
    check_numeric(data, [time, cohort])
    first, last = data[time].min(), data[time].max()
    problems = []
    if (data[cohort] == 0).any() and first <= 0 <= last:
        problems.append(f"column {cohort!r} holds 0, which is a {time} of the data ({first} to {last}): it cannot "
                        "mean 'never treated' here; use a missing value for never-treated units")
    zero_is_never = (data[cohort] == 0).fillna(False).astype(bool) & never_treated_zero(data, time, cohort)
    values = data[cohort].where(~zero_is_never)
    per_unit = values.groupby(data[unit], dropna=False, sort=True).unique()
    several = per_unit[per_unit.map(len) > 1]
    if len(several):
        listed = [f"{unit} {u}: {', '.join(map(str, sorted(v, key=str)))}" for u, v in several.items()]
        problems.append(f"column {cohort!r} must be constant within a unit: {len(several)} units "
                        f"have different values in different rows ({_examples(listed)})")
    cohorts = data.loc[values.notna(), [unit, cohort]].drop_duplicates()
    fraction = cohorts[cohort] % 1 != 0
    if fraction.any():
        listed = [f"{c} of {unit} {u}" for u, c in cohorts.loc[fraction].itertuples(index=False)]
        problems.append(f"column {cohort!r} must hold whole periods: {_examples(listed)}")
    for outside, word, bound in ((cohorts[cohort] > last, "after the last", last),
                                 (cohorts[cohort] < first, "before the first", first)):
        listed = [f"cohort {c} of {unit} {u}" for u, c in cohorts.loc[outside].itertuples(index=False)]
        if listed:
            problems.append(f"column {cohort!r}: {_examples(listed)} {'is' if len(listed) == 1 else 'are'} "
                            f"{word} {time} {bound} of the data")
    _raise_problems(problems)


def check_alpha(alpha: float) -> None:
    """The level of the intervals must be a number strictly between 0 and 1."""
    if not (isinstance(alpha, (int, float)) and 0 < alpha < 1):
        raise DidArgumentError(f"alpha={alpha!r} must be a number between 0 and 1 (e.g. 0.05 for 95% intervals)")
