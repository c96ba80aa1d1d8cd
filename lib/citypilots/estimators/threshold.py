"""Hansen's (1999) fixed-effect panel threshold regression.

    y_it = mu_i [+ lambda_t] + beta_1' x_it 1{q_it <= gamma_1} + beta_2' x_it 1{gamma_1 < q_it <= gamma_2}
           + ... + beta_{m+1}' x_it 1{q_it > gamma_m} + delta' w_it + e_it

(Hansen 1999, "Threshold effects in non-dynamic panels: estimation, testing, and inference",
Journal of Econometrics 93(2)). The unit effects are removed by the within transformation; each
threshold is the value of ``q`` that minimises the sum of squared residuals (SSR), searched over
the observed values of ``q`` inside the trimmed range; thresholds are added one at a time, each
new one given the earlier ones, and the earlier ones are then refined given the new one. Each
added threshold is tested with Hansen's F statistic ``F = (S_{m-1} - S_m) / sigma^2_m``, whose
p-value comes from his fixed-regressor residual bootstrap (residuals of the model with ``m``
thresholds, drawn by unit, added to the fit of the model with ``m - 1``). Each threshold gets
the likelihood-ratio interval ``{gamma: LR(gamma) <= c(alpha)}`` with
``LR(gamma) = (S(gamma) - S(gamma_hat)) / sigma^2`` and ``c(alpha) = -2 log(1 - sqrt(1 - alpha))``.

Why written here: no Python package estimates it (Stata's ``xthreg`` and R's ``pdR``/``thrreg``
are the references). The search is fast because the regressors that change with ``gamma`` are
``x 1{q <= gamma}``, whose cross products with anything fixed are cumulative sums over the
observations sorted by ``q`` (sorted once); the per-unit sums the within transformation needs are
updated the same way. So every candidate threshold costs a small linear solve, and a bootstrap
draw, which changes only ``y``, reuses every cross product of the regressors. The tests check
the SSR at the chosen threshold against a brute-force regression with unit dummies.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .estimates import (DidArgumentError, DidResult, _raise_problems, as_names, check_columns, check_no_missing,
                        check_numeric, check_unique_unit_time)


def critical_value(alpha: float) -> float:
    """Hansen's (2000) critical value of the likelihood-ratio statistic: ``-2 log(1 - sqrt(1 - alpha))``."""
    return -2.0 * math.log(1.0 - math.sqrt(1.0 - alpha))


@dataclass
class ThresholdResult:
    """A panel threshold regression.

    ``thresholds``: the estimated thresholds, ascending. ``ssr``: the SSR with 0, 1, ... thresholds.
    ``f_stats``, ``p_values``: Hansen's F statistic and bootstrap p-value of each added threshold
    (NaN p-values when ``bootstrap=0``). ``confidence_intervals``: one (low, high) per threshold,
    at level ``1 - alpha``. ``params``: the final model's coefficients (:class:`DidResult`, errors
    clustered by unit); regime ``r`` of regressor ``x`` is the term ``"x [regime r]"``.
    ``lr_curve``: LR(gamma) for each threshold over its search grid (for the plot).
    """

    thresholds: list
    ssr: list
    f_stats: list
    p_values: list
    confidence_intervals: list
    params: DidResult
    lr_curve: pd.DataFrame
    alpha: float = 0.05
    extra: dict = field(default_factory=dict)


