"""Five DID estimators in NumPy for Monte Carlo runs: balanced panels, no covariates.

Why these exist. The estimator Monte Carlo chapter fits TWFE, Callaway-Sant'Anna, Sun-Abraham,
the imputation estimator and a stacked DID on 500 simulated panels in each of its worlds.
Through the packages (pyfixest's ``feols``; ``diff_diff``'s ``CallawaySantAnna``,
``SunAbraham``, ``ImputationDiD`` and ``StackedDiD``, wrapped in
:mod:`citypilots.estimators.did`, :mod:`citypilots.estimators.staggered` and
:mod:`citypilots.estimators.stacked`) the five fits of one panel take a quarter of a second or
more, mostly in building data frames, dummies and general-purpose solvers that a balanced panel
without covariates does not need: minutes of estimation for the chapter, where simulating a
panel takes 15 ms. Here each estimator is written for that one case (one row per unit and
period, an absorbing treatment from the unit's cohort period, never-treated units as controls,
no covariates), in a few array operations, two orders of magnitude faster
(``python bench/run.py fast_estimators_speedup``).

Every estimator here is linear in the outcome: its estimate is ``sum(W * Y)`` for a weight
matrix ``W`` (units x periods) that depends only on who is treated when (:func:`weights`). The
weights are what the estimator compares: TWFE's are the residualised treatment dummy, which can
put negative weights on treated unit-periods (de Chaisemartin and D'Haultfoeuille 2020; tested
equal to ``diff_diff.twowayfeweights``); Callaway-Sant'Anna and Sun-Abraham put the whole
pre-period weight on the year before adoption; the imputation estimator spreads it over all
untreated years. Applied to a panel of true effects instead of outcomes, ``sum(W * effects)`` is
the estimand the estimator targets: what its estimate averages to when the untreated outcomes
follow parallel trends.

Standard errors reproduce the packages' choices exactly: TWFE, CRV1 clustered by unit with
pyfixest's small-sample factor and t(G-1); Callaway-Sant'Anna, R ``did``'s analytic influence
functions including the estimated group shares (as
:meth:`citypilots.estimators.staggered.GroupTimeATT.aggregate`), normal
intervals; Sun-Abraham, ``diff_diff``'s CR1 cluster-robust variance of the saturated regression
with fixed cohort shares and t on the residual degrees of freedom; imputation, Borusyak, Jaravel
and Spiess's conservative clustered variance (Theorem 3, cohort x event-time auxiliary
partition), normal intervals; stacked, CR1 by original unit on the weighted stack, t on the
residual degrees of freedom. ``tests/test_fast_estimators.py`` checks estimate, standard error,
interval and p-value against the wrapped packages on simulated panels, to 1e-8.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from .estimates import (RESULT_COLUMNS, DidArgumentError, DidResult, check_alpha, check_cohort, check_columns,
                        cohort_values,
                        check_no_missing, check_numeric, check_unique_unit_time)
from .staggered import _weights_influence  # R did's influence of the estimated group shares

__all__ = ["BalancedDesign", "ESTIMATORS", "twfe", "callaway_santanna", "sun_abraham", "imputation",
           "stacked", "stacked_cohorts", "weights", "fit_all"]

OVERALL = "ATT"


@dataclass
class BalancedDesign:
    """Who is treated when in a balanced panel: ``units`` (N), ``periods`` (T, consecutive
    integers) and each unit's ``cohort`` (first treated period; NaN = never treated). ``rows``:
    for each row of the long data it was built from, its (unit, period) position, so that any
    column aligned with those rows becomes an N x T matrix (:meth:`matrix`)."""

    units: np.ndarray
    periods: np.ndarray
    cohort: np.ndarray
    rows: tuple[np.ndarray, np.ndarray] | None = field(default=None, repr=False)

    @classmethod
    def from_long(cls, data: pd.DataFrame, unit: str, time: str, cohort: str) -> "BalancedDesign":
        """The design of a long unit-period frame (checked: one row per unit and period, every unit
        in every period, consecutive periods, cohorts after the first period)."""
        check_columns(data, [unit, time, cohort])
        check_no_missing(data, [unit, time])
        check_numeric(data, [time, cohort])
        unit_codes, units = pd.factorize(data[unit], sort=True)
        period_values = data[time].to_numpy()
        periods = np.unique(period_values)
        if not np.array_equal(periods, np.arange(periods[0], periods[0] + len(periods))):
            raise DidArgumentError(f"the periods in column {time!r} must be consecutive integers")
        period_codes = (period_values - periods[0]).astype(np.int64)
        cells = np.bincount(unit_codes * len(periods) + period_codes, minlength=len(units) * len(periods))
        if cells.max() > 1:
            check_unique_unit_time(data, unit, time)  # names the repeated pairs
        if len(data) != len(units) * len(periods):
            raise DidArgumentError(f"the panel is not balanced: {len(data)} rows for {len(units)} units x "
                                   f"{len(periods)} periods; these estimators need every unit in every period")
        cohort_of_row = cohort_values(data, time, cohort)
        unit_cohort = np.full(len(units), np.nan)
        unit_cohort[unit_codes] = cohort_of_row
        same = (cohort_of_row == unit_cohort[unit_codes]) | (np.isnan(cohort_of_row) & np.isnan(unit_cohort[unit_codes]))
        whole = np.isnan(unit_cohort) | (unit_cohort == np.round(unit_cohort))
        if not same.all() or not whole.all() or np.any(unit_cohort > periods[-1]):
            check_cohort(data, unit, time, cohort)  # names the offending units
        if np.any(unit_cohort <= periods[0]):
            raise DidArgumentError(f"units with cohort {periods[0]} or earlier in column {cohort!r} are treated in "
                                   f"every period: drop them first (they have no untreated period)")
        return cls(units=np.asarray(units), periods=periods.astype(np.int64), cohort=unit_cohort,
                   rows=(unit_codes, period_codes))

    def matrix(self, values) -> np.ndarray:
        """``values`` (one per row of the long data, in its order) as a units x periods matrix."""
        values = np.asarray(values, dtype=float)
        if self.rows is None or len(values) != len(self.rows[0]):
            raise ValueError("values must have one entry per row of the data the design was built from")
        out = np.empty((len(self.units), len(self.periods)))
        out[self.rows] = values
        return out

    @property
    def treated(self) -> np.ndarray:
        """N x T: True from each unit's cohort period on."""
        with np.errstate(invalid="ignore"):
            return self.periods[None, :] >= self.cohort[:, None]

    @property
    def never(self) -> np.ndarray:
        return np.isnan(self.cohort)

    @property
    def cohorts(self) -> np.ndarray:
        return np.unique(self.cohort[~self.never])

    def require_never_treated(self) -> None:
        """Callaway-Sant'Anna, Sun-Abraham and the stacked DID here compare with never-treated units."""
        if not self.never.any():
            raise DidArgumentError("no never-treated unit (missing cohort) to serve as control")

    def _cached(self, part, build):
        """A design-level quantity (weights, projections), computed once per process for each design:
        simulated panels of one specification share their design, so a Monte Carlo run builds
        them once."""
        key = (part, int(self.periods[0]), len(self.periods), self.cohort.tobytes())
        if key not in _DESIGN_PARTS:
            if len(_DESIGN_PARTS) >= 64:
                _DESIGN_PARTS.clear()
            _DESIGN_PARTS[key] = build()
        return _DESIGN_PARTS[key]


