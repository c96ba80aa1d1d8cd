"""The interaction of two staggered treatments, from clean comparisons only.

Two programs A and B are adopted at unit-specific dates (``first_a``, ``first_b``; missing, NaN
or 0 for never; absorbing). The estimand is the *synergy* on the units that hold both,

    E[ Y(A and B) - Y(A only) - Y(B only) + Y(neither) | dual units, t >= the dual date ],

the "one plus one exceeds two" of a two-pilot study: the part of the dual effect that is neither
A's nor B's own effect. A regression on ``A``, ``B`` and ``A x B`` dummies estimates it with the
forbidden comparisons of two-way fixed effects; :func:`synergy` builds it from 2x2 comparisons in
the spirit of Callaway and Sant'Anna (2021) instead, cell by cell.

For dual units that adopted A first, B in year ``g``, and a later year ``t``:

* ``tau_B|A(g, t)``: the change from ``g - 1`` to ``t`` of these units minus that of units that
  held A at ``g - 1`` and had no B by ``t`` (not-yet-treated by B; ``control_group="never"``:
  never treated by B). Under parallel trends among A-holders it is E[Y(A,B) - Y(A only)].
* ``tau_B(g, t)``: the same 2x2 for units adopting B in ``g`` that held no A by ``t``, against
  units with neither by ``t`` (or never either): B's own effect, E[Y(B only) - Y(neither)], on
  the single-B units of that cohort.
* ``scale="level"``: synergy = ``tau_B|A - tau_B``. Assumes B's own effect is the same, in
  outcome units, for the dual units as for the single-B units of the same cohort and year.
* ``scale="relative"``: B's own effect is carried over as a share of the untreated outcome,
  ``rho_B = tau_B / (mean Y of the single-B units - tau_B)``, and applied to the dual units'
  own untreated level, estimated as ``(mean Y - tau_B|A) / (1 + rho_A)`` with A's relative
  effect ``rho_A`` from the single-A units of the dual units' A cohort. Assumes the single
  programs' *relative* effects are the same for dual and single units (effects proportional to
  the untreated outcome, as when a program prevents a share of events). Synergy =
  ``tau_B|A - rho_B x untreated level``.

B-first units are the mirror image; units that adopt both in the same year use the dual 2x2
against units with neither, minus both single effects. Cells are averaged over the dual
unit-years (weights: the number of dual units in each cell), overall and by years since the
dual date. Standard errors: a Bayesian bootstrap over units (each unit weighted by an
exponential draw, Rubin 1981), which redraws every cell at once, so the difference of the
components carries their covariance (the control groups overlap). Unlike resampling units, it
never leaves a small cell empty, which would change the cells' mix from draw to draw and
inflate the standard error. It targets the population synergy: where the synergy differs
across dual units, it is conservative for the average over the sample's own dual units.

Assumptions beyond parallel trends: no anticipation; the single effects transported from single
units equal those of the dual units (in levels, or in shares with ``scale="relative"``). Where a
needed single cohort has no unit or no base year (a cohort adopting in the first year), its
relative effect falls back to the pooled relative effect of that program at that year (the
``fallback`` column of the cell table says where).

Why written here: no package estimates the interaction of two staggered treatments. diff-diff's
``CallawaySantAnna`` computes each single-treatment 2x2 (the ``tau_B`` component equals its
ATT(g, t) with not-yet-treated controls on the units that never adopt A; a test checks this),
but its comparison groups cannot be conditioned on the other program's status, which
``tau_B|A`` needs; its staggered triple difference assumes an eligibility group fixed in time.
The components are group means, so the estimator is a few vectorised weighted sums, also in
every bootstrap draw; the tests compare it with a brute-force 2x2 computation.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from .estimates import (RESULT_COLUMNS, DidArgumentError, DidResult, _raise_problems, check_alpha, check_columns,
                        check_no_missing, check_numeric, check_unique_unit_time)

SCALES = ("level", "relative")
CONTROL_GROUPS = ("notyet", "never")


def _cohorts(values: pd.Series, times: np.ndarray, name: str) -> tuple[np.ndarray, list[str]]:
    """Adoption dates as floats with ``inf`` for never (missing, NaN or 0 outside the window)."""
    numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    problems = []
    text = values.astype("string")
    unreadable = values.notna() & np.isnan(numbers)
    if unreadable.any():
        problems.append(f"column {name!r} has values that are not years: {sorted(set(text[unreadable]))[:5]}")
    never = np.isnan(numbers) | (numbers == 0)
    if 0 >= times.min() and 0 <= times.max() and (numbers == 0).any():
        problems.append(f"column {name!r}: 0 lies inside the data's time window, so it cannot mean 'never'")
    return np.where(never, np.inf, numbers), problems


@dataclass
class SynergyResult(DidResult):
    """:class:`DidResult` with the cell table (``cells``) and the bootstrap draws of the overall
    synergy (``draws``). ``table`` rows: ``"synergy"`` (overall) and one per event time."""

    cells: pd.DataFrame = field(default_factory=pd.DataFrame)
    draws: np.ndarray = field(default_factory=lambda: np.empty(0))


def synergy(data: pd.DataFrame, y: str, unit: str, time: str, first_a: str, first_b: str,
            controls=(), control_group: str = "notyet", scale: str = "relative", n_boot: int = 499,
            seed: int = 0, alpha: float = 0.05) -> SynergyResult:
    """The synergy of two staggered treatments (see the module docstring), with bootstrap inference.

    ``data``: a balanced panel, one row per ``unit`` and ``time``. ``first_a``, ``first_b``: each
    unit's adoption period of A and B (missing, NaN or 0 for never; 0 inside the window is an
    error). ``controls``: time-varying covariates, partialled out first by a two-way fixed-effects
    regression on the unit-periods with neither treatment (the imputation estimator's first
    step, Borusyak, Jaravel and Spiess 2024); empty for none. ``control_group``: "notyet" or
    "never". ``scale``: "relative" or "level". ``n_boot``: bootstrap draws (clusters: units).

    Returns a :class:`SynergyResult`: rows ``"synergy"`` and one per event time ``e`` (years since
    the dual date) with estimate, bootstrap standard error, normal interval and p-value; ``cells``
    says which comparison identifies each cell and how many units it rests on.
    """
    columns = [y, unit, time, first_a, first_b, *controls]
    check_columns(data, columns)
    check_numeric(data, [y, time, *controls])
    check_no_missing(data, [y, unit, time, *controls])
    check_unique_unit_time(data, unit, time)
    check_alpha(alpha)
    problems = []
    if scale not in SCALES:
        problems.append(f"scale={scale!r} must be one of {SCALES}")
    if control_group not in CONTROL_GROUPS:
        problems.append(f"control_group={control_group!r} must be one of {CONTROL_GROUPS}")
    if not isinstance(n_boot, int) or n_boot < 2:
        problems.append(f"n_boot={n_boot!r} must be an integer of at least 2")
    times = np.sort(data[time].unique())
    units = pd.unique(data[unit])
    if len(data) != len(times) * len(units):
        problems.append(f"the panel is not balanced: {len(data)} rows for {len(units)} units x {len(times)} periods "
                        "(synergy needs every unit in every period)")
    for column in (first_a, first_b):
        varying = data.groupby(unit)[column].nunique(dropna=False)
        if (varying > 1).any():
            problems.append(f"column {column!r} varies within units {list(varying.index[varying > 1][:5])}")
    _raise_problems(problems)
    frame = data.sort_values([unit, time])
    outcome = frame[y].to_numpy(dtype=float)
    if controls:
        outcome = _partial_out(frame, y, unit, time, first_a, first_b, list(controls))
    Y = outcome.reshape(len(units), len(times))
    first = frame.groupby(unit, sort=True)[[first_a, first_b]].first()
    g_a, problems_a = _cohorts(first[first_a], times, first_a)
    g_b, problems_b = _cohorts(first[first_b], times, first_b)
    _raise_problems(problems_a + problems_b)

    rng = np.random.default_rng(seed)
    n = len(units)
    weights = np.vstack([np.ones(n), rng.exponential(size=(n_boot, n))])
    cells = _cells(Y, times, g_a, g_b, weights, control_group, scale)
    if cells.empty:
        raise DidArgumentError("no dual unit has a period with both treatments and a base period before its dual "
                               "date: the synergy is not identified in these data")
    estimates = np.vstack(cells["values"].to_numpy())  # cells x (1 + n_boot)
    identified = ~np.isnan(estimates[:, 0])
    if not identified.any():
        raise DidArgumentError("no cell of the synergy has the comparison units it needs in these data")
    cells, estimates = cells[identified].reset_index(drop=True), estimates[identified]
    count = cells["n_dual"].to_numpy(dtype=float)[:, None] * ~np.isnan(estimates)  # a draw may lack a group
    rows, labels = [], []
    groups = [("synergy", np.ones(len(cells), dtype=bool))]
    groups += [(int(e), (cells["event_time"] == e).to_numpy()) for e in sorted(cells["event_time"].unique())]
    for label, chosen in groups:
        with np.errstate(invalid="ignore", divide="ignore"):
            values = np.nansum(estimates[chosen] * count[chosen], axis=0) / count[chosen].sum(axis=0)
        rows.append(values)
        labels.append(label)
    values = np.vstack(rows)
    point, draws = values[:, 0], values[:, 1:]
    se = np.nanstd(draws, axis=1, ddof=1)
    z = stats.norm.ppf(1 - alpha / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = 2 * stats.norm.sf(np.abs(point / se))
    table = pd.DataFrame({"estimate": point, "std_error": se, "ci_low": point - z * se, "ci_high": point + z * se,
                          "p_value": p}, index=pd.Index(labels, name="term"))[list(RESULT_COLUMNS)]
    cell_table = cells.drop(columns="values").assign(estimate=estimates[:, 0])
    return SynergyResult(
        estimator=f"synergy of two staggered treatments ({scale}, {control_group} controls)", table=table,
        n_obs=len(frame), n_units=n, inference=f"Bayesian bootstrap over {unit}, {n_boot} draws",
        main_term="synergy", extra={"scale": scale, "control_group": control_group,
                                    "n_dual_unit_periods": int(cells["n_dual"].sum()),
                                    "cells_not_identified": int((~identified).sum())},
        cells=cell_table, draws=draws[0])


def _partial_out(frame: pd.DataFrame, y: str, unit: str, time: str, first_a: str, first_b: str,
                 controls: list[str]) -> np.ndarray:
    """``y`` minus the covariates' contribution, fitted with unit and time effects on the rows with
    neither treatment (so the covariates' coefficients are not contaminated by the effects).

    Only the covariates' within movements (their deviations from their unit and period means)
    are subtracted: the outcome keeps its level, which the relative scale divides by."""
    import pyfixest as pf

    years = frame[time].to_numpy(dtype=float)
    starts = [pd.to_numeric(frame[c], errors="coerce").replace(0, np.nan).to_numpy(dtype=float)
              for c in (first_a, first_b)]
    untreated = np.ones(len(frame), dtype=bool)
    for start in starts:
        untreated &= np.isnan(start) | (years < start)
    formula = f"{y} ~ {' + '.join(controls)} | {unit} + {time}"
    fit = pf.feols(formula, data=frame[untreated], fixef_rm="none")
    beta = fit.coef()[controls].to_numpy()
    covariates = frame[controls].astype(float)
    within = (covariates - covariates.groupby(frame[unit]).transform("mean")
              - covariates.groupby(frame[time]).transform("mean") + covariates.mean())
    return frame[y].to_numpy(dtype=float) - within.to_numpy() @ beta


def _mean_change(Y: np.ndarray, members: np.ndarray, t: int, base: int, weights: np.ndarray) -> tuple:
    """Weighted mean over ``members`` of Y[t] - Y[base], and of Y[t], in every weight row."""
    w = weights * members[None, :]
    total = w.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        change = (w @ (Y[:, t] - Y[:, base])) / total
        level = (w @ Y[:, t]) / total
    return change, level


def _single(Y, times, g_own, g_other, cohort, t, weights, never, relative_base):
    """The 2x2 of a single program: units adopting it in ``cohort`` that hold no other program by
    ``t``, against units with neither by ``t`` (or never either). Returns (tau, rho, n_treated)."""
    k_t, k_base = t, cohort - 1
    year_t, year_base = times[k_t], times[k_base]
    treated = (g_own == times[cohort]) & (g_other > year_t)
    if never:
        control = np.isinf(g_own) & np.isinf(g_other)
    else:
        control = (g_own > year_t) & (g_other > year_t)
    change_treated, level_treated = _mean_change(Y, treated, k_t, k_base, weights)
    change_control, _ = _mean_change(Y, control, k_t, k_base, weights)
    tau = change_treated - change_control
    rho = tau / (level_treated - tau) if relative_base else None
    return tau, rho, int(treated.sum()), int(control.sum()), year_base


def _pooled_rho(Y, times, g_own, g_other, t, weights, never):
    """The relative effect of a program at period ``t``, pooled over every cohort with a base year."""
    numerator, denominator, used = 0.0, 0.0, 0
    for cohort in range(1, t + 1):
        tau, rho, n_treated, n_control, _ = _single(Y, times, g_own, g_other, cohort, t, weights, never, True)
        if n_treated and n_control:
            numerator = numerator + np.nan_to_num(rho) * n_treated
            denominator += n_treated
            used += 1
    return (numerator / denominator if denominator else np.full(weights.shape[0], np.nan)), used


def _cells(Y, times, g_a, g_b, weights, control_group, scale) -> pd.DataFrame:
    """Every (dual type, first-program cohort, dual cohort, period) cell with its synergy in each
    weight row, and what identifies it."""
    never = control_group == "never"
    relative = scale == "relative"
    index_of = {year: k for k, year in enumerate(times)}
    dual = np.isfinite(g_a) & np.isfinite(g_b)
    records = []
    for kind, g_first, g_second in (("A first", g_a, g_b), ("B first", g_b, g_a), ("same year", g_a, g_b)):
        if kind == "same year":
            members = dual & (g_a == g_b)
        else:
            members = dual & (g_first < g_second)
        for first_year, second_year in sorted(set(zip(g_first[members], g_second[members]))):
            if second_year not in index_of or index_of[second_year] == 0:
                continue  # the dual date is the first period or outside the window: no base year
            k_dual = index_of[second_year]
            treated = members & (g_first == first_year) & (g_second == second_year)
            for k_t in range(k_dual, len(times)):
                year_t = times[k_t]
                values, components, fallback = _cell(Y, times, g_a, g_b, kind, first_year, k_dual, k_t, treated,
                                                     weights, never, relative, index_of)
                records.append({"type": kind, "first_cohort": first_year, "dual_cohort": second_year,
                                "period": year_t, "event_time": int(year_t - second_year),
                                "n_dual": int(treated.sum()), **components, "fallback": fallback,
                                "values": values})
    return pd.DataFrame(records)


def _cell(Y, times, g_a, g_b, kind, first_year, k_dual, k_t, treated, weights, never, relative, index_of):
    """One cell's synergy in every weight row, its components (point values) and any fallback."""
    year_t = times[k_t]
    k_base = k_dual - 1
    fallback = ""
    if kind == "same year":
        control = (np.isinf(g_a) & np.isinf(g_b)) if never else ((g_a > year_t) & (g_b > year_t))
        change_t, level_t = _mean_change(Y, treated, k_t, k_base, weights)
        tau_dual = change_t - _mean_change(Y, control, k_t, k_base, weights)[0]
        tau_a, rho_a, *_ = _single(Y, times, g_a, g_b, k_dual, k_t, weights, never, True)
        tau_b, rho_b, *_ = _single(Y, times, g_b, g_a, k_dual, k_t, weights, never, True)
        untreated = level_t - tau_dual
        value = tau_dual - (rho_a + rho_b) * untreated if relative else tau_dual - tau_a - tau_b
        components = {"tau_dual": tau_dual, "tau_first_alone": tau_a, "tau_second_alone": tau_b,
                      "rho_first": rho_a, "rho_second": rho_b}
        return value, {k: float(v[0]) for k, v in components.items()}, fallback
    # A first (or the mirror image): the second program added to holders of the first.
    g_first, g_second = (g_a, g_b) if kind == "A first" else (g_b, g_a)
    year_base = times[k_base]
    holders = g_first <= year_base
    control = holders & (np.isinf(g_second) if never else (g_second > year_t))
    change_t, level_t = _mean_change(Y, treated, k_t, k_base, weights)
    tau_added = change_t - _mean_change(Y, control, k_t, k_base, weights)[0]
    tau_second, rho_second, *_ = _single(Y, times, g_second, g_first, k_dual, k_t, weights, never, True)
    components = {"tau_dual": tau_added, "tau_second_alone": tau_second, "rho_second": rho_second}
    if not relative:
        return tau_added - tau_second, {k: float(v[0]) for k, v in components.items()}, fallback
    k_first = index_of.get(first_year)
    rho_first = None
    if k_first is not None and k_first > 0:
        _, rho_first, n_treated, n_control, _ = _single(Y, times, g_first, g_second, k_first, k_t, weights, never, True)
        if not (n_treated and n_control):
            rho_first = None
    if rho_first is None:
        rho_first, _ = _pooled_rho(Y, times, g_first, g_second, k_t, weights, never)
        fallback = "first program's relative effect pooled over cohorts"
    components["rho_first"] = rho_first
    untreated = (level_t - tau_added) / (1 + rho_first)
    return tau_added - rho_second * untreated, {k: float(v[0]) for k, v in components.items()}, fallback