class _Design:
    """The within-transformed data, sorted once by the threshold variable."""

    def __init__(self, y, x, q, w, unit_codes, n_units, n_periods):
        order = np.argsort(q, kind="stable")
        self.q_sorted = q[order]
        self.order = order
        self.n, self.n_units, self.T = len(q), n_units, n_periods
        self.unit_sorted = unit_codes[order]
        self.x_sorted = x[order]                         # raw regime regressors (n, k)
        self.x = x
        self.q = q
        self.unit = unit_codes
        self.fixed = np.column_stack([self._demean(x), self._demean(w)]) if w.size else self._demean(x)
        self.k = x.shape[1]
        self.y = y
        # per-unit running sums of x over the sorted observations, before each one enters
        running = np.zeros((n_units, self.k))
        before = np.empty_like(self.x_sorted)
        for position in range(self.n):  # one pass in q order
            unit = self.unit_sorted[position]
            before[position] = running[unit]
            running[unit] += self.x_sorted[position]
        outer_x = np.einsum("ni,nj->nij", self.x_sorted, self.x_sorted)
        increment = (np.einsum("ni,nj->nij", before, self.x_sorted) + np.einsum("ni,nj->nij", self.x_sorted, before)
                     + outer_x)
        # A(gamma)'A(gamma) = sum over entered obs of x x' - sum_i S_i S_i' / T
        self.cum_xx = np.concatenate([np.zeros((1, self.k, self.k)), np.cumsum(outer_x, axis=0)])
        self.cum_ss = np.concatenate([np.zeros((1, self.k, self.k)), np.cumsum(increment, axis=0)])

    def _demean(self, matrix):
        matrix = np.asarray(matrix, dtype=float).reshape(len(self.unit), -1)
        sums = np.zeros((self.n_units, matrix.shape[1]))
        np.add.at(sums, self.unit, matrix)
        return matrix - sums[self.unit] / self.T

    def entered(self, gammas):
        """How many sorted observations have q <= gamma, for each gamma."""
        return np.searchsorted(self.q_sorted, gammas, side="right")

    def varying_gram(self, counts):
        """A(gamma)'A(gamma) for each count of entered observations: (G, k, k)."""
        return self.cum_xx[counts] - self.cum_ss[counts] / self.T

    def varying_cross(self, fixed, counts):
        """A(gamma)'F for a fixed matrix F whose unit means are zero: (G, k, m)."""
        fixed_sorted = np.asarray(fixed, dtype=float).reshape(self.n, -1)[self.order]
        products = np.einsum("ni,nj->nij", self.x_sorted, fixed_sorted)
        cumulative = np.concatenate([np.zeros((1, self.k, fixed_sorted.shape[1])), np.cumsum(products, axis=0)])
        return cumulative[counts]

    def indicator_regressor(self, gamma):
        """The within-transformed x 1{q <= gamma}."""
        return self._demean(self.x * (self.q <= gamma)[:, None])


def _ssr_curve(design: _Design, fixed: np.ndarray, y_demeaned: np.ndarray, counts: np.ndarray,
               cache: dict | None = None) -> np.ndarray:
    """SSR of y on [fixed, A(gamma)] for every count of entered observations (one threshold varies)."""
    key = id(fixed)
    if cache is not None and key in cache:
        inverse, gram_fixed = cache[key]
    else:
        gram_fixed = fixed.T @ fixed
        cross = design.varying_cross(fixed, counts)                     # (G, k, m)
        varying = design.varying_gram(counts)                           # (G, k, k)
        m = fixed.shape[1]
        G = len(counts)
        gram = np.empty((G, m + design.k, m + design.k))
        gram[:, :m, :m] = gram_fixed
        gram[:, :m, m:] = np.transpose(cross, (0, 2, 1))
        gram[:, m:, :m] = cross
        gram[:, m:, m:] = varying
        inverse = np.linalg.pinv(gram)
        if cache is not None:
            cache[key] = (inverse, gram_fixed)
    moments = np.concatenate([np.broadcast_to(fixed.T @ y_demeaned, (len(counts), fixed.shape[1])),
                              design.varying_cross(y_demeaned, counts)[:, :, 0]], axis=1)
    explained = np.einsum("gi,gij,gj->g", moments, inverse, moments)
    return float(y_demeaned @ y_demeaned) - explained


def _grid(q: np.ndarray, trim: float, grid) -> np.ndarray:
    low, high = np.quantile(q, [trim, 1 - trim], method="lower")
    inside = np.unique(q[(q >= low) & (q <= high)])
    if grid is None:
        return inside
    levels = np.quantile(q, np.linspace(trim, 1 - trim, int(grid)), method="lower")
    return np.unique(levels)


def _search(design: _Design, base_fixed: np.ndarray, known: list, y_demeaned: np.ndarray, grid: np.ndarray,
            trim_count: int, cache: dict | None = None) -> tuple[float, float, np.ndarray, np.ndarray]:
    """The threshold that minimises the SSR given the ``known`` ones, its SSR, and the SSR curve."""
    fixed = np.column_stack([base_fixed, *[design.indicator_regressor(g) for g in known]]) if known else base_fixed
    counts = design.entered(grid)
    allowed = np.ones(len(grid), dtype=bool)
    edges = np.sort(np.concatenate([[0, design.n], design.entered(np.array(known))])) if known else np.array([0, design.n])
    for edge in edges:
        allowed &= np.abs(counts - edge) >= trim_count
    if not allowed.any():
        raise DidArgumentError("no candidate threshold leaves enough observations in every regime (lower trim or grid)")
    curve = np.full(len(grid), np.inf)
    curve[allowed] = _ssr_curve(design, fixed, y_demeaned, counts[allowed], cache)
    best = int(np.argmin(curve))
    return float(grid[best]), float(curve[best]), curve, allowed