_DESIGN_PARTS: dict = {}


@functools.lru_cache(maxsize=64)
def _critical(alpha: float, df: float | None) -> float:
    return float(stats.norm.ppf(1 - alpha / 2) if df is None else stats.t.ppf(1 - alpha / 2, df))


def _result(estimator: str, term: str, estimate: float, se: float, alpha: float, df: float | None,
            design: BalancedDesign, inference: str, extra: dict | None = None) -> DidResult:
    critical = _critical(alpha, df)
    tail = (2 * stats.norm.sf(abs(estimate / se)) if df is None else 2 * stats.t.sf(abs(estimate / se), df))
    table = pd.DataFrame([[estimate, se, estimate - critical * se, estimate + critical * se, tail]],
                         columns=list(RESULT_COLUMNS), index=pd.Index([term], dtype=object, name="term"))
    n_units, n_periods = len(design.units), len(design.periods)
    return DidResult(estimator=estimator, table=table, n_obs=n_units * n_periods, n_units=n_units,
                     inference=inference, main_term=term, extra=dict(extra or {}))


def _check_outcome(design: BalancedDesign, Y: np.ndarray, alpha: float) -> np.ndarray:
    check_alpha(alpha)
    Y = np.asarray(Y, dtype=float)
    if Y.shape != (len(design.units), len(design.periods)):
        raise DidArgumentError(f"the outcome must be a units x periods matrix {len(design.units), len(design.periods)}, "
                               f"got {Y.shape}")
    if not np.isfinite(Y).all():
        raise DidArgumentError("the outcome has missing or infinite values")
    return Y


