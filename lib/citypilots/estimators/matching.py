"""Propensity-score matching before difference in differences (PSM-DID).

The recipe of many applied DID papers, in three steps, each its own function:

1. :func:`propensity_score`: a logit of the treated-group indicator on covariates
   (Rosenbaum and Rubin 1983), fitted by statsmodels; the score is the fitted probability.
2. :func:`caliper_match`: nearest-neighbour matching on the score *with replacement* (Stata's
   ``psmatch2`` default), within a caliper and optionally within strata such as the year
   (period-by-period matching); ties go to the earlier row.
3. :func:`matched_sample` keeps the treated rows that found a match and every control row used
   as a match (once, unweighted, as ``reghdfe ... if _weight != .`` after ``psmatch2``), and
   :func:`balance_table` reports standardised differences before and after (Austin 2009).

:func:`psm_did` runs the three steps and the TWFE regression on the matched rows.

Written here because no installed package matches within strata with a caliper and returns
the matched pairs (scikit-learn is not used by the book). The matching is vectorised: within each
stratum, the distances between a block of treated rows and every control row are one array, and
``argsort`` (stable, so ties keep row order) picks the nearest. The tests check it against a
brute-force loop over treated rows on a small panel.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import statsmodels.api as sm

from .did import twfe
from .estimates import (DidArgumentError, DidResult, _raise_problems, as_names, check_binary, check_columns,
                        check_no_missing, check_numeric)

SCALES = ("probability", "logit")


@dataclass
class PropensityScore:
    """A fitted propensity score: ``scores`` (fitted probabilities, the data's index), the
    statsmodels ``fit`` and the ``covariates``."""

    scores: pd.Series
    fit: object
    covariates: tuple[str, ...]

    def on_scale(self, scale: str = "probability") -> pd.Series:
        """The score as a probability, or as its logit ``log(p / (1 - p))``."""
        if scale not in SCALES:
            raise DidArgumentError(f"scale={scale!r} is not allowed; use one of {SCALES}")
        return self.scores if scale == "probability" else np.log(self.scores / (1 - self.scores))


@dataclass
class MatchedDid:
    """PSM-DID: the TWFE ``result`` on the matched rows, the ``balance`` table, the ``matches``
    (one row per treated-control pair), the ``sample`` the regression used and the ``propensity``."""

    result: DidResult
    balance: pd.DataFrame
    matches: pd.DataFrame
    sample: pd.DataFrame
    propensity: PropensityScore
    caliper: float
    scale: str


def propensity_score(data: pd.DataFrame, treated: str, covariates: str | Iterable[str]) -> PropensityScore:
    """Logit propensity score ``P(treated = 1 | x) = 1 / (1 + exp(-(a + x'b)))``, fitted by maximum
    likelihood (statsmodels ``Logit``); the rows are pooled as given. Returns a :class:`PropensityScore`."""
    covariates = as_names(covariates)
    check_columns(data, [treated, *covariates])
    check_numeric(data, [treated, *covariates])
    check_no_missing(data, [treated, *covariates])
    check_binary(data, treated)
    if data[treated].nunique() < 2:
        raise DidArgumentError(f"column {treated!r} must have both treated (1) and control (0) rows")
    design = sm.add_constant(data[list(covariates)].astype(float), has_constant="add")
    fit = sm.Logit(data[treated].astype(float), design).fit(disp=0, maxiter=200)
    return PropensityScore(scores=pd.Series(fit.predict(design), index=data.index, name="propensity"),
                           fit=fit, covariates=covariates)


def caliper_match(score: pd.Series, treated: pd.Series, caliper: float, neighbours: int = 1,
                  strata: pd.Series | None = None, block_size: int = 2048) -> pd.DataFrame:
    """Nearest-neighbour matching with replacement within a caliper (and within ``strata``).

    For every treated row (``treated == 1``), the ``neighbours`` control rows of the same stratum
    with the smallest ``|score_t - score_c|``, keeping those with a distance of at most
    ``caliper``; ties go to the control that comes first in the data. A control may serve many
    treated rows. Returns one row per pair: ``treated_row`` and ``control_row`` (index labels of
    ``score``), ``distance``, ``rank`` (1 = nearest) and ``stratum``.
    """
    problems = []
    if not (isinstance(caliper, (int, float)) and caliper > 0):
        problems.append(f"caliper={caliper!r} must be a positive number (a distance on the score's scale)")
    if isinstance(neighbours, bool) or not isinstance(neighbours, (int, np.integer)) or neighbours < 1:
        problems.append(f"neighbours={neighbours!r} must be a positive whole number")
    for name, series in (("treated", treated), ("strata", strata)):
        if series is not None and not series.index.equals(score.index):
            problems.append(f"{name} must have the same index as the score")
    if score.isna().any():
        problems.append(f"the score has {int(score.isna().sum())} missing values")
    _raise_problems(problems)
    is_treated = treated.to_numpy() == 1
    groups = np.zeros(len(score), dtype=int) if strata is None else pd.factorize(strata)[0]
    stratum_labels = np.zeros(1) if strata is None else pd.factorize(strata)[1]
    values = score.to_numpy(dtype=float)
    labels = score.index.to_numpy()
    pairs = []
    for group in np.unique(groups):
        in_group = groups == group
        treated_rows = np.flatnonzero(in_group & is_treated)
        control_rows = np.flatnonzero(in_group & ~is_treated)
        if len(treated_rows) == 0 or len(control_rows) == 0:
            continue
        k = min(neighbours, len(control_rows))
        for start in range(0, len(treated_rows), block_size):
            rows = treated_rows[start:start + block_size]
            distance = np.abs(values[rows, None] - values[None, control_rows])
            nearest = np.argsort(distance, axis=1, kind="stable")[:, :k]
            chosen = np.take_along_axis(distance, nearest, axis=1)
            keep = chosen <= caliper
            treated_index, rank = np.nonzero(keep)
            pairs.append(pd.DataFrame({
                "treated_row": labels[rows[treated_index]],
                "control_row": labels[control_rows[nearest[keep]]],
                "distance": chosen[keep],
                "rank": rank + 1,
                "stratum": stratum_labels[group],
            }))
    columns = ["treated_row", "control_row", "distance", "rank", "stratum"]
    if not pairs:
        return pd.DataFrame(columns=columns)
    return pd.concat(pairs, ignore_index=True)[columns]


def matched_sample(data: pd.DataFrame, matches: pd.DataFrame) -> pd.DataFrame:
    """The rows a PSM-DID regression uses: treated rows with a match and the control rows used as
    matches, each once, in the data's order; ``match_weight`` is psmatch2's weight (1 for a
    treated row; for a control, the sum over the treated rows it serves of 1 / their matches)."""
    per_treated = matches.groupby("treated_row")["control_row"].transform("size")
    control_weight = (1 / per_treated).groupby(matches["control_row"]).sum()
    weight = pd.Series(0.0, index=data.index)
    weight[control_weight.index] = control_weight.to_numpy()
    weight[matches["treated_row"].unique()] = 1.0
    kept = data.loc[weight > 0].copy()
    kept["match_weight"] = weight[weight > 0]
    return kept


def standardised_difference(treated_values: pd.Series, control_values: pd.Series,
                            reference_sd: float | None = None) -> float:
    """``(mean_t - mean_c) / sqrt((var_t + var_c) / 2)`` (Austin 2009); with ``reference_sd``,
    that denominator instead (so that before and after are on the same scale)."""
    scale = reference_sd if reference_sd is not None else np.sqrt((treated_values.var() + control_values.var()) / 2)
    return float((treated_values.mean() - control_values.mean()) / scale) if scale > 0 else float("nan")


def balance_table(data: pd.DataFrame, matched: pd.DataFrame, treated: str, covariates: Iterable[str]) -> pd.DataFrame:
    """Covariate balance before (all rows) and after matching (the rows of ``matched``, each once).

    One row per covariate: the treated and control means before and after, and the standardised
    differences (in % of the pooled SD *before* matching, so that the two are comparable; |d| < 10
    is the usual threshold) and the variance ratio after.
    """
    rows = {}
    before_t, before_c = data[data[treated] == 1], data[data[treated] == 0]
    after_t, after_c = matched[matched[treated] == 1], matched[matched[treated] == 0]
    for name in covariates:
        pooled_sd = np.sqrt((before_t[name].var() + before_c[name].var()) / 2)
        difference_before = standardised_difference(before_t[name], before_c[name], pooled_sd)
        difference_after = standardised_difference(after_t[name], after_c[name], pooled_sd)
        rows[name] = {
            ("Before matching", "treated mean"): before_t[name].mean(),
            ("Before matching", "control mean"): before_c[name].mean(),
            ("Before matching", "std. diff. (%)"): 100 * difference_before,
            ("After matching", "treated mean"): after_t[name].mean(),
            ("After matching", "control mean"): after_c[name].mean(),
            ("After matching", "std. diff. (%)"): 100 * difference_after,
            ("After matching", "variance ratio"): after_t[name].var() / after_c[name].var(),
        }
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.columns = pd.MultiIndex.from_tuples(table.columns)
    return table


def psm_did(data: pd.DataFrame, y: str, treatment: str, group: str, covariates: str | Iterable[str],
            caliper: float, scale: str = "probability", neighbours: int = 1, strata: str | None = None,
            unit: str = "city", time: str = "year", cluster: str | None = None, alpha: float = 0.05) -> MatchedDid:
    """PSM-DID: match treated-group rows to control rows on a logit propensity score, then TWFE.

    ``group`` is the 0/1 treated-group indicator the score predicts (e.g. "ever a dual-pilot
    city"), ``covariates`` the score's regressors, also the regression's controls; ``strata``
    (e.g. the year) makes the matching period by period. The regression is :func:`citypilots.estimators.did.twfe`
    of ``y`` on ``treatment`` and the covariates with unit and period effects, clustered by unit,
    on :func:`matched_sample` (unweighted). ``caliper`` is on the score's ``scale``. Returns a
    :class:`MatchedDid`.
    """
    covariates = as_names(covariates)
    check_columns(data, [y, treatment, group, unit, time, *covariates, *([strata] if strata else [])])
    frame = data.reset_index(drop=True)
    propensity = propensity_score(frame, group, covariates)
    matches = caliper_match(propensity.on_scale(scale), frame[group], caliper, neighbours,
                            None if strata is None else frame[strata])
    if matches.empty:
        raise DidArgumentError(f"no treated row has a control within the caliper {caliper} ({scale} scale)")
    sample = matched_sample(frame, matches)
    result = twfe(sample, y, treatment, controls=covariates, unit=unit, time=time, cluster=cluster, alpha=alpha)
    result.estimator = "PSM-DID (TWFE on the matched rows)"
    scored = frame.assign(propensity=propensity.scores)
    balance = balance_table(scored, scored.loc[sample.index], group, [*covariates, "propensity"])
    return MatchedDid(result=result, balance=balance, matches=matches, sample=sample, propensity=propensity,
                      caliper=float(caliper), scale=scale)