def _fit_thresholds(design: _Design, base_fixed: np.ndarray, y_demeaned: np.ndarray, n_thresholds: int,
                    grid: np.ndarray, trim_count: int, refine: bool = True, cache=None):
    """Thresholds added one at a time (each refined given the later ones); SSR after each step.
    ``cache`` keeps the inverted cross products of the first search, which depend on the
    regressors only (a bootstrap draw changes only y)."""
    thresholds: list[float] = []
    ssr = [float(y_demeaned @ y_demeaned - _explained(base_fixed, y_demeaned))]
    curves = []
    for step in range(n_thresholds):
        gamma, best_ssr, curve, allowed = _search(design, base_fixed, thresholds, y_demeaned, grid, trim_count,
                                                  cache if step == 0 else None)
        curves.append((curve, allowed))
        thresholds.append(gamma)
        if refine and step > 0:
            for position in range(step):
                others = [g for i, g in enumerate(thresholds) if i != position]
                gamma_r, best_ssr, curve_r, allowed_r = _search(design, base_fixed, others, y_demeaned, grid, trim_count)
                thresholds[position] = gamma_r
                curves[position] = (curve_r, allowed_r)
        ssr.append(best_ssr)
    return thresholds, ssr, curves


def _explained(fixed: np.ndarray, y: np.ndarray) -> float:
    coefficients, *_ = np.linalg.lstsq(fixed, y, rcond=None)
    fitted = fixed @ coefficients
    return float(fitted @ fitted)


def panel_threshold(data: pd.DataFrame, y: str, regime_x, threshold: str, controls=(), unit: str = "city",
                    time: str = "year", n_thresholds: int = 1, trim: float = 0.01, grid=None, bootstrap: int = 300,
                    seed: int = 0, alpha: float = 0.05, time_effects: bool = False) -> ThresholdResult:
    """Hansen's (1999) fixed-effect panel threshold regression (see the module docstring).

    ``regime_x``: the regressor(s) whose slope changes at the thresholds. ``threshold``: the
    threshold variable ``q``. ``controls``: regressors with one slope. ``n_thresholds``: 1 to 3.
    ``trim``: the smallest share of observations in any regime (also the trimmed range of the
    grid). ``grid``: None searches every distinct value of ``q`` in the trimmed range; an integer
    searches that many quantiles. ``bootstrap``: draws for each F test's p-value (0 skips it).
    ``time_effects``: add period dummies to the controls. Balanced panels only.
    """
    regime_x, controls = list(as_names(regime_x)), list(as_names(controls))
    check_columns(data, [y, unit, time, threshold, *regime_x, *controls])
    check_numeric(data, [y, threshold, *regime_x, *controls])
    check_no_missing(data, [y, unit, time, threshold, *regime_x, *controls])
    check_unique_unit_time(data, unit, time)
    problems = []
    if n_thresholds not in (1, 2, 3):
        problems.append(f"n_thresholds={n_thresholds!r} must be 1, 2 or 3")
    if not 0 < trim < 0.5 / (n_thresholds + 1) + 1e-12:
        problems.append(f"trim={trim!r} must be above 0 and leave room for {n_thresholds + 1} regimes")
    if grid is not None and (not isinstance(grid, int) or grid < 2):
        problems.append(f"grid={grid!r} must be None or an integer of at least 2")
    if not isinstance(bootstrap, int) or bootstrap < 0:
        problems.append(f"bootstrap={bootstrap!r} must be a non-negative integer")
    units, periods = data[unit].nunique(), data[time].nunique()
    if len(data) != units * periods:
        problems.append(f"the panel is not balanced: {len(data)} rows for {units} units x {periods} periods "
                        "(Hansen's estimator needs every unit in every period)")
    _raise_problems(problems)

    frame = data.sort_values([unit, time]).reset_index(drop=True)
    unit_codes = pd.factorize(frame[unit], sort=True)[0]
    w = frame[controls].to_numpy(dtype=float) if controls else np.empty((len(frame), 0))
    if time_effects:
        period_dummies = pd.get_dummies(frame[time], drop_first=True, dtype=float).to_numpy()
        w = np.column_stack([w, period_dummies]) if w.size else period_dummies
    q = frame[threshold].to_numpy(dtype=float)
    design = _Design(frame[y].to_numpy(dtype=float), frame[regime_x].to_numpy(dtype=float), q, w, unit_codes,
                     units, periods)
    y_demeaned = design._demean(design.y)[:, 0]
    base = design.fixed
    candidates = _grid(q, trim, grid)
    trim_count = max(1, int(math.ceil(trim * len(frame))))
    cache: dict = {}
    thresholds, ssr, curves = _fit_thresholds(design, base, y_demeaned, n_thresholds, candidates, trim_count,
                                              cache=cache)
    dof = len(frame) - units
    f_stats, p_values = [], []
    rng = np.random.default_rng(seed)
    for step in range(1, n_thresholds + 1):
        sigma2 = ssr[step] / dof  # Hansen's sigma^2 = S / (n (T - 1))
        f_stats.append((ssr[step - 1] - ssr[step]) / sigma2)
        if bootstrap == 0:
            p_values.append(float("nan"))
            continue
        null_thresholds = thresholds[:step - 1] if step > 1 else []
        p_values.append(_bootstrap_p(design, base, y_demeaned, null_thresholds, thresholds[:step], f_stats[-1], step,
                                     candidates, trim_count, dof, bootstrap, rng))
    intervals, lr_rows = [], []
    c = critical_value(alpha)
    final_sigma2 = ssr[-1] / dof
    for position, (curve, allowed) in enumerate(curves):
        lr = (curve - curve[allowed].min()) / final_sigma2
        inside = candidates[allowed & (lr <= c)]
        intervals.append((float(inside.min()), float(inside.max())))
        lr_rows.append(pd.DataFrame({"threshold": position + 1, "gamma": candidates[allowed], "lr": lr[allowed]}))
    params = _final_fit(frame, y, regime_x, controls, threshold, sorted(thresholds), unit, time, time_effects, alpha)
    return ThresholdResult(thresholds=sorted(thresholds), ssr=ssr, f_stats=f_stats, p_values=p_values,
                           confidence_intervals=[iv for _, iv in sorted(zip(thresholds, intervals))], params=params,
                           lr_curve=pd.concat(lr_rows, ignore_index=True), alpha=alpha,
                           extra={"critical_value": c, "grid_size": len(candidates), "bootstrap": bootstrap})


