"""How large a violation of parallel trends would overturn an event-study conclusion.

Rambachan and Roth (2023) replace "the leads are insignificant, so parallel trends hold" by a
bound on how far the post-period violation ``delta_post`` may depart from what the pre-period
coefficients show, and report confidence sets for a target ``theta = l' tau_post`` (an average of
the post-period effects, or one of them) that are valid under that bound:

- **smoothness** (Delta^SD(M)): the violation's slope may change by at most M per period,
  ``|delta_{t+1} - 2 delta_t + delta_{t-1}| <= M``; M = 0 is a linear extrapolation of the
  pre-trend. Confidence sets: fixed-length confidence intervals (FLCI).
- **relative magnitudes** (Delta^RM(Mbar)): each post-period change in the violation is at most
  Mbar times the largest pre-period change.

The "breakdown value" is the smallest M (or Mbar) at which the robust interval includes zero.

This module wraps ``diff_diff.HonestDiD`` (diff-diff 3.13): :func:`pretrend_sensitivity` hands it
the coefficients and the clustered covariance of a :func:`citypilots.estimators.did.event_study` result.
A caution the tests document: for relative magnitudes diff-diff reports the identified set
widened by ``z x SE`` of the target, not the conditional-least-favourable (ARP) interval of the
HonestDiD R and Stata packages, so its relative-magnitude intervals do not reproduce the
packages' published example, while its smoothness intervals do (to the three printed decimals).
Use the relative-magnitude *bounds* (``lb``, ``ub``) and the smoothness *intervals*.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from tqdm import tqdm

from .estimates import DidArgumentError, DidResult, check_alpha

METHODS = ("smoothness", "relative_magnitude")


@dataclass
class PretrendSensitivity:
    """Robust confidence sets for a target over a grid of M.

    ``table``: indexed by ``M``, columns ``lb`` and ``ub`` (the identified set, NaN where the
    package does not report it) and ``ci_low``, ``ci_high`` (the robust confidence interval).
    ``original``: the target's estimate and conventional interval (normal critical value, as
    the HonestDiD packages print it). ``breakdown``: the smallest M at which the robust interval
    includes zero (``None`` if it never does on the searched range).
    """

    method: str
    target: str
    table: pd.DataFrame
    original: dict
    breakdown: float | None
    alpha: float
    extra: dict = field(default_factory=dict)


def honest_did_input(result: DidResult):
    """An event-study result as the ``MultiPeriodDiDResults`` that ``diff_diff.HonestDiD`` reads.

    Pre-periods are the event times before the reference, post-periods the ones after; the
    reference must be the last period before treatment. The covariance is the fit's clustered one.
    """
    from diff_diff.results import MultiPeriodDiDResults, PeriodEffect

    if "terms" not in result.extra or "reference" not in result.extra:
        raise DidArgumentError(f"the sensitivity analysis needs an event_study result, not {result.estimator!r}")
    reference = result.extra["reference"]
    estimated = sorted(result.extra["terms"])
    pre = [e for e in estimated if e < reference]
    post = [e for e in estimated if e > reference]
    if not pre or not post:
        raise DidArgumentError("the event study needs estimated periods before and after its reference period")
    if any(e < 0 for e in post):
        raise DidArgumentError(f"the reference period ({reference}) must be the last one before treatment: "
                               f"event times {[e for e in post if e < 0]} lie between it and the treatment")
    names = [result.extra["terms"][e] for e in estimated]
    covariance = pd.DataFrame(result.fitted._vcov, index=result.fitted._coefnames,
                              columns=result.fitted._coefnames).loc[names, names].to_numpy()
    effects = {e: PeriodEffect(period=e, effect=float(result.table.loc[e, "estimate"]),
                               se=float(result.table.loc[e, "std_error"]), t_stat=np.nan, p_value=np.nan,
                               conf_int=(np.nan, np.nan)) for e in estimated}
    return MultiPeriodDiDResults(
        period_effects=effects, avg_att=np.nan, avg_se=np.nan, avg_t_stat=np.nan, avg_p_value=np.nan,
        avg_conf_int=(np.nan, np.nan), n_obs=result.n_obs, n_treated=0, n_control=0,
        pre_periods=[*pre, reference], post_periods=post, vcov=covariance,
        interaction_indices={e: i for i, e in enumerate(estimated)}, reference_period=reference,
    ), pre, post


def target_weights(post: list, target: Any) -> tuple[np.ndarray, str]:
    """The weights ``l`` over the post-periods: ``"average"`` (equal), an event time (that period
    alone) or a dict event time -> weight. Returns the vector and a label."""
    if isinstance(target, str) and target == "average":
        return np.full(len(post), 1 / len(post)), f"average effect over event times {post[0]} to {post[-1]}"
    if isinstance(target, dict):
        unknown = [e for e in target if e not in post]
        if unknown:
            raise DidArgumentError(f"target event times {unknown} are not post-periods of the event study ({post})")
        return np.array([float(target.get(e, 0.0)) for e in post]), "weighted effect " + ", ".join(
            f"{w:g} x e={e}" for e, w in target.items())
    if target in post:
        return np.array([1.0 if e == target else 0.0 for e in post]), f"effect at event time {target}"
    raise DidArgumentError(f"target={target!r} must be 'average', a post-period event time ({post}) or a dict")


def pretrend_sensitivity(result: DidResult, method: str = "smoothness", M_grid=None, target: Any = "average",
                         alpha: float = 0.05, breakdown_tolerance: float | None = None,
                         progress: bool = True) -> PretrendSensitivity:
    """Rambachan-Roth robust confidence intervals for an event-study target over a grid of M.

    ``result``: a :func:`citypilots.estimators.did.event_study` result (its clustered covariance is used).
    ``method``: ``"smoothness"`` (Delta^SD, M in the outcome's units per period squared) or
    ``"relative_magnitude"`` (Delta^RM, Mbar a multiple of the largest pre-period change; see the
    module docstring for the caution on its intervals). ``target``: see :func:`target_weights`.
    ``M_grid``: the values of M (default: 0 to 3 for Mbar; for M, 0 to the target's SE in 10
    steps). The breakdown value is searched by bisection to ``breakdown_tolerance`` (default 1% of
    the grid's top) when the interval excludes zero at M = 0 and includes it at the top.
    A progress bar shows when the grid takes over 2 s (``progress=False`` hides it).
    Returns a :class:`PretrendSensitivity`.
    """
    from diff_diff import HonestDiD

    check_alpha(alpha)
    if method not in METHODS:
        raise DidArgumentError(f"method={method!r} is not allowed; use one of {METHODS}")
    honest_input, pre, post = honest_did_input(result)
    weights, label = target_weights(post, target)
    betas = np.array([honest_input.period_effects[e].effect for e in post])
    indices = [honest_input.interaction_indices[e] for e in post]
    estimate = float(weights @ betas)
    std_error = float(np.sqrt(weights @ honest_input.vcov[np.ix_(indices, indices)] @ weights))
    z = stats.norm.ppf(1 - alpha / 2)
    if M_grid is None:
        M_grid = np.linspace(0, 3, 13) if method == "relative_magnitude" else np.linspace(0, std_error, 11)
    M_grid = np.asarray(M_grid, dtype=float)
    if (M_grid < 0).any():
        raise DidArgumentError("M must not be negative")

    def fit(M: float):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return HonestDiD(method=method, M=float(M), alpha=alpha, l_vec=weights).fit(honest_input)

    rows = {}
    for M in tqdm(M_grid, desc=f"Rambachan-Roth {method} grid", disable=not progress, delay=2):
        bounds = fit(M)
        rows[float(M)] = {"lb": bounds.lb, "ub": bounds.ub, "ci_low": bounds.ci_lb, "ci_high": bounds.ci_ub}
    table = pd.DataFrame.from_dict(rows, orient="index").rename_axis("M")

    def covers_zero(M: float) -> bool:
        bounds = fit(M)
        return bool(bounds.ci_lb <= 0 <= bounds.ci_ub) or not np.isfinite([bounds.ci_lb, bounds.ci_ub]).all()

    breakdown = None
    top = float(M_grid.max())
    if top > 0 and not covers_zero(0.0) and covers_zero(top):
        low, high = 0.0, top
        tolerance = breakdown_tolerance or top / 100
        while high - low > tolerance:
            middle = (low + high) / 2
            low, high = (low, middle) if covers_zero(middle) else (middle, high)
        breakdown = high
    return PretrendSensitivity(
        method=method, target=label, table=table,
        original={"estimate": estimate, "std_error": std_error, "ci_low": estimate - z * std_error,
                  "ci_high": estimate + z * std_error},
        breakdown=breakdown, alpha=alpha,
        extra={"pre_periods": pre, "post_periods": post, "weights": weights,
               "ci_method": "FLCI" if method == "smoothness" else "identified set +/- z x SE (diff-diff)"},
    )
