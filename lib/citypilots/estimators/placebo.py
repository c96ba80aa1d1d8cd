"""Placebo tests by permutation: reassign the adoption years to random units and re-estimate.

Randomization inference for a staggered two-way fixed-effects (TWFE) design (Fisher 1935; for
difference in differences, e.g. MacKinnon and Webb 2020): each draw permutes the units' cohorts
(first treated period, missing for never-treated units), so every draw keeps the number of
treated units and the multiset of their adoption years and changes only *which* units they are.
The placebo treatment of unit i in period t is ``1{t >= permuted cohort of i}``; the model is the
baseline's, ``y_it = b D_it + x_it' g + a_i + l_t + e_it``, with standard errors clustered by unit.
The randomization p-value is the share of draws whose estimate is at least as far from zero as
the real one, counting the real assignment as one draw: ``(1 + #{|b_r| >= |b|}) / (1 + R)``.
The studentised version (:attr:`PlaceboResult.p_value_t`) ranks the clustered t-statistics
instead, ``(1 + #{|t_r| >= |t|}) / (1 + R)``: when the treated units differ from the others in
how noisy their outcome is (larger cities, more deaths, larger shocks), random placebo units give
coefficients that spread less than the real one would under no effect, and the coefficient's
p-value is too small; the t-statistic carries each draw's own standard error (MacKinnon and
Webb 2020, Young 2019).

Why this module computes the draws itself instead of refitting pyfixest 1,000 times. The fixed
effects and the controls do not change between draws, so by Frisch-Waugh-Lovell (FWL) they are
partialled out once: the outcome and the controls are demeaned by unit and period (pyfixest's
alternating-projections ``demean``), the draws' treatment columns are demeaned in blocks, and
everything is residualised on the demeaned controls. Each draw's coefficient is then
``b_r = D_r'y / D_r'D_r`` on the residualised columns, and its clustered (CRV1) variance
``c (D_r'D_r)^-2 sum_g (sum_{i in g} D_ir e_ir)^2`` with ``e_r = y - b_r D_r`` (the FWL residuals
are the full model's) and ``c`` pyfixest's small-sample factor, which depends on the numbers of
observations, regressors, fixed effects and clusters but not on which units are treated: it is
read off pyfixest's fit of the real assignment. All draws of a block are matrix products. The
tests check the draws against :func:`refit_placebo`, which refits pyfixest for the same draws,
to 1e-8; ``bench/robustness.py`` measures the speed ratio.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
import pyfixest as pf
from pyfixest.estimation import demean
from scipy import sparse, stats
from tqdm import tqdm

from .did import twfe
from .estimates import (DidArgumentError, DidResult, as_names, check_alpha, check_cohort, check_columns,
                        check_no_missing, check_numeric, check_unique_unit_time)

DEMEAN_TOLERANCE = 1e-12  # alternating projections converge in one sweep on a balanced panel
TREATMENT_COLUMN = "_cohort_treatment"  # the model's column: 1 from the unit's (real or placebo) cohort on


@dataclass
class PlaceboResult:
    """The real estimate and its placebo distribution.

    ``real``: the TWFE fit of the real assignment (:class:`citypilots.estimators.estimates.DidResult`).
    ``draws``: one row per draw with ``estimate``, ``std_error``, ``t_stat`` and ``p_value``
    (clustered, t(G-1)). ``assignments``: the permuted cohorts, one row per draw and one column per
    unit (in ``units`` order; NaN = never treated). ``p_value``: the two-sided randomization
    p-value of the coefficient; ``p_value_lower``: the one-sided one for an effect below zero,
    ``(1 + #{b_r <= b}) / (1 + R)``; :attr:`p_value_t`: the two-sided one of the t-statistic.
    """

    real: DidResult
    draws: pd.DataFrame
    assignments: np.ndarray
    units: np.ndarray
    p_value: float
    p_value_lower: float
    extra: dict = field(default_factory=dict)

    @property
    def n_draws(self) -> int:
        return len(self.draws)

    @property
    def p_value_t(self) -> float:
        """Two-sided randomization p-value of the clustered t-statistic (studentised):
        ``(1 + #{|t_r| >= |t|}) / (1 + R)`` over the draws with a defined t."""
        t_real = self.real.estimate() / self.real.std_error()
        t_draws = self.draws["t_stat"].dropna()
        return float((1 + (t_draws.abs() >= abs(t_real)).sum()) / (1 + len(t_draws)))

    def share_significant(self, level: float = 0.1) -> float:
        """Share of draws whose conventional p-value is below ``level``."""
        return float((self.draws["p_value"] < level).mean())


# ----------------------------------------------------------------------------------------------
# Arguments and draws
# ----------------------------------------------------------------------------------------------

def _setup(data, y, cohort, controls, unit, time, cluster, draws, seed, assignments, alpha):
    """What the fast and the refitting placebo share: checked arguments, the draws and the real fit."""
    controls = as_names(controls)
    cluster = cluster or unit
    _check(data, y, cohort, controls, unit, time, cluster, draws if assignments is None else len(assignments), alpha)
    frame = data.reset_index(drop=True)
    cohorts = unit_cohorts(frame, cohort, unit)
    units = cohorts.index.to_numpy()
    if assignments is None:
        assignments = placebo_assignments(cohorts, draws, seed)
    assignments = np.asarray(assignments, dtype=float)
    if assignments.ndim != 2 or assignments.shape[1] != len(units):
        raise DidArgumentError(f"assignments must have one column per unit ({len(units)}), "
                               f"not shape {assignments.shape}")
    time_values = frame[time].to_numpy(dtype=float)
    unit_position = pd.Index(units).get_indexer(frame[unit])
    real = _real_fit(frame, y, controls, unit, time, cluster, alpha, time_values, cohorts.to_numpy()[unit_position])
    return controls, cluster, frame, cohorts, units, assignments, time_values, unit_position, real


def _check(data: pd.DataFrame, y: str, cohort: str, controls: tuple[str, ...], unit: str, time: str,
           cluster: str, draws: int, alpha: float) -> None:
    check_alpha(alpha)
    if isinstance(draws, bool) or not isinstance(draws, (int, np.integer)) or draws < 1:
        raise DidArgumentError(f"draws={draws!r} must be a positive whole number of permutations")
    check_columns(data, [y, cohort, *controls, unit, time, cluster])
    check_numeric(data, [y, *controls])
    check_no_missing(data, [y, *controls, unit, time, cluster])
    check_unique_unit_time(data, unit, time)
    check_cohort(data, unit, time, cohort)
    if data[cohort].notna().sum() == 0:
        raise DidArgumentError(f"column {cohort!r} has no treated unit: there is nothing to permute")


def unit_cohorts(data: pd.DataFrame, cohort: str, unit: str = "city") -> pd.Series:
    """Each unit's cohort (first treated period; NaN = never treated), indexed by unit, sorted."""
    return data.groupby(unit, sort=True)[cohort].first().astype("Float64").astype(float)


def placebo_assignments(cohorts: pd.Series, draws: int, seed: int | np.random.Generator = 0) -> np.ndarray:
    """``draws`` random permutations of the units' cohorts: array (draws, units), NaN = never.

    Each row reassigns the same cohorts (the same number of treated units, the same adoption
    years) to a random ordering of the units; ``seed`` (an integer or a Generator) fixes them.
    """
    rng = np.random.default_rng(seed)
    values = np.asarray(cohorts, dtype=float)
    return rng.permuted(np.tile(values, (int(draws), 1)), axis=1)


def _treatment_columns(time_values: np.ndarray, unit_position: np.ndarray, assignments: np.ndarray) -> np.ndarray:
    """0/1 matrix (observations, draws): 1 when the period is at or after the unit's assigned cohort."""
    assigned = assignments[:, unit_position].T  # (observations, draws)
    with np.errstate(invalid="ignore"):
        return (time_values[:, None] >= assigned).astype(float)


# ----------------------------------------------------------------------------------------------
# The fast version: Frisch-Waugh-Lovell and matrix products
# ----------------------------------------------------------------------------------------------

class TwoWayPartialler:
    """Partials unit and period fixed effects and controls out of columns (Frisch-Waugh-Lovell).

    ``TwoWayPartialler(frame, controls, unit, time)(matrix)`` returns the residuals of each
    column of ``matrix`` (rows aligned with ``frame``) on unit dummies, period dummies and the
    controls: demeaning by alternating projections (pyfixest's ``demean``, tolerance 1e-12),
    then projecting off the demeaned controls.
    """

    def __init__(self, frame: pd.DataFrame, controls: tuple[str, ...], unit: str, time: str):
        self.codes = np.column_stack([pd.factorize(frame[unit])[0], pd.factorize(frame[time])[0]]).astype(np.uint64)
        self.ones = np.ones(len(frame))
        self.q = None
        if controls:
            x = self.demean(frame[list(controls)].to_numpy(dtype=float))
            q, r = np.linalg.qr(x)
            if np.abs(np.diag(r)).min() <= 1e-10 * np.abs(np.diag(r)).max():
                raise DidArgumentError(f"the controls {list(controls)} are collinear with each other or with "
                                       "the unit and period fixed effects")
            self.q = q

    def demean(self, matrix: np.ndarray) -> np.ndarray:
        demeaned, converged = demean(np.ascontiguousarray(matrix, dtype=float), self.codes, self.ones,
                                     tol=DEMEAN_TOLERANCE, maxiter=100_000)
        if not converged:
            raise RuntimeError("demeaning by the fixed effects did not converge")
        return demeaned

    def __call__(self, matrix: np.ndarray) -> np.ndarray:
        residual = self.demean(matrix)
        if self.q is not None:
            residual = residual - self.q @ (self.q.T @ residual)
        return residual


def _clustered_draws(y: np.ndarray, treatment: np.ndarray, cluster_sum: sparse.csr_matrix,
                     small_sample: float) -> tuple[np.ndarray, np.ndarray]:
    """Coefficients and CRV1 standard errors of y on each partialled treatment column."""
    sxx = np.einsum("ij,ij->j", treatment, treatment)
    degenerate = sxx <= 1e-12 * len(y)
    sxx = np.where(degenerate, np.nan, sxx)
    beta = (treatment.T @ y) / sxx
    residual = y[:, None] - treatment * beta[None, :]
    scores = cluster_sum @ (treatment * residual)  # (clusters, draws)
    variance = small_sample * np.einsum("gj,gj->j", scores, scores) / sxx**2
    return beta, np.sqrt(variance)


def permutation_placebo(data: pd.DataFrame, y: str, cohort: str, controls: str | Iterable[str] = (),
                        unit: str = "city", time: str = "year", draws: int = 1000,
                        seed: int | np.random.Generator = 0, cluster: str | None = None,
                        alpha: float = 0.05, assignments: np.ndarray | None = None,
                        block_size: int = 250, progress: bool = True) -> PlaceboResult:
    """Placebo distribution of the TWFE coefficient under random reassignment of the cohorts.

    Randomization inference for ``y_it = b 1{t >= g_i} + x_it' g + a_i + l_t + e_it`` (see the
    module docstring): the real fit (pyfixest, :func:`citypilots.estimators.did.twfe`) and ``draws``
    permutations of the cohorts (:func:`placebo_assignments` with ``seed``, or the given
    ``assignments``), each estimated by Frisch-Waugh-Lovell in blocks of ``block_size`` draws.
    Standard errors are clustered by ``cluster`` (default: the unit), CRV1 with pyfixest's
    small-sample factor; p-values use t(G-1). Returns a :class:`PlaceboResult`.
    """
    controls, cluster, frame, cohorts, units, assignments, time_values, unit_position, real = _setup(
        data, y, cohort, controls, unit, time, cluster, draws, seed, assignments, alpha)
    small_sample = float(np.asarray(real.fitted._ssc).squeeze())
    n_clusters = real.extra["n_clusters"]

    partial = TwoWayPartialler(frame, controls, unit, time)
    y_partialled = partial(frame[[y]].to_numpy(dtype=float))[:, 0]
    cluster_codes = pd.factorize(frame[cluster])[0]
    cluster_sum = sparse.csr_matrix((np.ones(len(frame)), (cluster_codes, np.arange(len(frame)))),
                                    shape=(n_clusters, len(frame)))
    estimates, std_errors = [], []
    blocks = range(0, len(assignments), block_size)
    for start in tqdm(blocks, desc="placebo draws (blocks)", disable=not progress, delay=2):
        treatment = partial(_treatment_columns(time_values, unit_position, assignments[start:start + block_size]))
        beta, se = _clustered_draws(y_partialled, treatment, cluster_sum, small_sample)
        estimates.append(beta)
        std_errors.append(se)
    return _placebo_result(real, np.concatenate(estimates), np.concatenate(std_errors), assignments, units,
                           n_clusters, "Frisch-Waugh-Lovell, all draws as matrix products")


def _real_fit(frame: pd.DataFrame, y: str, controls: tuple[str, ...], unit: str, time: str, cluster: str,
              alpha: float, time_values: np.ndarray, cohort_of_row: np.ndarray) -> DidResult:
    """The TWFE fit of the real assignment (pyfixest), its treatment term labelled ``"treatment"``."""
    model = frame[list(dict.fromkeys([y, *controls, unit, time, cluster]))].copy()
    with np.errstate(invalid="ignore"):
        model[TREATMENT_COLUMN] = (time_values >= cohort_of_row).astype(float)
    real = twfe(model, y, TREATMENT_COLUMN, controls=controls, unit=unit, time=time, cluster=cluster, alpha=alpha)
    return replace(real, table=real.table.rename(index={TREATMENT_COLUMN: "treatment"}), main_term="treatment")


def _placebo_result(real: DidResult, estimates: np.ndarray, std_errors: np.ndarray, assignments: np.ndarray,
                    units: np.ndarray, n_clusters: int, method: str) -> PlaceboResult:
    t_stat = estimates / std_errors
    draws = pd.DataFrame({"estimate": estimates, "std_error": std_errors, "t_stat": t_stat,
                          "p_value": 2 * stats.t.sf(np.abs(t_stat), n_clusters - 1)},
                         index=pd.RangeIndex(len(estimates), name="draw"))
    real_estimate = real.estimate()
    valid = draws["estimate"].notna()
    n_valid = int(valid.sum())
    as_far = int((draws.loc[valid, "estimate"].abs() >= abs(real_estimate)).sum())
    as_low = int((draws.loc[valid, "estimate"] <= real_estimate).sum())
    return PlaceboResult(
        real=real, draws=draws, assignments=assignments, units=units,
        p_value=(1 + as_far) / (1 + n_valid), p_value_lower=(1 + as_low) / (1 + n_valid),
        extra={"method": method, "n_clusters": n_clusters, "degenerate_draws": len(draws) - n_valid},
    )


# ----------------------------------------------------------------------------------------------
# The slow, obvious version: refit pyfixest for every draw
# ----------------------------------------------------------------------------------------------

def refit_placebo(data: pd.DataFrame, y: str, cohort: str, controls: str | Iterable[str] = (),
                  unit: str = "city", time: str = "year", assignments: np.ndarray | None = None,
                  draws: int = 1000, seed: int | np.random.Generator = 0, cluster: str | None = None,
                  alpha: float = 0.05, progress: bool = True) -> PlaceboResult:
    """The same placebo distribution as :func:`permutation_placebo`, refitting pyfixest per draw.

    For each draw, the placebo treatment is built and ``feols(y ~ D + controls | unit + time)``
    is fitted with CRV1 standard errors (every row kept, as :func:`citypilots.estimators.did.twfe`). It
    exists to check the fast version and to time it; use :func:`permutation_placebo`.
    """
    controls, cluster, frame, cohorts, units, assignments, time_values, unit_position, real = _setup(
        data, y, cohort, controls, unit, time, cluster, draws, seed, assignments, alpha)
    model = frame[list(dict.fromkeys([y, *controls, unit, time, cluster]))].copy()
    formula = f"{y} ~ {TREATMENT_COLUMN}{''.join(' + ' + c for c in controls)} | {unit} + {time}"
    estimates, std_errors = np.empty(len(assignments)), np.empty(len(assignments))
    for row in tqdm(range(len(assignments)), desc="placebo refits", disable=not progress, delay=2):
        model[TREATMENT_COLUMN] = _treatment_columns(time_values, unit_position, assignments[row:row + 1])[:, 0]
        fit = pf.feols(formula, data=model, vcov={"CRV1": cluster}, fixef_rm="none")
        estimates[row], std_errors[row] = fit.coef()[TREATMENT_COLUMN], fit.se()[TREATMENT_COLUMN]
    return _placebo_result(real, estimates, std_errors, assignments, units, real.extra["n_clusters"],
                           "pyfixest refit for every draw")
