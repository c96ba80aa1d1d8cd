"""Wild cluster bootstrap inference for a coefficient of a two-way fixed-effects fit.

With many clusters but few treated ones (here 218 cities, 37 of them dual pilots) the clustered
t-test can over-reject: the variance of the score is estimated mostly from the few treated
clusters (MacKinnon and Webb 2017). The wild cluster bootstrap (Cameron, Gelbach and Miller
2008) redraws the outcome as fitted value plus each cluster's residuals times a random weight
and recomputes the t-statistic; the p-value is the share of bootstrap ``|t*|`` above the real
``|t|``. Two variants, with the same weights (drawn as the ``wildboottest`` package draws them):

- WCR, the null ``b = 0`` imposed on the bootstrap data (the recommended test): the p-value;
- WCU, no null imposed: ``t* = (b* - b) / se*``, whose 1 - alpha quantile of ``|t*|`` gives the
  symmetric percentile-t interval ``b +/- q se``.

:func:`wild_cluster_bootstrap` computes both with the "fast and wild" algorithm of Roodman,
Nielsen, MacKinnon and Webb (2019) on the Frisch-Waugh-Lovell (FWL) residualised data. With
``D~`` the coefficient's regressor and ``u`` the outcome residuals (restricted or not), both
residualised on the fixed effects and the other regressors (``M``), a draw with cluster weights
``v`` gives ``y~* = A v`` with ``A = M [u 1_h]_h`` (one column per cluster, computed once), so
every draw's coefficient and cluster scores come from the G x G matrix ``C = S' (D~ * A)``:
``b* - b0 = 1'C v / D~'D~`` and ``score*_g = (C v)_g - (b* - b0) sum_{i in g} D~_i^2``. All draws
are one matrix product, where the package behind pyfixest's ``Feols.wildboottest`` builds the
fixed effects as dummies and loops over pairs of clusters (about 5 s per call on the book's
panel, 20 times slower; the book runs the bootstrap on every simulated panel of its seed runs).
:func:`wild_cluster_bootstrap_wildboottest` calls that package; the tests check that the two
give the same bootstrap t-statistics, draw for draw, and the same p-value.

The small-sample factor is pyfixest's CRV1 one for the real and every bootstrap t-statistic, so
``se`` is the fit's clustered standard error; the p-value and the interval do not depend on it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse

from .estimates import DidArgumentError, DidResult, check_alpha

WEIGHTS = ("rademacher", "mammen", "webb", "norm")


def _check(result: DidResult, term: Any, reps: int, weights: str, alpha: float):
    """The checked fit and the coefficient's name in it."""
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
    return fit, term, str(name)


def bootstrap_weights(n_clusters: int, reps: int, seed: int, weights: str = "rademacher") -> np.ndarray:
    """The (clusters x reps) weights the ``wildboottest`` package draws for ``seed`` (same generator,
    same order), so that both implementations see the same draws."""
    from wildboottest.weights import draw_weights

    drawn, _ = draw_weights(t=weights, full_enumeration=False, N_G_bootcluster=n_clusters, boot_iter=reps,
                            rng=np.random.default_rng(seed=seed))
    return np.asarray(drawn, dtype=float)


def _fast_t_statistics(d: np.ndarray, residual: np.ndarray, partial, cluster_codes: np.ndarray,
                       v: np.ndarray, small_sample: float) -> tuple[np.ndarray, np.ndarray]:
    """(b* - b0, t*) of every draw (columns of ``v``) from the residualised regressor ``d`` and
    the bootstrap residuals ``residual`` (see the module docstring)."""
    n, n_clusters = len(d), v.shape[0]
    one_hot = sparse.csr_matrix((np.ones(n), (np.arange(n), cluster_codes)), shape=(n, n_clusters))
    a = partial(one_hot.multiply(residual[:, None]).toarray())      # M [u 1_h], n x G
    c = one_hot.T @ (d[:, None] * a)                                  # G x G
    dd = float(d @ d)
    d2 = np.asarray(one_hot.T @ (d * d)).ravel()                      # sum of D~^2 by cluster
    cv = c @ v                                                        # G x B
    shift = cv.sum(axis=0) / dd                                       # b* - b0
    scores = cv - d2[:, None] * shift[None, :]
    se = np.sqrt(small_sample * np.einsum("gb,gb->b", scores, scores)) / dd
    return shift, shift / se