def _two_way_demean(X: np.ndarray) -> np.ndarray:
    return X - X.mean(axis=1, keepdims=True) - X.mean(axis=0, keepdims=True) + X.mean()


# ----------------------------------------------------------------------------------------------
# TWFE
# ----------------------------------------------------------------------------------------------

def _twfe_parts(design: BalancedDesign):
    def build():
        residualised = _two_way_demean(design.treated.astype(float))
        return residualised, float((residualised**2).sum())
    return design._cached("twfe", build)


def twfe(design: BalancedDesign, Y: np.ndarray, alpha: float = 0.05) -> DidResult:
    """TWFE: OLS of ``Y_it = beta D_it + a_i + l_t + e_it``; ``beta = sum(d~ Y) / sum(d~^2)``
    with ``d~`` the two-way demeaned treatment dummy (Frisch-Waugh-Lovell). CRV1 by unit with
    pyfixest's factor (n-1)/(n-k) G/(G-1), k = 1 + T (the slope, the time effects and the
    unit effects nested in the clusters), and t(G-1): equal to :func:`citypilots.estimators.did.twfe`."""
    Y = _check_outcome(design, Y, alpha)
    residualised, total = _twfe_parts(design)
    beta = float((residualised * Y).sum() / total)
    residuals = _two_way_demean(Y) - beta * residualised
    scores = (residualised * residuals).sum(axis=1)
    n_units, n_periods = Y.shape
    n_obs = n_units * n_periods
    factor = (n_obs - 1) / (n_obs - (1 + n_periods)) * n_units / (n_units - 1)
    se = float(np.sqrt(factor * (scores**2).sum()) / total)
    return _result("TWFE", "treated", beta, se, alpha, n_units - 1, design,
                   f"clustered by unit (CRV1, {n_units} clusters), t({n_units - 1})")


# ----------------------------------------------------------------------------------------------
# Callaway and Sant'Anna; Sun and Abraham
# ----------------------------------------------------------------------------------------------

@dataclass
class _Cells:
    """The post-treatment group-time cells (g, t), t >= g, with base period g - 1."""

    group: np.ndarray        # cohort of each cell (period value)
    base: np.ndarray         # column index of g - 1
    column: np.ndarray       # column index of t
    members: np.ndarray      # N x cells: 1 / n_g for the cell's cohort, -1 / n_C for never-treated units
    share: np.ndarray        # n_g / N of each cell (R did's pg)
    weight: np.ndarray       # the simple aggregation's weights: share / sum(share)
    unit_cohort: np.ndarray  # each unit's cohort, NaN = never


