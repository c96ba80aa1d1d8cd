"""Wild cluster bootstrap inference for a TWFE coefficient (wrapping pyfixest and wildboottest).

With many clusters but few treated ones (here 218 cities, 37 of them dual pilots) the clustered
t-test can over-reject: the variance of the score is estimated mostly from the few treated
clusters (MacKinnon and Webb 2017). The wild cluster bootstrap (Cameron, Gelbach and Miller
2008) redraws the outcome as fitted value plus each cluster's residuals times a random sign and
re-computes the t-statistic; the p-value is the share of bootstrap |t| above the real |t|.

:func:`wild_cluster_bootstrap` calls pyfixest's ``Feols.wildboottest`` (the ``wildboottest``
package, Roodman et al. 2019's "11" variant) twice with the same seed:

- with the null ``b = 0`` imposed on the bootstrap data (WCR, the recommended test): the p-value;
- without it (WCU): the bootstrap t-statistics ``t* = (b* - b) / se*``, whose 1 - alpha quantile
  of ``|t*|`` gives the symmetric percentile-t interval ``b +/- q se`` (inverting the WCR test
  would match the p-value exactly, at about twenty times the cost).

``wildboottest`` treats the fixed effects as dummies, so its small-sample factor counts them all
and its ``se`` is a little larger than pyfixest's CRV1 one; ``t`` and ``t*`` share that factor,
so the p-value and the interval do not depend on it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .estimates import DidArgumentError, DidResult, check_alpha

WEIGHTS = ("rademacher", "mammen", "webb", "norm")


def wild_cluster_bootstrap(result: DidResult, term: Any = None, reps: int = 9999, seed: int = 0,
                           weights: str = "rademacher", alpha: float = 0.05) -> DidResult:
    """Wild cluster bootstrap p-value and percentile-t interval for one coefficient of a TWFE fit.

    ``result``: a :class:`citypilots.estimators.estimates.DidResult` whose ``fitted`` is a pyfixest ``Feols``
    with clustered standard errors (e.g. :func:`citypilots.estimators.did.twfe`). ``term``: the coefficient
    (default the main term); ``reps`` bootstrap draws with ``weights`` (Rademacher by default) and
    ``seed``. Returns a one-row :class:`DidResult`: the estimate, the bootstrap's standard error,
    the percentile-t interval and the WCR p-value; ``extra`` holds ``t_stat``, ``critical_value``,
    ``reps``, ``seed``, ``weights`` and the bootstrap t-statistics ``t_boot``.
    """
    check_alpha(alpha)
    if weights not in WEIGHTS:
        raise DidArgumentError(f"weights={weights!r} is not allowed; use one of {WEIGHTS}")
    if isinstance(reps, bool) or not isinstance(reps, (int, np.integer)) or reps < 99:
        raise DidArgumentError(f"reps={reps!r} must be a whole number of at least 99 bootstrap draws")
    fit = result.fitted
    if fit is None or not hasattr(fit, "wildboottest") or getattr(fit, "_is_iv", False):
        raise DidArgumentError(f"{result.estimator!r} has no pyfixest OLS fit to bootstrap")
    term = result.main_term if term is None else term
    name = result.extra.get("terms", {}).get(term, term)
    if name not in fit._coefnames:
        raise DidArgumentError(f"term {term!r} is not a coefficient of the fit ({list(fit._coefnames)})")
    if getattr(fit, "_clustervar", None) is None:
        raise DidArgumentError("the fit has no clustered standard errors: fit it with a cluster variable")
    restricted = fit.wildboottest(reps=reps, param=name, seed=seed, weights_type=weights, impose_null=True)
    unrestricted, t_boot = fit.wildboottest(reps=reps, param=name, seed=seed, weights_type=weights,
                                            impose_null=False, return_bootstrapped_t_stats=True)
    estimate = float(fit.coef()[name])
    t_stat = float(unrestricted["t value"])
    std_error = estimate / t_stat
    t_boot = np.asarray(t_boot, dtype=float).ravel()
    critical = float(np.quantile(np.abs(t_boot), 1 - alpha))
    table = pd.DataFrame({"estimate": [estimate], "std_error": [std_error],
                          "ci_low": [estimate - critical * std_error], "ci_high": [estimate + critical * std_error],
                          "p_value": [float(restricted["Pr(>|t|)"])]}, index=pd.Index([term], name="term"))
    return DidResult(
        estimator=f"wild cluster bootstrap ({weights}, {reps} draws; WCR p-value, WCU percentile-t interval)",
        table=table, n_obs=result.n_obs, n_units=result.n_units,
        inference=f"wild cluster bootstrap by {restricted['inference']}", main_term=term, fitted=fit,
        extra={"t_stat": t_stat, "critical_value": critical, "reps": reps, "seed": seed, "weights": weights,
               "t_boot": t_boot, "alpha": alpha},
    )
