"""Difference-in-differences estimators for any panel with a unit, a time and a first-treatment year.

One result shape for every estimator (:class:`DidResult`): a table of estimates indexed by term
(a coefficient, an event time, a group or a year) with the columns ``estimate``, ``std_error``,
``ci_low``, ``ci_high`` and ``p_value``, plus the number of observations and units, how the
standard errors were computed, and the fitted object of the underlying package for those who
want more. Estimators:

- :func:`twfe`: two-way fixed effects, city and year effects, clustered by unit (pyfixest).
- :func:`event_study`: the dynamic TWFE specification with a window, binned end points and a
  reference period; :func:`pretrend_test`, the joint test of its leads (a :func:`wald_test`);
  :func:`linear_combination` of its coefficients (e.g. the post-period average).
- :func:`two_by_two`: the 2x2 DID of group means, the building block of them all.
- :func:`att_gt` (Callaway and Sant'Anna), :func:`sun_abraham`, :func:`imputation`
  (Borusyak, Jaravel and Spiess), :func:`bacon_decomposition` (Goodman-Bacon) and
  :func:`twfe_weights` (de Chaisemartin and D'Haultfoeuille): the heterogeneity-robust
  estimators and diagnostics, in :mod:`citypilots.estimators.staggered` and re-exported here.

Conventions: ``cohort`` is the first year a unit is treated, missing (NA) for a never-treated
unit; a treatment dummy is absorbing (0 before the cohort year, 1 from it on).

Every estimator checks its arguments first and raises :class:`DidArgumentError` listing every
problem at once (unknown columns, a dummy that is not 0/1, missing values, cohorts outside the
data or varying within a unit, repeated unit-periods): rows are never dropped silently. The
checks live in :mod:`citypilots.estimators.estimates` (with the result class) and are re-exported here, so
that every estimator of the book uses the same.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import pyfixest as pf
from scipy import stats

from .estimates import (RESULT_COLUMNS, DidArgumentError, DidResult, _examples, _raise_problems, as_names,
                        check_alpha, check_binary, check_cohort, check_columns, check_no_missing, cohort_values,
                        check_numeric, check_unique_unit_time)

def _check_formula_names(names: Iterable[str]) -> None:
    problems = [f"column {name!r} cannot be used in a model formula: rename it to letters, digits "
                "and underscores" for name in dict.fromkeys(names) if not str(name).isidentifier()]
    _raise_problems(problems)


def _check_regression_inputs(data: pd.DataFrame, y: str, regressors: Sequence[str], unit: str,
                             time: str, cluster: str, other_columns: Sequence[str] = ()) -> None:
    """The checks every regression here needs: columns exist (``other_columns`` too), usable in
    a formula, numeric, complete, and one row per unit and period."""
    columns = [y, *regressors, unit, time, cluster]
    check_columns(data, [*columns, *other_columns])
    _check_formula_names(columns)
    check_numeric(data, [y, *regressors])
    check_no_missing(data, columns)
    check_unique_unit_time(data, unit, time)


# ----------------------------------------------------------------------------------------------
# Fitting and tabulating
# ----------------------------------------------------------------------------------------------

def _fit_two_way(frame: pd.DataFrame, y: str, regressors: Sequence[str], unit: str, time: str,
                 cluster: str):
    """pyfixest OLS of y on the regressors with unit and time fixed effects, CRV1 by cluster.

    Every row is used (``fixef_rm="none"``: no singleton is dropped), so the estimates equal OLS
    with explicit unit and time dummies. A regressor that pyfixest drops as collinear is an error.
    """
    formula = f"{y} ~ {' + '.join(regressors)} | {unit} + {time}"
    fit = pf.feols(formula, data=frame, vcov={"CRV1": cluster}, fixef_rm="none")
    dropped = [name for name in regressors if name not in fit._coefnames]
    if dropped:
        raise DidArgumentError(
            f"regressors {dropped} cannot be estimated: collinear with the {unit} and {time} fixed "
            "effects or with the other regressors (e.g. constant within units)")
    return fit


def _coefficient_table(fit, terms: Sequence[str], df: int, alpha: float) -> pd.DataFrame:
    """Estimate, clustered SE, t(df) confidence interval and two-sided p-value of each term."""
    estimate = fit.coef()[list(terms)].to_numpy()
    std_error = fit.se()[list(terms)].to_numpy()
    critical = stats.t.ppf(1 - alpha / 2, df)
    return pd.DataFrame({
        "estimate": estimate,
        "std_error": std_error,
        "ci_low": estimate - critical * std_error,
        "ci_high": estimate + critical * std_error,
        "p_value": 2 * stats.t.sf(np.abs(estimate / std_error), df),
    }, index=pd.Index(list(terms), name="term"))


def _coefficient_covariance(fit) -> pd.DataFrame:
    """The covariance matrix of the coefficients that the fit reports (its CRV1 matrix)."""
    return pd.DataFrame(fit._vcov, index=fit._coefnames, columns=fit._coefnames)


def _inference_label(cluster: str, n_clusters: int) -> str:
    return f"clustered by {cluster} (CRV1, {n_clusters} clusters), t({n_clusters - 1})"


def _model_frame(data: pd.DataFrame, numeric: Sequence[str], keys: Sequence[str]) -> pd.DataFrame:
    """The columns a model uses: numeric ones as float64, the unit/time/cluster keys as they are."""
    frame = data[list(dict.fromkeys(keys))].reset_index(drop=True)
    for name in dict.fromkeys(numeric):
        frame[name] = data[name].to_numpy(dtype=float)
    return frame


# ----------------------------------------------------------------------------------------------
# Two-way fixed effects
# ----------------------------------------------------------------------------------------------

def twfe(data: pd.DataFrame, y: str, treatment: str, controls: str | Iterable[str] = (),
         unit: str = "city", time: str = "year", cluster: str | None = None,
         alpha: float = 0.05) -> DidResult:
    """Two-way fixed effects (TWFE) difference in differences.

    OLS of ``y_it = beta D_it + x_it' gamma + a_i + l_t + e_it`` with ``D`` the 0/1 ``treatment``,
    ``x`` the ``controls``, unit effects ``a_i`` and time effects ``l_t`` (Angrist and Pischke
    2009, ch. 5), fitted by pyfixest. Standard errors are clustered by ``cluster`` (default: the
    unit), CRV1 with pyfixest's small-sample factor (N-1)/(N-K) x G/(G-1), where K counts the
    slopes, the fixed effects not nested in the clusters and one for each nested set (with
    unit effects and unit clusters: slopes + number of periods); confidence intervals and
    p-values use Student's t with G-1 degrees of freedom (G clusters), as pyfixest, fixest and
    Stata do. With staggered adoption and effects that vary over time or across cohorts,
    ``beta`` averages all 2x2 comparisons, including those that use already-treated units as
    controls (Goodman-Bacon 2021), and may put negative weights on some cohort-period effects
    (de Chaisemartin and D'Haultfoeuille 2020).

    ``table`` has one row per term, the treatment first, then the controls.
    """
    controls = as_names(controls)
    cluster = cluster or unit
    check_alpha(alpha)
    _check_regression_inputs(data, y, (treatment, *controls), unit, time, cluster)
    check_binary(data, treatment)
    terms = (treatment, *controls)
    frame = _model_frame(data, (y, *terms), (unit, time, cluster))
    fit = _fit_two_way(frame, y, terms, unit, time, cluster)
    n_clusters = int(frame[cluster].nunique())
    return DidResult(
        estimator="TWFE",
        table=_coefficient_table(fit, terms, n_clusters - 1, alpha),
        n_obs=len(frame),
        n_units=int(frame[unit].nunique()),
        inference=_inference_label(cluster, n_clusters),
        main_term=treatment,
        fitted=fit,
        extra={"r2": float(fit._r2), "r2_within": float(fit._r2_within), "n_clusters": n_clusters},
    )


# ----------------------------------------------------------------------------------------------
# Event study
# ----------------------------------------------------------------------------------------------

def _check_window(window: tuple[int, int], reference: int) -> tuple[int, int]:
    try:
        first, last = (int(bound) for bound in window)
    except (TypeError, ValueError):
        raise DidArgumentError(f"window must be two integers (first, last), not {window!r}") from None
    if (first, last) != tuple(window) or first >= last:
        raise DidArgumentError(f"window must be two integers with first < last, not {window!r}")
    if isinstance(reference, bool) or int(reference) != reference:
        raise DidArgumentError(f"the reference period must be an integer event time, not {reference!r}")
    if not first <= reference <= last:
        raise DidArgumentError(f"the reference period {reference} is not in the window {window!r}")
    return first, last


def _event_term(e: int) -> str:
    """The regressor name of event time e: event_m2 for e = -2, event_0, event_p3 for e = 3."""
    return f"event_m{-e}" if e < 0 else (f"event_p{e}" if e > 0 else "event_0")


def event_time_indicators(event_time: np.ndarray, window: tuple[int, int], reference: int,
                          bin_endpoints: bool) -> pd.DataFrame:
    """One 0/1 column per event time in ``window`` except ``reference`` (index: event time).

    ``event_time`` is time minus cohort (NaN for never-treated units, which get no indicator).
    With ``bin_endpoints`` the first and last columns also take every earlier and later event
    time; without, event times outside the window get no indicator.
    """
    first, last = window
    clipped = np.clip(event_time, first, last) if bin_endpoints else event_time
    periods = [e for e in range(first, last + 1) if e != reference]
    return pd.DataFrame({e: (clipped == e).astype(float) for e in periods})


def event_study(data: pd.DataFrame, y: str, cohort: str, controls: str | Iterable[str] = (),
                unit: str = "city", time: str = "year", window: tuple[int, int] = (-8, 8),
                reference: int = -1, bin_endpoints: bool = True, cluster: str | None = None,
                alpha: float = 0.05) -> DidResult:
    """Dynamic TWFE event study.

    OLS of ``y_it = sum_{e != reference} b_e 1{t - g_i = e} + x_it' gamma + a_i + l_t + e_it``,
    ``g_i`` the unit's ``cohort`` (first treated period), for each event time e in ``window``
    except the ``reference`` period, whose coefficient is normalised to zero (e.g. Borusyak,
    Jaravel and Spiess 2024; Sun and Abraham 2021 on its weights under heterogeneous effects).
    Never-treated units (cohort NA) get no indicator. With ``bin_endpoints`` (default) the first
    and last indicators also take every event time beyond the window (binned end points);
    without, observations outside the window get no indicator, which pools them with the
    reference period. Unit and time effects; clustered CRV1 standard errors and t(G-1)
    intervals as in :func:`twfe`.

    ``table`` is indexed by event time, one row for each period in the window, sorted; the
    reference row has estimate 0 and NaN standard error, interval and p-value. ``extra`` holds
    ``reference``, ``binned``, ``window``, ``terms`` (event time -> regressor name),
    ``n_clusters`` and ``n_treated_obs`` (treated observations behind each estimated
    event time).
    Test the leads with :func:`pretrend_test`.
    """
    controls = as_names(controls)
    cluster = cluster or unit
    check_alpha(alpha)
    window = _check_window(window, reference)
    _check_regression_inputs(data, y, controls, unit, time, cluster, other_columns=[cohort])
    check_cohort(data, unit, time, cohort)

    event_time = data[time].to_numpy(dtype=float) - cohort_values(data, time, cohort)
    indicators = event_time_indicators(event_time, window, reference, bin_endpoints)
    n_treated = indicators.sum().astype(int)
    if (n_treated == 0).any():
        empty = list(n_treated.index[n_treated == 0])
        raise DidArgumentError(f"no observations at event times {_examples(empty, len(empty))} of "
                               f"cohort column {cohort!r}: narrow the window {window}")
    terms = {e: _event_term(e) for e in indicators.columns}
    clashes = [name for name in terms.values() if name in (y, *controls, unit, time, cluster)]
    if clashes:
        raise DidArgumentError(f"column names {clashes} are reserved for the event-time indicators")

    frame = _model_frame(data, (y, *controls), (unit, time, cluster))
    frame[list(terms.values())] = indicators.to_numpy()
    fit = _fit_two_way(frame, y, (*terms.values(), *controls), unit, time, cluster)
    n_clusters = int(frame[cluster].nunique())

    table = _coefficient_table(fit, list(terms.values()), n_clusters - 1, alpha)
    table.index = pd.Index(list(terms), name="event_time")
    table.loc[reference] = [0.0, np.nan, np.nan, np.nan, np.nan]
    return DidResult(
        estimator="TWFE event study" + (" (binned end points)" if bin_endpoints else ""),
        table=table.sort_index(),
        n_obs=len(frame),
        n_units=int(frame[unit].nunique()),
        inference=_inference_label(cluster, n_clusters),
        main_term=None,
        fitted=fit,
        extra={"reference": reference, "binned": bool(bin_endpoints), "window": window,
               "terms": terms, "n_clusters": n_clusters, "n_treated_obs": n_treated},
    )


def wald_test(result: DidResult, terms: Sequence[Any], null: float | Sequence[float] = 0.0) -> dict:
    """Joint Wald test that the coefficients of ``terms`` (labels of ``result.table``) equal ``null``.

    ``W = (b - b0)' V^-1 (b - b0)`` with ``V`` the clustered (CRV1) covariance of the fit; the
    statistic ``W / k`` is referred to F(k, G-1), k restrictions and G clusters, as Stata's
    ``test`` does after a regression with clustered standard errors. Returns ``test``,
    ``statistic``, ``df`` (k, G-1), ``p_value`` and ``terms``.
    """
    terms = list(terms)
    names = [result.extra.get("terms", {}).get(term, term) for term in terms]
    unknown = [term for term, name in zip(terms, names) if name not in result.fitted._coefnames]
    if unknown or not terms:
        raise DidArgumentError(f"cannot test {unknown or 'no terms'}: the terms must be estimated "
                               f"rows of the result's table ({list(result.table.index)})")
    deviation = result.fitted.coef()[names].to_numpy() - np.broadcast_to(null, len(names))
    covariance = _coefficient_covariance(result.fitted).loc[names, names].to_numpy()
    k, df_denominator = len(names), result.extra["n_clusters"] - 1
    if np.linalg.matrix_rank(covariance) < k:
        raise DidArgumentError(f"the clustered covariance of the {k} tested coefficients is "
                               f"singular ({result.extra['n_clusters']} clusters): test fewer")
    statistic = float(deviation @ np.linalg.solve(covariance, deviation)) / k
    return {
        "test": f"Wald test, F({k}, {df_denominator}), clustered covariance",
        "statistic": statistic,
        "df": (k, df_denominator),
        "p_value": float(stats.f.sf(statistic, k, df_denominator)),
        "terms": terms,
    }


def linear_combination(result: DidResult, weights: dict, alpha: float = 0.05) -> dict:
    """A linear combination ``sum_k w_k b_k`` of a regression's coefficients, with its inference.

    ``weights``: label of ``result.table`` (a term, or an event time of :func:`event_study`) ->
    weight; a reference period (normalised to 0) may be listed and adds nothing. Standard error
    from the clustered (CRV1) covariance of the fit, ``sqrt(w' V w)``; interval and p-value from
    t(G-1), as the coefficients' own (Stata's ``lincom`` after a clustered regression). Returns
    ``estimate``, ``std_error``, ``ci_low``, ``ci_high``, ``p_value`` and ``terms``.
    """
    check_alpha(alpha)
    names_of = result.extra.get("terms", {})
    reference = result.extra.get("reference")
    chosen = {term: float(w) for term, w in weights.items() if not (reference is not None and term == reference)}
    names = [names_of.get(term, term) for term in chosen]
    unknown = [term for term, name in zip(chosen, names) if name not in result.fitted._coefnames]
    if unknown or not chosen:
        raise DidArgumentError(f"cannot combine {unknown or 'no terms'}: the terms must be estimated rows of "
                               f"the result's table ({list(result.table.index)})")
    w = np.array(list(chosen.values()))
    estimate = float(w @ result.fitted.coef()[names].to_numpy())
    covariance = _coefficient_covariance(result.fitted).loc[names, names].to_numpy()
    std_error = float(np.sqrt(w @ covariance @ w))
    df = result.extra.get("n_clusters", result.n_units) - 1
    critical = stats.t.ppf(1 - alpha / 2, df)
    return {"estimate": estimate, "std_error": std_error, "ci_low": estimate - critical * std_error,
            "ci_high": estimate + critical * std_error,
            "p_value": float(2 * stats.t.sf(abs(estimate / std_error), df)), "terms": list(chosen)}


def two_by_two(data: pd.DataFrame, y: str, treated: Iterable, control: Iterable, before: int, after: int,
               unit: str = "city", time: str = "year") -> pd.DataFrame:
    """The 2x2 difference in differences, the building block of every DID estimator.

    Mean of ``y`` in the ``treated`` and ``control`` units (iterables of unit ids) in the years
    ``before`` and ``after``; the change of each group; and the difference of the changes,
    ``(treated after - treated before) - (control after - control before)``, in the cell
    ("treated - control", "change"). Equal to the TWFE coefficient of a dummy (treated x after) on
    those two groups and two years (Goodman-Bacon 2021 builds TWFE from such 2x2s). Rows:
    ``"treated"``, ``"control"``, ``"treated - control"``; columns: ``before``, ``after``,
    ``"change"``; ``attrs`` holds the numbers of units.
    """
    treated, control = list(treated), list(control)
    check_columns(data, [y, unit, time])
    problems = []
    if not treated or not control:
        problems.append("two_by_two needs at least one treated and one control unit")
    if set(treated) & set(control):
        problems.append(f"units {sorted(set(treated) & set(control))[:5]} are both treated and control")
    if before >= after:
        problems.append(f"before ({before}) must come before after ({after})")
    _raise_problems(problems)
    rows = data[data[time].isin([before, after])]
    means = {}
    for name, units in (("treated", treated), ("control", control)):
        chosen = rows[rows[unit].isin(units)]
        missing = {before, after} - set(chosen[time])
        if missing:
            raise DidArgumentError(f"the {name} units have no row in {time} {sorted(missing)}")
        means[name] = chosen.groupby(time)[y].mean()
    table = pd.DataFrame(means).T[[before, after]]
    table["change"] = table[after] - table[before]
    table.loc["treated - control"] = table.loc["treated"] - table.loc["control"]
    table.attrs.update(n_treated=len(set(treated)), n_control=len(set(control)))
    return table


def pretrend_test(result: DidResult) -> dict:
    """Joint test that every lead of an event study (event time before the reference) is zero.

    The :func:`wald_test` of the leads: F(k, G-1) on the clustered covariance, as Stata's
    ``test`` after a clustered regression. With binned end points the first lead also takes
    all earlier periods. Returns ``test``, ``statistic``, ``df``, ``p_value`` and ``leads``.
    """
    if "terms" not in result.extra or "reference" not in result.extra:
        raise DidArgumentError(f"pretrend_test needs an event_study result, not {result.estimator!r}")
    leads = [e for e in result.extra["terms"] if e < result.extra["reference"]]
    if not leads:
        raise DidArgumentError(f"no leads to test: the window {result.extra['window']} starts at "
                               f"the reference period {result.extra['reference']}")
    test = wald_test(result, leads)
    k, df_denominator = test["df"]
    return {"test": f"pre-trends: Wald test of {k} leads = 0, F({k}, {df_denominator}), clustered covariance",
            "statistic": test["statistic"], "df": test["df"], "p_value": test["p_value"], "leads": leads}


# ----------------------------------------------------------------------------------------------
# Heterogeneity-robust estimators, defined in citypilots.estimators.staggered
# ----------------------------------------------------------------------------------------------

from .staggered import att_gt, bacon_decomposition, imputation, sun_abraham, twfe_weights  # noqa: E402  (after the TWFE code it builds on)

__all__ = [
    "DidArgumentError", "DidResult", "RESULT_COLUMNS", "att_gt", "bacon_decomposition",
    "check_alpha", "check_binary", "check_cohort", "check_columns", "check_no_missing",
    "check_numeric", "check_unique_unit_time", "event_study", "imputation", "linear_combination",
    "pretrend_test", "sun_abraham", "twfe", "twfe_weights", "two_by_two", "wald_test",
]