def _bootstrap_p(design, base, y_demeaned, null_thresholds, alt_thresholds, f_observed, step, grid, trim_count,
                 dof, draws, rng) -> float:
    """Hansen's fixed-regressor bootstrap of the F test of ``step`` against ``step - 1`` thresholds."""
    def regressors(gammas):
        return np.column_stack([base, *[design.indicator_regressor(g) for g in gammas]]) if gammas else base

    null_design = regressors(null_thresholds)
    null_coef, *_ = np.linalg.lstsq(null_design, y_demeaned, rcond=None)
    fitted_null = null_design @ null_coef
    alt_design = regressors(alt_thresholds)
    alt_coef, *_ = np.linalg.lstsq(alt_design, y_demeaned, rcond=None)
    residual = (y_demeaned - alt_design @ alt_coef).reshape(design.n_units, design.T)
    exceed = 0
    cache: dict = {}
    for _ in range(draws):
        chosen = rng.integers(0, design.n_units, design.n_units)
        y_star = fitted_null + design._demean(residual[chosen].reshape(-1))[:, 0]
        thresholds_star, ssr_star, _ = _fit_thresholds(design, base, y_star, step, grid, trim_count, refine=False,
                                                       cache=cache)
        sigma2_star = ssr_star[step] / dof
        exceed += (ssr_star[step - 1] - ssr_star[step]) / sigma2_star >= f_observed
    return float(exceed / draws)


def _final_fit(frame, y, regime_x, controls, threshold, thresholds, unit, time, time_effects, alpha) -> DidResult:
    """The model at the estimated thresholds, errors clustered by unit (pyfixest)."""
    import pyfixest as pf
    from scipy import stats

    model = frame[[y, unit, time, *controls]].copy()
    edges = [-np.inf, *thresholds, np.inf]
    q = frame[threshold].to_numpy(dtype=float)
    terms = []
    for r in range(len(edges) - 1):
        in_regime = (q > edges[r]) & (q <= edges[r + 1])
        for name in regime_x:
            column = f"_regime_{r + 1}_{name}"
            model[column] = frame[name].to_numpy(dtype=float) * in_regime
            terms.append((column, f"{name} [regime {r + 1}]"))
    fixed = f"{unit} + {time}" if time_effects else unit
    formula = f"{y} ~ {' + '.join([c for c, _ in terms] + controls)} | {fixed}"
    fit = pf.feols(formula, data=model, vcov={"CRV1": unit}, fixef_rm="none")
    names = dict(terms)
    tidy = fit.tidy()
    df = frame[unit].nunique() - 1
    critical = stats.t.ppf(1 - alpha / 2, df)
    table = pd.DataFrame({"estimate": tidy["Estimate"], "std_error": tidy["Std. Error"]})
    table["ci_low"] = table["estimate"] - critical * table["std_error"]
    table["ci_high"] = table["estimate"] + critical * table["std_error"]
    table["p_value"] = 2 * stats.t.sf(np.abs(table["estimate"] / table["std_error"]), df)
    table.index = [names.get(term, term) for term in table.index]
    table.index.name = "term"
    return DidResult(estimator=f"panel threshold regression ({len(thresholds)} threshold(s))", table=table,
                     n_obs=len(frame), n_units=frame[unit].nunique(),
                     inference=f"clustered by {unit} (CRV1), t({df})", main_term=table.index[0], fitted=fit)