def _cells(design: BalancedDesign) -> _Cells:
    design.require_never_treated()

    def build():
        first = design.periods[0]
        never = design.never
        n_units, n_never = len(design.units), int(never.sum())
        groups, bases, columns, members, shares = [], [], [], [], []
        for g in design.cohorts:
            in_g = design.cohort == g
            n_g = int(in_g.sum())
            member = np.where(in_g, 1.0 / n_g, 0.0) - np.where(never, 1.0 / n_never, 0.0)
            for t in range(int(g), int(design.periods[-1]) + 1):
                groups.append(g)
                bases.append(int(g) - 1 - first)
                columns.append(t - first)
                members.append(member)
                shares.append(n_g / n_units)
        share = np.array(shares)
        return _Cells(group=np.array(groups), base=np.array(bases), column=np.array(columns),
                      members=np.column_stack(members), share=share, weight=share / share.sum(),
                      unit_cohort=design.cohort)
    return design._cached("cells", build)


def _cell_estimates(cells: _Cells, Y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """ATT(g, t) = mean_g(Y_t - Y_{g-1}) - mean_never(Y_t - Y_{g-1}), and each unit's influence
    on it (N x cells; se of a combination w is ||influence @ w||)."""
    change = Y[:, cells.column] - Y[:, cells.base]                 # N x cells
    treated_side, control_side = cells.members > 0, cells.members < 0
    treated_mean = np.where(treated_side, cells.members * change, 0.0).sum(axis=0)
    control_mean = -np.where(control_side, cells.members * change, 0.0).sum(axis=0)
    # Each unit's deviation from its own side's mean change, scaled: (dY_i - mean_g dY) / n_g for
    # the cohort, -(dY_i - mean_C dY) / n_C for the never-treated units, 0 for the others.
    deviation = change - np.where(treated_side, treated_mean, control_mean)
    influence = np.where(treated_side | control_side, cells.members * deviation, 0.0)
    return treated_mean - control_mean, influence


def _cell_weights(design: BalancedDesign, cells: _Cells, cell_weight: np.ndarray) -> np.ndarray:
    """The N x T weights of ``sum_cells cell_weight x ATT(g, t)``."""
    W = np.zeros((len(design.units), len(design.periods)))
    for k in range(len(cell_weight)):
        W[:, cells.column[k]] += cell_weight[k] * cells.members[:, k]
        W[:, cells.base[k]] -= cell_weight[k] * cells.members[:, k]
    return W


def callaway_santanna(design: BalancedDesign, Y: np.ndarray, alpha: float = 0.05) -> DidResult:
    """Callaway and Sant'Anna (2021): ATT(g, t) against never-treated units from the base period
    g - 1, aggregated as R ``did::aggte(type = "simple")`` (post-treatment cells weighted by group
    size: the mean over treated unit-periods). Analytic influence-function standard error,
    including the estimated group shares; normal interval. Equal to
    ``did.att_gt(..., control_group="never").aggregate("simple")`` without covariates."""
    Y = _check_outcome(design, Y, alpha)
    cells = _cells(design)
    att, influence = _cell_estimates(cells, Y)
    estimate = float(att @ cells.weight)
    psi = influence @ cells.weight + _weights_influence(cells.group, cells.share, cells.unit_cohort, att)
    se = float(np.sqrt((psi**2).sum()))
    return _result("Callaway-Sant'Anna (never treated, simple)", OVERALL, estimate, se, alpha, None, design,
                   "analytic influence functions, clustered by unit; normal")


def _sun_abraham_factor(design: BalancedDesign) -> tuple[float, int]:
    """diff_diff's CR1 factor and residual degrees of freedom for the saturated regression: n
    unit-periods, k = the cohort x event-time interactions + the unit and time effects (N + T - 1)
    + 1 for the absorbed constant, less the unit effects nested in the clusters (N)."""
    n_units, n_periods = len(design.units), len(design.periods)
    n_obs = n_units * n_periods
    n_interactions = len(design.cohorts) * (n_periods - 1)
    residual_df = n_obs - n_interactions - (n_units + n_periods - 1)
    k = n_interactions + n_periods
    factor = n_units / (n_units - 1) * (n_obs - 1) / (n_obs - k)
    return factor, residual_df


def sun_abraham(design: BalancedDesign, Y: np.ndarray, alpha: float = 0.05) -> DidResult:
    """Sun and Abraham (2021): the TWFE regression saturated in cohort x event time (reference
    -1, never-treated controls); its cohort effects are ATT(g, t) from base g - 1, so with no
    covariates the post-treatment average weighted by treated unit-periods equals
    Callaway-Sant'Anna's simple aggregate. Its standard error is the CR1 variance of the saturated
    regression with the cohort shares held fixed, t on the residual degrees of freedom: equal to
    :func:`citypilots.estimators.staggered.sun_abraham`'s ``"ATT"`` row."""
    Y = _check_outcome(design, Y, alpha)
    cells = _cells(design)
    att, influence = _cell_estimates(cells, Y)
    estimate = float(att @ cells.weight)
    factor, residual_df = _sun_abraham_factor(design)
    se = float(np.sqrt(factor * ((influence @ cells.weight) ** 2).sum()))
    return _result("Sun-Abraham (never treated)", OVERALL, estimate, se, alpha, residual_df, design,
                   f"clustered by unit (CR1), t({residual_df})")


# ----------------------------------------------------------------------------------------------
# Borusyak, Jaravel and Spiess
# ----------------------------------------------------------------------------------------------

@dataclass
class _Imputation:
    untreated: np.ndarray   # N x T mask
    per_unit: np.ndarray    # untreated periods of each unit
    schur: np.ndarray       # (T-1) x (T-1): the time-effect block after eliminating the unit effects
    weights: np.ndarray     # N x T: 1 / N1 on treated, the imputation weights v_it on untreated
    groups: np.ndarray      # N x T: cohort x event-time group code of treated cells (-1 elsewhere)


def _solve_two_way(parts: _Imputation, unit_rhs: np.ndarray, time_rhs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Solve the normal equations of unit + time effects on the untreated cells (time effect of the
    first period set to 0): returns (unit effects, time effects)."""
    M = parts.untreated.astype(float)
    reduced = time_rhs - M.T @ (unit_rhs / parts.per_unit)
    time_effects = np.zeros(M.shape[1])
    time_effects[1:] = np.linalg.solve(parts.schur, reduced[1:])
    unit_effects = (unit_rhs - M @ time_effects) / parts.per_unit
    return unit_effects, time_effects


def _imputation_parts(design: BalancedDesign) -> _Imputation:
    def build():
        treated = design.treated
        untreated = ~treated
        if not untreated.any(axis=0).all():
            periods = design.periods[~untreated.any(axis=0)]
            raise DidArgumentError(f"no untreated unit in period(s) {', '.join(map(str, periods))}: their time "
                                   "effects, and the treated outcomes there, cannot be imputed")
        M = untreated.astype(float)
        per_unit = M.sum(axis=1)
        per_period = M.sum(axis=0)
        schur = (np.diag(per_period) - M.T @ (M / per_unit[:, None]))[1:, 1:]
        parts = _Imputation(untreated=untreated, per_unit=per_unit, schur=schur, weights=np.zeros(M.shape),
                            groups=np.full(M.shape, -1))
        target = treated / treated.sum()
        # v = -A0 (A0'A0)^- A1' w: the untreated cells' weight in the imputed counterfactuals.
        unit_b, time_b = _solve_two_way(parts, target.sum(axis=1), target.sum(axis=0))
        parts.weights = np.where(treated, target, -(unit_b[:, None] + time_b[None, :]))
        event_time = design.periods[None, :] - design.cohort[:, None]
        keys = np.where(treated, design.cohort[:, None] * 1000 + event_time, np.nan)
        codes = np.unique(keys[treated], return_inverse=True)[1]
        parts.groups[treated] = codes
        return parts
    return design._cached("imputation", build)


def imputation(design: BalancedDesign, Y: np.ndarray, alpha: float = 0.05) -> DidResult:
    """Borusyak, Jaravel and Spiess (2024): unit and time effects fitted on the untreated
    unit-periods (never-treated units, treated units before their cohort), each treated
    unit-period's untreated outcome imputed from them, the differences averaged over all treated
    unit-periods. Conservative clustered variance of their Theorem 3 (auxiliary residuals: the
    imputed effect less its cohort x event-time mean), normal interval: equal to
    :func:`citypilots.estimators.staggered.imputation`'s ``"ATT"`` row."""
    Y = _check_outcome(design, Y, alpha)
    parts = _imputation_parts(design)
    M = parts.untreated
    unit_effects, time_effects = _solve_two_way(parts, np.where(M, Y, 0).sum(axis=1), np.where(M, Y, 0).sum(axis=0))
    residual = Y - unit_effects[:, None] - time_effects[None, :]   # untreated: residual; treated: imputed effect
    estimate = float((parts.weights * Y).sum())
    treated = ~M
    codes = parts.groups[treated]
    group_mean = np.bincount(codes, weights=residual[treated]) / np.bincount(codes)
    auxiliary = residual.copy()
    auxiliary[treated] = residual[treated] - group_mean[codes]
    psi = (parts.weights * auxiliary).sum(axis=1)
    se = float(np.sqrt((psi**2).sum()))
    return _result("Borusyak-Jaravel-Spiess imputation", OVERALL, estimate, se, alpha, None, design,
                   "conservative variance (BJS Theorem 3), clustered by unit; normal")


# ----------------------------------------------------------------------------------------------
# Stacked (Wing, Freedman and Hollingsworth)
# ----------------------------------------------------------------------------------------------

@dataclass
class _Stack:
    unit: np.ndarray        # original unit of each stacked row
    column: np.ndarray      # period column of each stacked row
    contrast: np.ndarray    # row weights of the overall estimate: estimate = contrast @ y_stacked
    design: np.ndarray      # n x p regressors X
    solve: np.ndarray       # p x n: (X'QX)^-1 X'Q, the weighted least-squares coefficients of y
    factor: float
    residual_df: int
    cohorts: list
    trimmed: list


def _stack_parts(design: BalancedDesign, kappa_pre: int, kappa_post: int) -> _Stack:
    design.require_never_treated()

    def build():
        first, last = int(design.periods[0]), int(design.periods[-1])
        never = np.flatnonzero(design.never)
        kept = [int(a) for a in design.cohorts if a - kappa_pre >= first and a + kappa_post <= last]
        trimmed = [int(a) for a in design.cohorts if int(a) not in kept]
        if not kept:
            raise DidArgumentError(f"every cohort is trimmed: no event window [-{kappa_pre}, {kappa_post}] fits "
                                   f"into {first}-{last}")
        n_treated_total = sum(int((design.cohort == a).sum()) for a in kept)
        n_control_total = len(never) * len(kept)
        units, columns, treated, event, q = [], [], [], [], []
        for a in kept:
            members = np.flatnonzero(design.cohort == a)
            q_control = (len(members) / n_treated_total) / (len(never) / n_control_total)
            for e in range(-kappa_pre, kappa_post + 1):
                for group, is_treated, weight in ((members, 1, 1.0), (never, 0, q_control)):
                    units.append(group)
                    columns.append(np.full(len(group), a + e - first))
                    treated.append(np.full(len(group), is_treated))
                    event.append(np.full(len(group), e))
                    q.append(np.full(len(group), weight))
        unit, column, treated, event, q = (np.concatenate(x) for x in (units, columns, treated, event, q))
        event_times = [e for e in range(-kappa_pre, kappa_post + 1) if e != -1]
        X = np.column_stack([np.ones(len(unit)), treated]
                            + [(event == e).astype(float) for e in event_times]
                            + [((event == e) & (treated == 1)).astype(float) for e in event_times])
        bread = np.linalg.inv(X.T @ (X * q[:, None]))
        A = bread @ (X * q[:, None]).T                     # coefficients = A @ y
        c = np.zeros(X.shape[1])
        for j, e in enumerate(event_times):
            if e >= 0:
                c[2 + len(event_times) + j] = 1.0 / (kappa_post + 1)
        n_obs, n_params = X.shape
        n_clusters = len(np.unique(unit))
        return _Stack(unit=unit, column=column, contrast=c @ A, design=X, solve=A,
                      factor=n_clusters / (n_clusters - 1) * (n_obs - 1) / (n_obs - n_params),
                      residual_df=n_obs - n_params, cohorts=kept, trimmed=trimmed)
    return design._cached(("stack", kappa_pre, kappa_post), build)


def stacked_cohorts(design: BalancedDesign, kappa_pre: int = 3, kappa_post: int = 5) -> tuple[list, list]:
    """The cohorts the stacked DID keeps (their window fits into the data) and those it trims."""
    stack = _stack_parts(design, kappa_pre, kappa_post)
    return list(stack.cohorts), list(stack.trimmed)


def stacked(design: BalancedDesign, Y: np.ndarray, alpha: float = 0.05, kappa_pre: int = 3,
            kappa_post: int = 5) -> DidResult:
    """Stacked DID of Wing, Freedman and Hollingsworth (2024) with never-treated controls: one
    sub-experiment per cohort whose window [-kappa_pre, kappa_post] fits into the data, stacked,
    Q-weighted (trimmed aggregate ATT), the regression of Y on the treated dummy, event-time
    dummies and their interactions; overall = the mean effect over event times 0..kappa_post. CR1
    by original unit on the weighted stack, t on the residual degrees of freedom: equal to
    :func:`citypilots.estimators.stacked.stacked_did` with ``control_group="never"``."""
    Y = _check_outcome(design, Y, alpha)
    stack = _stack_parts(design, kappa_pre, kappa_post)
    y = Y[stack.unit, stack.column]
    estimate = float(stack.contrast @ y)
    residual = y - stack.design @ (stack.solve @ y)
    psi = np.bincount(stack.unit, weights=stack.contrast * residual)
    se = float(np.sqrt(stack.factor * (psi**2).sum()))
    return _result(f"stacked DID (never treated, window [-{kappa_pre}, {kappa_post}])", OVERALL, estimate, se,
                   alpha, stack.residual_df, design, f"clustered by unit (CR1), t({stack.residual_df})",
                   extra={"cohorts": stack.cohorts, "trimmed": stack.trimmed})


# ----------------------------------------------------------------------------------------------
# Weights and the set
# ----------------------------------------------------------------------------------------------

ESTIMATORS = {"TWFE": twfe, "Callaway-Sant'Anna": callaway_santanna, "Sun-Abraham": sun_abraham,
              "imputation": imputation, "stacked": stacked}
"""The five estimators of the Monte Carlo chapter, by the label the chapter uses."""


def weights(design: BalancedDesign, estimator: str, kappa_pre: int = 3, kappa_post: int = 5) -> np.ndarray:
    """The N x T matrix W with ``estimate = sum(W * Y)`` for ``estimator`` (a key of
    :data:`ESTIMATORS`). Applied to a panel of true effects, ``sum(W * effects)`` is the estimand
    the estimator targets when untreated outcomes follow parallel trends."""
    if estimator == "TWFE":
        residualised, total = _twfe_parts(design)
        return residualised / total
    if estimator in ("Callaway-Sant'Anna", "Sun-Abraham"):
        cells = _cells(design)
        return _cell_weights(design, cells, cells.weight)
    if estimator == "imputation":
        return _imputation_parts(design).weights.copy()
    if estimator == "stacked":
        stack = _stack_parts(design, kappa_pre, kappa_post)
        W = np.zeros((len(design.units), len(design.periods)))
        np.add.at(W, (stack.unit, stack.column), stack.contrast)
        return W
    raise KeyError(f"unknown estimator {estimator!r}; known: {', '.join(ESTIMATORS)}")


def fit_all(design: BalancedDesign, Y: np.ndarray, alpha: float = 0.05) -> dict[str, DidResult]:
    """Every estimator of :data:`ESTIMATORS` on one outcome matrix."""
    return {name: estimator(design, Y, alpha=alpha) for name, estimator in ESTIMATORS.items()}
