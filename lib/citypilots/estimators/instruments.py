"""Instrumental variables with unit and period fixed effects: 2SLS and its identification tests.

:func:`iv_2sls` is two-stage least squares with unit and period effects absorbed and standard
errors clustered by unit, fitted by pyfixest (``y ~ controls | unit + time | endogenous ~
instruments``). :func:`iv_2sls_linearmodels` fits the same model with linearmodels' ``IV2SLS``
on explicit unit and period dummies: a second, independent implementation the tests compare it
with. :func:`identification_tests` adds what ``ivreg2`` / ``ivreghdfe`` print under a 2SLS table
(Baum, Schaffer and Stillman 2007), which neither package reports for a clustered fit:

- the first-stage F: the classical (i.i.d.) F test of the excluded instruments in the first
  stage, which with one endogenous regressor is the Cragg-Donald Wald F;
- the Kleibergen-Paap (2006) rk LM statistic (under-identification; chi2 with L1 degrees of
  freedom) and rk Wald F statistic (weak identification), both cluster-robust.

Written here because no installed package computes the Kleibergen-Paap statistics. With one
endogenous regressor ``x`` and L1 excluded instruments ``Z``, both partialled on the fixed effects
and controls (Frisch-Waugh-Lovell), the rank statistic of Kleibergen and Paap (Stata's
``ranktest``) reduces to ``(Z'x)' S^-1 (Z'x)`` with ``S = sum_g s_g s_g'`` and
``s_g = sum_{i in g} v_i z_i``, where ``v = x`` (scores under the null of no first stage) for the
LM statistic and ``v = x - Z pi`` (first-stage residuals) for the Wald statistic. The Wald F is
the Wald statistic / L1 with ``ivreg2``'s small-sample factor, ``(N - K) / (N - 1) x (G - 1) / G``,
the inverse of the CRV1 factor, so that with one instrument it equals the cluster-robust
first-stage F; K counts the parameters as pyfixest does. The tests check the reduction against
a line-by-line port of ``ranktest``'s general formula, and the Wald statistic against
linearmodels' first-stage partial F.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd
import pyfixest as pf
from scipy import sparse, stats

from .did import _check_formula_names, _coefficient_table, _inference_label
from .estimates import (DidArgumentError, DidResult, _raise_problems, as_names, check_alpha, check_columns,
                        check_no_missing, check_numeric, check_unique_unit_time)
from .placebo import TwoWayPartialler

WITHIN_TOLERANCE = 1e-9  # an instrument whose within-unit-and-period variance is below this share is absorbed


def _check(data: pd.DataFrame, y: str, endogenous: str, instruments: tuple[str, ...], controls: tuple[str, ...],
           unit: str, time: str, cluster: str, alpha: float) -> None:
    check_alpha(alpha)
    if not instruments:
        raise DidArgumentError("give at least one instrument")
    columns = [y, endogenous, *instruments, *controls]
    check_columns(data, [*columns, unit, time, cluster])
    _check_formula_names([*columns, unit, time, cluster])
    overlap = [name for name in instruments if name in (y, endogenous, *controls)]
    if overlap:
        raise DidArgumentError(f"instruments {overlap} are also the outcome, the endogenous regressor or controls")
    check_numeric(data, columns)
    check_no_missing(data, [*columns, unit, time, cluster])
    check_unique_unit_time(data, unit, time)


def absorbed_instruments(data: pd.DataFrame, instruments: Iterable[str], unit: str = "city",
                         time: str = "year") -> list[str]:
    """The instruments with (almost) no variation left after removing unit and period means.

    A variable that is constant within each unit (a city's number of universities in one base
    year, say) is a linear combination of the unit dummies: with unit fixed effects it cannot
    move the first stage, and 2SLS is not identified.
    """
    partial = TwoWayPartialler(data, (), unit, time)
    absorbed = []
    for name in instruments:
        values = data[name].to_numpy(dtype=float)
        within = partial(values[:, None])[:, 0]
        total = np.sum((values - values.mean()) ** 2)
        if total == 0 or np.sum(within**2) <= WITHIN_TOLERANCE * total:
            absorbed.append(name)
    return absorbed


def iv_2sls(data: pd.DataFrame, y: str, endogenous: str, instruments: str | Iterable[str],
            controls: str | Iterable[str] = (), unit: str = "city", time: str = "year",
            cluster: str | None = None, alpha: float = 0.05) -> DidResult:
    """Two-stage least squares with unit and period fixed effects, clustered by unit.

    Second stage ``y_it = b x_it + w_it' g + a_i + l_t + e_it`` with ``x`` the ``endogenous``
    regressor, first stage ``x_it = Z_it' p + w_it' d + a'_i + l'_t + v_it`` with ``Z`` the excluded
    ``instruments`` and ``w`` the ``controls`` (e.g. Wooldridge 2010, ch. 5 and 10). Fitted by
    pyfixest; CRV1 standard errors by ``cluster`` (default: the unit), t(G-1) intervals. An
    instrument absorbed by the fixed effects (:func:`absorbed_instruments`) is an error.

    ``table``: the endogenous regressor, then the controls. ``extra``: ``first_stage`` (a
    :class:`DidResult` of the first stage), the :func:`identification_tests` and ``n_clusters``.
    """
    instruments, controls = as_names(instruments), as_names(controls)
    cluster = cluster or unit
    _check(data, y, endogenous, instruments, controls, unit, time, cluster, alpha)
    absorbed = absorbed_instruments(data, instruments, unit, time)
    if absorbed:
        _raise_problems([f"instrument {name!r} does not vary within {unit} and {time} (it is constant within "
                         f"each {unit}, or a {unit} level plus a {time} level): the {unit} and {time} fixed effects "
                         "absorb it and 2SLS is not identified; interact it with something that varies over "
                         f"{time} (e.g. its base-year value times the {time})" for name in absorbed])
    columns = list(dict.fromkeys([y, endogenous, *instruments, *controls, unit, time, cluster]))
    frame = data[columns].reset_index(drop=True)
    for name in (y, endogenous, *instruments, *controls):
        frame[name] = frame[name].astype(float)
    exogenous = " + ".join(controls) if controls else "1"
    formula = f"{y} ~ {exogenous} | {unit} + {time} | {endogenous} ~ {' + '.join(instruments)}"
    fit = pf.feols(formula, data=frame, vcov={"CRV1": cluster}, fixef_rm="none")
    first = pf.feols(f"{endogenous} ~ {' + '.join([*instruments, *controls])} | {unit} + {time}", data=frame,
                     vcov={"CRV1": cluster}, fixef_rm="none")
    n_clusters = int(frame[cluster].nunique())
    terms = (endogenous, *controls)
    first_stage = DidResult(
        estimator="first stage (OLS, unit and period fixed effects)",
        table=_coefficient_table(first, [*instruments, *controls], n_clusters - 1, alpha),
        n_obs=len(frame), n_units=int(frame[unit].nunique()),
        inference=_inference_label(cluster, n_clusters), main_term=instruments[0], fitted=first,
        extra={"n_clusters": n_clusters},
    )
    tests = identification_tests(frame, endogenous, instruments, controls, unit, time, cluster,
                                 small_sample=float(np.asarray(first._ssc).squeeze()))
    return DidResult(
        estimator="2SLS (pyfixest), unit and period fixed effects",
        table=_coefficient_table(fit, terms, n_clusters - 1, alpha),
        n_obs=len(frame), n_units=int(frame[unit].nunique()),
        inference=_inference_label(cluster, n_clusters), main_term=endogenous, fitted=fit,
        extra={"first_stage": first_stage, **tests, "n_clusters": n_clusters, "instruments": instruments},
    )


def identification_tests(data: pd.DataFrame, endogenous: str, instruments: Iterable[str],
                         controls: Iterable[str] = (), unit: str = "city", time: str = "year",
                         cluster: str | None = None, small_sample: float | None = None) -> dict:
    """First-stage F (i.i.d.), Kleibergen-Paap rk LM and rk Wald F for one endogenous regressor.

    See the module docstring for the formulas. ``small_sample`` is the CRV1 factor
    ``(N - 1) / (N - K) x G / (G - 1)`` of the first stage; by default K counts the regressors,
    the period effects and one for the unit effects (nested in unit clusters), as pyfixest does.
    Returns ``first_stage_F``, ``kp_rk_lm`` (``statistic``, ``df``, ``p_value``), ``kp_rk_wald``
    (the chi2 statistic) and ``kp_rk_wald_F``.
    """
    instruments, controls = as_names(instruments), as_names(controls)
    cluster = cluster or unit
    frame = data.reset_index(drop=True)
    partial = TwoWayPartialler(frame, controls, unit, time)
    x = partial(frame[[endogenous]].to_numpy(dtype=float))[:, 0]
    z = partial(frame[list(instruments)].to_numpy(dtype=float))
    n, l1 = len(frame), z.shape[1]
    n_units, n_periods = frame[unit].nunique(), frame[time].nunique()
    codes = pd.factorize(frame[cluster])[0]
    n_clusters = codes.max() + 1
    cluster_sum = sparse.csr_matrix((np.ones(n), (codes, np.arange(n))), shape=(n_clusters, n))

    zx = z.T @ x
    pi = np.linalg.solve(z.T @ z, zx)

    def rank_statistic(v: np.ndarray) -> float:
        scores = cluster_sum @ (z * v[:, None])  # (clusters, L1)
        return float(zx @ np.linalg.solve(scores.T @ scores, zx))

    lm = rank_statistic(x)
    wald = rank_statistic(x - z @ pi)
    if small_sample is None:
        k = l1 + len(controls) + n_periods  # period effects and one for the unit effects nested in the clusters
        small_sample = (n - 1) / (n - k) * n_clusters / (n_clusters - 1)
    # Classical first-stage F: (explained by Z / L1) / (residual / (N - K)), K counting every parameter.
    explained = float(zx @ pi)
    residual = float(x @ x) - explained
    k_iid = l1 + len(controls) + n_units + n_periods - 1
    return {
        "first_stage_F": explained / l1 / (residual / (n - k_iid)),
        "kp_rk_lm": {"statistic": lm, "df": l1, "p_value": float(stats.chi2.sf(lm, l1))},
        "kp_rk_wald": wald,
        "kp_rk_wald_F": wald / small_sample / l1,
    }


def iv_2sls_linearmodels(data: pd.DataFrame, y: str, endogenous: str, instruments: str | Iterable[str],
                         controls: str | Iterable[str] = (), unit: str = "city", time: str = "year",
                         cluster: str | None = None) -> DidResult:
    """The same 2SLS fitted by linearmodels' ``IV2SLS`` with explicit unit and period dummies.

    A second implementation to check :func:`iv_2sls` against (the coefficients agree to rounding).
    Standard errors are linearmodels' clustered ones without small-sample correction
    (``debiased=False``): pyfixest's CRV1 variance is this times its small-sample factor.
    """
    from linearmodels.iv import IV2SLS

    instruments, controls = as_names(instruments), as_names(controls)
    cluster = cluster or unit
    _check(data, y, endogenous, instruments, controls, unit, time, cluster, 0.05)
    frame = data.reset_index(drop=True)
    exogenous = pd.concat([
        pd.Series(1.0, index=frame.index, name="const"), frame[list(controls)].astype(float),
        pd.get_dummies(frame[unit], prefix="unit", drop_first=True, dtype=float),
        pd.get_dummies(frame[time], prefix="time", drop_first=True, dtype=float)], axis=1)
    fit = IV2SLS(frame[y].astype(float), exogenous, frame[[endogenous]].astype(float),
                 frame[list(instruments)].astype(float)).fit(cov_type="clustered", clusters=frame[cluster],
                                                             debiased=False)
    terms = [endogenous, *controls]
    table = pd.DataFrame({"estimate": fit.params[terms], "std_error": fit.std_errors[terms],
                          "ci_low": fit.conf_int().loc[terms, "lower"], "ci_high": fit.conf_int().loc[terms, "upper"],
                          "p_value": fit.pvalues[terms]})
    table.index.name = "term"
    n_clusters = int(frame[cluster].nunique())
    return DidResult(estimator="2SLS (linearmodels IV2SLS, explicit dummies)", table=table, n_obs=len(frame),
                     n_units=int(frame[unit].nunique()),
                     inference=f"clustered by {cluster} ({n_clusters} clusters), no small-sample factor, normal",
                     main_term=endogenous, fitted=fit, extra={"n_clusters": n_clusters})