def wild_cluster_bootstrap(result: DidResult, term: Any = None, reps: int = 9999, seed: int = 0,
                           weights: str = "rademacher", alpha: float = 0.05) -> DidResult:
    """Wild cluster bootstrap p-value (WCR) and percentile-t interval (WCU) for one coefficient.

    ``result``: a :class:`citypilots.estimators.estimates.DidResult` whose ``fitted`` is a pyfixest
    ``Feols`` with unit and period fixed effects and clustered standard errors (e.g.
    :func:`citypilots.estimators.did.twfe`). ``term``: the coefficient (default the main term);
    ``reps`` draws of ``weights`` (Rademacher by default) with ``seed``. Computed by the fast
    algorithm of the module docstring. Returns a one-row :class:`DidResult`: the estimate, the
    fit's clustered standard error, the percentile-t interval and the WCR p-value (share of draws
    with ``|t*| > |t|``; it cannot fall below 1 / (reps + 1) in any meaningful sense: print it with
    :func:`citypilots.report.glue.p_text`); ``extra`` holds ``t_stat``, ``critical_value``,
    ``reps``, ``seed``, ``weights`` and the WCU bootstrap t-statistics ``t_boot``.
    """
    from .placebo import TwoWayPartialler

    fit, term, name = _check(result, term, reps, weights, alpha)
    fixed_effects = [part.strip() for part in str(fit._fixef).split("+")]
    if len(fixed_effects) != 2:
        raise DidArgumentError(f"the fit must have two fixed effects (unit and period), not {fit._fixef!r}")
    cluster = fit._clustervar[0] if isinstance(fit._clustervar, (list, tuple)) else fit._clustervar
    frame = fit._data.reset_index(drop=True)
    others = tuple(str(other) for other in fit._coefnames if str(other) != name)
    partial = TwoWayPartialler(frame, others, *fixed_effects)
    d = partial(frame[[name]].to_numpy(dtype=float))[:, 0]
    y_restricted = partial(frame[[fit._depvar]].to_numpy(dtype=float))[:, 0]   # residuals under b = 0
    estimate = float(fit.coef()[name])  # equals D~'y~ / D~'D~ (FWL), up to the last bits
    y_unrestricted = y_restricted - float(d @ y_restricted / (d @ d)) * d
    cluster_codes, cluster_labels = pd.factorize(frame[cluster], sort=True)   # wildboottest's np.unique order
    small_sample = float(np.asarray(fit._ssc).squeeze())
    one_hot = sparse.csr_matrix((np.ones(len(d)), (cluster_codes, np.arange(len(d)))),
                                shape=(len(cluster_labels), len(d)))
    scores = one_hot @ (d * y_unrestricted)
    std_error = float(np.sqrt(small_sample * scores @ scores) / (d @ d))
    t_stat = estimate / std_error
    v = bootstrap_weights(len(cluster_labels), reps, seed, weights)
    _, t_restricted = _fast_t_statistics(d, y_restricted, partial, cluster_codes, v, small_sample)
    _, t_boot = _fast_t_statistics(d, y_unrestricted, partial, cluster_codes, v, small_sample)
    critical = float(np.quantile(np.abs(t_boot), 1 - alpha))
    p_value = float(np.mean(np.abs(t_restricted) > abs(t_stat)))
    table = pd.DataFrame({"estimate": [estimate], "std_error": [std_error],
                          "ci_low": [estimate - critical * std_error], "ci_high": [estimate + critical * std_error],
                          "p_value": [p_value]}, index=pd.Index([term], name="term"))
    return DidResult(
        estimator=f"wild cluster bootstrap ({weights}, {reps} draws; WCR p-value, WCU percentile-t interval)",
        table=table, n_obs=result.n_obs, n_units=result.n_units,
        inference=f"wild cluster bootstrap by {cluster} ({len(cluster_labels)} clusters)", main_term=term,
        fitted=fit,
        extra={"t_stat": t_stat, "critical_value": critical, "reps": reps, "seed": seed, "weights": weights,
               "t_boot": t_boot, "t_boot_restricted": t_restricted, "alpha": alpha},
    )


def wild_cluster_bootstrap_wildboottest(result: DidResult, term: Any = None, reps: int = 9999, seed: int = 0,
                                        weights: str = "rademacher", alpha: float = 0.05) -> DidResult:
    """The same bootstrap through pyfixest's ``Feols.wildboottest`` (the ``wildboottest`` package,
    Roodman et al. 2019's "11" variant), called twice with the same seed (WCR for the p-value,
    WCU for the interval). A slow reference for :func:`wild_cluster_bootstrap`; same result shape.

    ``wildboottest`` treats the fixed effects as dummies, so its small-sample factor counts them
    all and its ``se`` is a little larger than pyfixest's CRV1 one; ``t`` and ``t*`` share that
    factor, so the p-value and the interval do not depend on it.
    """
    fit, term, name = _check(result, term, reps, weights, alpha)
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
        estimator=f"wild cluster bootstrap ({weights}, {reps} draws; wildboottest package)",
        table=table, n_obs=result.n_obs, n_units=result.n_units,
        inference=f"wild cluster bootstrap by {restricted['inference']}", main_term=term, fitted=fit,
        extra={"t_stat": t_stat, "critical_value": critical, "reps": reps, "seed": seed, "weights": weights,
               "t_boot": t_boot, "alpha": alpha},
    )
