"""Heterogeneity of a panel treatment effect across groups of units, and tests of the differences.

A split-sample table (one regression per group: resource-based or not, large or not, east,
central or west) shows each group's estimate, but that one group's estimate is significant and
another's is not is no evidence that they differ (Gelman and Stern 2006). This module estimates
by group and tests the differences, for any panel with a unit, a time and a time-invariant
grouping of the units:

- :func:`split_twfe`: the split-sample design, :func:`citypilots.estimators.did.twfe` in each group.
- :func:`fully_interacted_twfe`: the same estimates from one pooled regression in which the
  treatment, every control and the time effects are interacted with the group
  (``y_it = beta_g D_it + x_it' gamma_g + m_i + l_{g,t} + e_it``). Its group coefficients equal
  the split-sample ones exactly, and it gives their joint covariance (clustered by unit, so
  across groups the covariance is zero), hence a t test of each difference and a Wald F test of
  equality across all groups: Stata's ``suest`` after separate regressions, done as one model.
- :func:`by_group`: any estimator (a function of a sub-panel returning a
  :class:`citypilots.estimators.estimates.DidResult`) in each group whose size allows it, e.g. a
  heterogeneity-robust estimator; groups that are too small are reported, not dropped silently.
- :func:`pairwise_differences`: every difference of two groups' effects from the fully
  interacted regression (not only against the reference group).
- :func:`independent_difference` and :func:`independent_equality_test`: the difference of two
  estimates, and the equality of several, from disjoint sets of clusters (e.g. published
  split-sample coefficients, of which only estimates and standard errors are known).
- :func:`holm`: Holm's (1979) step-down adjustment of a family of p-values (statsmodels), so
  that the chance of any false rejection in the family stays below the level.
- :func:`size_class_2014`: the city-size classes of the State Council's 2014 criteria.

Everything here is a thin layer over :func:`citypilots.estimators.did.twfe` (pyfixest) and
statsmodels' ``multipletests``; nothing is estimated by code written here except the linear
combinations of the fitted coefficients.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from . import did
from .estimates import (RESULT_COLUMNS, DidArgumentError, DidResult, _examples, _raise_problems, as_names,
                        check_alpha, check_columns, check_no_missing)

# The State Council's 2014 criteria (Guofa [2014] No. 51) on the urban resident population
# (城区常住人口), in ten thousand people; "以上包括本数，以下不包括本数": lower bounds included.
SIZE_CLASSES_2014 = (("small", 0.0), ("medium", 50.0), ("large", 100.0), ("very large", 500.0),
                     ("megacity", 1000.0))
LARGE_CITY_2014 = 100.0


def size_class_2014(urban_population: pd.Series | np.ndarray) -> pd.Series:
    """City-size class of the 2014 State Council criteria, from the urban resident population.

    ``urban_population`` in ten thousand people: small < 50, medium 50-100, large 100-500, very
    large 500-1000, megacity >= 1000 (each lower bound included, as the notice says). The
    criteria's subclasses (small I/II at 20, large I/II at 300) are not split out. Returns a
    Series of class names (index kept for a Series); a missing or negative population is an error.
    """
    values = pd.Series(urban_population, dtype=float)
    bad = values.isna() | (values < 0) | ~np.isfinite(values.fillna(0))
    if bad.any():
        raise DidArgumentError(f"urban population must be a non-negative number: {int(bad.sum())} values are not "
                               f"(index {_examples(list(values.index[bad]))})")
    bounds = [bound for _, bound in SIZE_CLASSES_2014][1:]
    names = np.array([name for name, _ in SIZE_CLASSES_2014])
    return pd.Series(names[np.searchsorted(bounds, values.to_numpy(), side="right")], index=values.index,
                     name="size_class_2014")


# ----------------------------------------------------------------------------------------------
# Groups
# ----------------------------------------------------------------------------------------------

def group_of_rows(data: pd.DataFrame, group: str | pd.Series, unit: str = "city") -> pd.Series:
    """Each row's group: a column of ``data`` or a Series indexed by unit (mapped by ``unit``).

    The group must be known for every row, constant within each unit (a split of units, not of
    unit-periods) and take at least two values; each problem raises :class:`DidArgumentError`.
    """
    check_columns(data, [unit] if not isinstance(group, str) else [unit, group])
    if isinstance(group, str):
        name, values = group, data[group]
    elif isinstance(group, pd.Series):
        name = group.name or "group"
        if group.index.duplicated().any():
            raise DidArgumentError(f"the group Series repeats units in its index ({unit} "
                                   f"{_examples(list(group.index[group.index.duplicated()].unique()))})")
        values = data[unit].map(group)
    else:
        raise DidArgumentError(f"group must be a column name or a Series indexed by {unit}, not {type(group).__name__}")
    values = pd.Series(values.to_numpy(), index=data.index, name=name)
    problems = []
    if values.isna().any():
        units = list(pd.unique(data.loc[values.isna(), unit]))
        problems.append(f"group {name!r} is missing for {len(units)} units ({unit} {_examples(units)}): "
                        "give every unit a group or drop those units first")
    per_unit = values.groupby(data[unit]).nunique()
    varying = list(per_unit.index[per_unit > 1])
    if varying:
        problems.append(f"group {name!r} must be constant within each {unit}: {len(varying)} units change "
                        f"group ({unit} {_examples(varying)})")
    _raise_problems(problems)
    present = pd.unique(values)
    if len(present) < 2:
        raise DidArgumentError(f"group {name!r} has a single group ({present[0]!r}): a split needs at least two "
                               "groups to compare")
    return values


def _sorted_groups(values: pd.Series) -> list:
    return sorted(pd.unique(values), key=lambda value: (str(type(value)), value))


def group_sizes(data: pd.DataFrame, group: str | pd.Series, treatment: str, unit: str = "city") -> pd.DataFrame:
    """Units, treated units (treatment = 1 in some period) and never-treated units in each group."""
    check_columns(data, [treatment])
    return _group_sizes(data, group_of_rows(data, group, unit), treatment, unit)


def _group_sizes(data: pd.DataFrame, values: pd.Series, treatment: str, unit: str) -> pd.DataFrame:
    treated = data.groupby(unit)[treatment].max() > 0
    unit_group = values.groupby(data[unit]).first()
    table = pd.DataFrame({"units": unit_group.value_counts(),
                          "treated units": unit_group[treated.reindex(unit_group.index)].value_counts(),
                          "never-treated units": unit_group[~treated.reindex(unit_group.index)].value_counts()})
    table = table.reindex(_sorted_groups(values)).fillna(0).astype(int)
    table.index.name = values.name
    return table


# ----------------------------------------------------------------------------------------------
# Estimates by group
# ----------------------------------------------------------------------------------------------

def by_group(data: pd.DataFrame, group: str | pd.Series, estimate: Callable[[pd.DataFrame], DidResult],
             unit: str = "city", treatment: str | None = None, min_treated_units: int = 1,
             min_untreated_units: int = 0, term: Any = None) -> DidResult:
    """Apply an estimator to each group's rows; one row per group.

    ``estimate``: a function of a sub-panel returning a :class:`DidResult` (its ``term``, default
    its main term, is reported). With ``treatment`` (a 0/1 column), a group with fewer than
    ``min_treated_units`` treated units (treated in some period) or fewer than
    ``min_untreated_units`` never-treated units is not estimated: its row is NaN and
    ``extra["skipped"]`` says why. ``table`` is indexed by group (sorted) with the columns of
    :data:`citypilots.estimators.estimates.RESULT_COLUMNS` plus ``n_obs`` and ``n_units``; ``extra["results"]``
    holds each group's full result.
    """
    if treatment is not None:
        check_columns(data, [treatment])
    return _by_group(data, group_of_rows(data, group, unit), estimate, unit, treatment, min_treated_units,
                     min_untreated_units, term)


def _by_group(data: pd.DataFrame, values: pd.Series, estimate: Callable[[pd.DataFrame], DidResult], unit: str,
              treatment: str | None, min_treated_units: int, min_untreated_units: int, term: Any) -> DidResult:
    sizes = _group_sizes(data, values, treatment, unit) if treatment is not None else None
    rows, results, skipped, inference, estimator = {}, {}, {}, set(), set()
    for label in _sorted_groups(values):
        rows[label] = {column: np.nan for column in (*RESULT_COLUMNS, "n_obs", "n_units")}
        if sizes is not None:
            treated, untreated = sizes.loc[label, "treated units"], sizes.loc[label, "never-treated units"]
            if treated < min_treated_units or untreated < min_untreated_units:
                skipped[label] = (f"{treated} treated and {untreated} never-treated units; the estimator needs "
                                  f"at least {min_treated_units} and {min_untreated_units}")
                continue
        result = estimate(data[(values == label).to_numpy()].reset_index(drop=True))
        chosen = result.main_term if term is None else term
        rows[label].update(result.table.loc[chosen, list(RESULT_COLUMNS)].to_dict())
        rows[label].update(n_obs=result.n_obs, n_units=result.n_units)
        results[label] = result
        inference.add(result.inference.split(" (")[0])
        estimator.add(result.estimator)
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = values.name
    return DidResult(
        estimator=f"{' / '.join(sorted(estimator)) or 'no estimate'} by {values.name}",
        table=table, n_obs=int(table["n_obs"].sum()), n_units=int(table["n_units"].sum()),
        inference="; ".join(sorted(inference)) + " (within each group)", main_term=None, fitted=None,
        extra={"results": results, "skipped": skipped, "group": values.name, "sizes": sizes},
    )


def split_twfe(data: pd.DataFrame, y: str, treatment: str, group: str | pd.Series,
               controls: str | Iterable[str] = (), unit: str = "city", time: str = "year",
               cluster: str | None = None, alpha: float = 0.05) -> DidResult:
    """The split-sample design: :func:`citypilots.estimators.did.twfe` of ``y`` on ``treatment`` in each group.

    Each group is a separate regression with its own unit and time effects, control coefficients
    and clustered standard errors (CRV1, t with G_g - 1 degrees of freedom). A group without a
    treated unit is an error. Returns :func:`by_group`'s table (one row per group). To test
    whether the groups differ, use :func:`fully_interacted_twfe`, whose point estimates are the same.
    """
    controls = as_names(controls)
    check_columns(data, [y, treatment, *controls, unit, time])
    values = group_of_rows(data, group, unit)
    _check_every_group_treated(data, values, treatment, unit)
    return _by_group(data, values, lambda sample: did.twfe(sample, y, treatment, controls, unit=unit, time=time,
                                                           cluster=cluster, alpha=alpha),
                     unit, treatment, 1, 0, None)


def _check_every_group_treated(data: pd.DataFrame, values: pd.Series, treatment: str, unit: str) -> None:
    sizes = _group_sizes(data, values, treatment, unit)
    untreated = list(sizes.index[sizes["treated units"] == 0])
    if untreated:
        raise DidArgumentError(f"groups {untreated} of {values.name!r} have no treated {unit}: the treatment "
                               "effect cannot be estimated there; leave them out of the data")


def fully_interacted_twfe(data: pd.DataFrame, y: str, treatment: str, group: str | pd.Series,
                          controls: str | Iterable[str] = (), unit: str = "city", time: str = "year",
                          cluster: str | None = None, reference: Any = None, alpha: float = 0.05) -> DidResult:
    """Group-specific treatment effects from one fully interacted TWFE regression, and their differences.

    ``y_it = sum_g 1[G_i = g] (beta_g D_it + x_it' gamma_g) + m_i + l_{g,t} + e_it``: the treatment,
    every control and the time effects are interacted with the unit's group, so each ``beta_g``
    equals the split-sample estimate of :func:`split_twfe` exactly. Standard errors are clustered
    (CRV1, by unit unless ``cluster`` is given; clusters must not span groups for the equality with
    separate regressions to hold), and with clusters nested in groups the estimates of different
    groups are uncorrelated. The only difference from separate regressions is the small-sample
    factor and t degrees of freedom (pooled N, K and G).

    ``table``: one row per group, then one row ``"<group> - <reference>"`` per other group
    (estimate, clustered SE, t(G-1) interval and p-value of the difference); ``reference``
    defaults to the first group in sorted order. ``extra["equality_test"]``: the Wald test that all
    ``beta_g`` are equal, ``F(k-1, G-1)``.
    """
    controls = as_names(controls)
    cluster = cluster or unit
    check_alpha(alpha)
    check_columns(data, [y, treatment, *controls, unit, time, cluster])
    values = group_of_rows(data, group, unit)
    check_no_missing(data, [y, treatment, *controls, unit, time, cluster])
    _check_every_group_treated(data, values, treatment, unit)
    labels = _sorted_groups(values)
    reference = labels[0] if reference is None else reference
    if reference not in labels:
        raise DidArgumentError(f"reference group {reference!r} is not a group of {values.name!r}: "
                               f"{', '.join(map(repr, labels))}")
    spanning = values.groupby(data[cluster]).nunique()
    if (spanning > 1).any():
        spanning_clusters = _examples(list(spanning.index[spanning > 1]))
        raise DidArgumentError(f"clusters must not span groups: {cluster} {spanning_clusters} hold units of "
                               f"several groups of {values.name!r}")

    codes = np.array([labels.index(value) for value in values])
    frame = data[list(dict.fromkeys([y, unit, cluster]))].reset_index(drop=True)
    frame["_time_by_group"] = pd.factorize(pd.Series(list(zip(data[time], codes))))[0]
    treatment_terms, control_terms = [], []
    for k in range(len(labels)):
        indicator = (codes == k).astype(float)
        frame[f"_treatment_g{k}"] = data[treatment].to_numpy(dtype=float) * indicator
        treatment_terms.append(f"_treatment_g{k}")
        for j, name in enumerate(controls):
            frame[f"_control{j}_g{k}"] = data[name].to_numpy(dtype=float) * indicator
            control_terms.append(f"_control{j}_g{k}")
    fit = did.twfe(frame, y, treatment_terms[0], (*treatment_terms[1:], *control_terms), unit=unit,
                   time="_time_by_group", cluster=cluster, alpha=alpha)
    fitted = fit.fitted
    coefficients = fitted.coef()[treatment_terms].to_numpy()
    covariance = pd.DataFrame(fitted._vcov, index=fitted._coefnames, columns=fitted._coefnames).loc[
        treatment_terms, treatment_terms].to_numpy()
    n_clusters = fit.extra["n_clusters"]
    df = n_clusters - 1
    r = labels.index(reference)
    others = [k for k in range(len(labels)) if k != r]
    contrast = np.zeros((len(others), len(labels)))
    for row, k in enumerate(others):
        contrast[row, k], contrast[row, r] = 1.0, -1.0
    differences = contrast @ coefficients
    difference_se = np.sqrt(np.diag(contrast @ covariance @ contrast.T))
    critical = stats.t.ppf(1 - alpha / 2, df)
    group_rows = fit.table.loc[treatment_terms].set_axis(labels)
    difference_rows = pd.DataFrame({
        "estimate": differences, "std_error": difference_se,
        "ci_low": differences - critical * difference_se, "ci_high": differences + critical * difference_se,
        "p_value": 2 * stats.t.sf(np.abs(differences / difference_se), df),
    }, index=[f"{labels[k]} - {reference}" for k in others])
    table = pd.concat([group_rows, difference_rows])
    table.index.name = "term"
    middle = contrast @ covariance @ contrast.T
    statistic = float(differences @ np.linalg.solve(middle, differences)) / len(others)
    sizes = _group_sizes(data, values, treatment, unit)
    return DidResult(
        estimator=f"fully interacted TWFE by {values.name}",
        table=table, n_obs=fit.n_obs, n_units=fit.n_units, inference=fit.inference, main_term=None,
        fitted=fitted,
        extra={"equality_test": {"test": f"Wald test that the {len(labels)} group effects are equal, "
                                         f"F({len(others)}, {df}), clustered covariance",
                                 "statistic": statistic, "df": (len(others), df),
                                 "p_value": float(stats.f.sf(statistic, len(others), df))},
               "groups": labels, "reference": reference, "group": values.name, "sizes": sizes,
               "terms": dict(zip(labels, treatment_terms)), "n_clusters": n_clusters,
               "covariance": pd.DataFrame(covariance, index=labels, columns=labels), "alpha": alpha},
    )


def pairwise_differences(result: DidResult, pairs: Iterable[tuple[Any, Any]] | None = None) -> pd.DataFrame:
    """Differences ``a - b`` of group effects of a :func:`fully_interacted_twfe` result.

    ``pairs``: the (a, b) pairs (default: every pair of groups, in sorted order, ``b`` before
    ``a``). Each difference uses the clustered covariance of the pooled regression,
    ``se = sqrt(V_aa + V_bb - 2 V_ab)`` (``V_ab`` is zero when clusters are nested in groups), with
    a t(G-1) interval and p-value, as the rows against the reference group. Returns a table
    indexed by ``"a - b"`` with :data:`RESULT_COLUMNS`.
    """
    if "covariance" not in result.extra:
        raise DidArgumentError("pairwise_differences needs a result of fully_interacted_twfe")
    labels, covariance = result.extra["groups"], result.extra["covariance"]
    pairs = [(a, b) for j, b in enumerate(labels) for a in labels[j + 1:]] if pairs is None else list(pairs)
    unknown = sorted({str(g) for pair in pairs for g in pair if g not in labels})
    if unknown:
        raise DidArgumentError(f"groups {unknown} are not groups of {result.extra['group']!r}: "
                               f"{', '.join(map(repr, labels))}")
    df = result.extra["n_clusters"] - 1
    critical = stats.t.ppf(1 - result.extra["alpha"] / 2, df)
    rows = {}
    for a, b in pairs:
        estimate = float(result.table.loc[a, "estimate"] - result.table.loc[b, "estimate"])
        std_error = float(np.sqrt(covariance.loc[a, a] + covariance.loc[b, b] - 2 * covariance.loc[a, b]))
        rows[f"{a} - {b}"] = {"estimate": estimate, "std_error": std_error,
                              "ci_low": estimate - critical * std_error, "ci_high": estimate + critical * std_error,
                              "p_value": float(2 * stats.t.sf(abs(estimate / std_error), df))}
    table = pd.DataFrame.from_dict(rows, orient="index", columns=list(RESULT_COLUMNS))
    table.index.name = "term"
    return table


def holm(p_values: pd.Series | Iterable[float]) -> pd.Series | np.ndarray:
    """Holm's (1979) step-down adjustment of a family of p-values (statsmodels ``multipletests``).

    Sort the m p-values, multiply the k-th smallest by m - k + 1, take running maxima and cap at
    one. Rejecting where the adjusted p-value is below alpha keeps the probability of any false
    rejection in the family below alpha, whatever the dependence between the tests. NaN entries
    (tests not run) are left out of the family and stay NaN. A Series keeps its index.
    """
    from statsmodels.stats.multitest import multipletests

    values = pd.Series(p_values, dtype=float)
    adjusted = pd.Series(np.nan, index=values.index, dtype=float)
    present = values.notna()
    if (values[present] < 0).any() or (values[present] > 1).any():
        raise DidArgumentError("p-values must lie between 0 and 1")
    if present.any():
        adjusted[present] = multipletests(values[present].to_numpy(), method="holm")[1]
    return adjusted if isinstance(p_values, pd.Series) else adjusted.to_numpy()


def independent_difference(estimate_a: float, std_error_a: float, estimate_b: float, std_error_b: float,
                           alpha: float = 0.05) -> dict:
    """The difference a - b of two estimates from disjoint sets of clusters, with a normal test.

    Estimates from separate samples with no cluster in common are independent, so
    ``se(a - b) = sqrt(se_a^2 + se_b^2)``; z = (a - b) / se, two-sided normal p-value and interval.
    Use it for published split-sample coefficients (where only estimates and standard errors are
    known) and for estimators without a pooled form. Returns ``difference``, ``std_error``, ``z``,
    ``p_value``, ``ci_low`` and ``ci_high``.
    """
    check_alpha(alpha)
    values = np.array([estimate_a, std_error_a, estimate_b, std_error_b], dtype=float)
    if not np.all(np.isfinite(values)) or std_error_a < 0 or std_error_b < 0:
        raise DidArgumentError("estimates and standard errors must be finite, and standard errors non-negative")
    difference = float(estimate_a - estimate_b)
    std_error = float(np.hypot(std_error_a, std_error_b))
    z = difference / std_error
    critical = stats.norm.ppf(1 - alpha / 2)
    return {"difference": difference, "std_error": std_error, "z": z, "p_value": float(2 * stats.norm.sf(abs(z))),
            "ci_low": float(difference - critical * std_error), "ci_high": float(difference + critical * std_error)}


def independent_equality_test(estimates: Iterable[float], std_errors: Iterable[float]) -> dict:
    """Wald test that k estimates from disjoint sets of clusters are equal.

    With independent estimates the covariance is diagonal, and the statistic
    ``W = sum_g (b_g - b_w)^2 / se_g^2``, ``b_w`` the precision-weighted mean, is chi-squared with
    k - 1 degrees of freedom under equality (the heterogeneity Q statistic of meta-analysis).
    For published split-sample coefficients. Returns ``statistic``, ``df``, ``p_value`` and ``pooled``
    (``b_w``).
    """
    b = np.asarray(list(estimates), dtype=float)
    se = np.asarray(list(std_errors), dtype=float)
    if b.shape != se.shape or b.size < 2:
        raise DidArgumentError("give at least two estimates and one standard error for each")
    if not (np.all(np.isfinite(b)) and np.all(np.isfinite(se)) and np.all(se > 0)):
        raise DidArgumentError("estimates must be finite and standard errors finite and positive")
    precision = 1 / se**2
    pooled = float((precision * b).sum() / precision.sum())
    statistic = float((precision * (b - pooled) ** 2).sum())
    return {"test": f"Wald test of equality of {b.size} independent estimates, chi2({b.size - 1})",
            "statistic": statistic, "df": b.size - 1, "p_value": float(stats.chi2.sf(statistic, b.size - 1)),
            "pooled": pooled}
