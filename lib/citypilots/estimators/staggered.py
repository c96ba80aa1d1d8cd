"""Heterogeneity-robust estimators for staggered adoption, for any unit-time panel.

Every function takes the data and the names of its columns: the outcome ``y``, the ``unit``, the
``time`` period and the ``cohort`` (the first treated period; missing, ``pd.NA`` or ``NaN``, for a
never-treated unit). Treatment is absorbing: a unit is treated from its cohort period on.

- :func:`att_gt`: Callaway and Sant'Anna (2021, J. Econometrics 225(2)) group-time average
  treatment effects ATT(g, t), never-treated or not-yet-treated controls, with or without
  covariates (doubly robust by default), analytic influence-function standard errors (one
  influence value per unit, so clustered by unit: R ``did`` with ``bstrap = FALSE``), and the four
  aggregations of R's ``aggte`` (simple, dynamic, group, calendar) via
  :meth:`GroupTimeATT.aggregate`.
- :func:`sun_abraham`: Sun and Abraham (2021, J. Econometrics 225(2)) interaction-weighted event
  study, never-treated controls, standard errors clustered by unit.
- :func:`imputation`: Borusyak, Jaravel and Spiess (2024, Rev. Econ. Stud. 91(6)) imputation
  estimator, overall ATT and effects by horizon, their conservative clustered variance.
- :func:`bacon_decomposition`: Goodman-Bacon (2021, J. Econometrics 225(2)) decomposition of the
  two-way fixed effects (TWFE) estimate into its 2x2 comparisons.
- :func:`twfe_weights`: de Chaisemartin and D'Haultfoeuille (2020, Am. Econ. Rev. 110(9)) weights
  of the TWFE coefficient on the treated cells' effects, and the share that is negative.

What is wrapped and what is written here. The estimates come from ``diff_diff``
(``CallawaySantAnna``, ``SunAbraham``, ``ImputationDiD``, ``BaconDecomposition``), which codes a
never-treated unit as ``first_treat = 0``; this module translates the cohort convention, checks
the arguments and returns the package's numbers in :class:`citypilots.estimators.did.DidResult` tables.
Written here, because no installed package does it: the aggregation of the group-time ATTs.
``diff_diff`` aggregates them into the overall (simple) ATT, an event study and group effects, but
has no calendar-time aggregation and no overall summary (with its standard error) of the dynamic,
group or calendar aggregations. :meth:`GroupTimeATT.aggregate` therefore follows R ``did``'s
``compute.aggte`` on ``diff_diff``'s per-unit influence functions, including the term for the
estimated group-share weights; the tests check that its simple, dynamic and group rows equal
``diff_diff``'s own and that all four match the published R results on ``mpdta``. The influence
functions are read from the fitted result's aggregation kit (``_aggregation_kit``, pinned
``diff-diff==3.13.0``): ``diff_diff`` keeps them nowhere public.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from .estimates import (RESULT_COLUMNS, DidArgumentError, DidResult, check_alpha, check_cohort, check_columns,
                        cohort_values,
                        check_no_missing, check_numeric, check_unique_unit_time)

CONTROL_GROUPS = {"never": "never_treated", "notyet": "not_yet_treated"}
AGGREGATIONS = ("simple", "dynamic", "group", "calendar")
BASE_PERIODS = ("varying", "universal")
ESTIMATION_METHODS = ("dr", "ipw", "reg")
OVERALL = "ATT"  # the label of the overall row of every table here
COMPARISON_TYPES = {
    "earlier_vs_later": "earlier vs later treated",
    "later_vs_earlier": "later vs earlier treated",
    "treated_vs_never": "treated vs never treated",
}
NEVER_LABEL = "never treated"
_FIRST_TREAT = "_first_treat"  # the internal diff_diff column: 0 = never treated


# ----------------------------------------------------------------------------------------------
# Argument checks
# ----------------------------------------------------------------------------------------------

def _check_choice(name: str, value: Any, allowed: Sequence[str]) -> None:
    if value not in allowed:
        raise DidArgumentError(f"{name}={value!r} is not allowed; use one of: {', '.join(map(repr, allowed))}")


def _prepare(data: pd.DataFrame, y: str, unit: str, time: str, cohort: str,
             covariates: Sequence[str] | None) -> tuple[pd.DataFrame, float]:
    """Check the arguments; return the frame diff_diff gets and the shift added to time and cohort.

    The frame has the columns ``unit``, ``time``, ``y``, the covariates and ``_first_treat``
    (0 = never treated). ``diff_diff`` reserves 0 for never-treated units, so when the time
    variable reaches 0 or below, time and cohort are shifted to start at 1 (and shifted back
    in every result).
    """
    covariates = list(covariates or [])
    check_columns(data, [y, unit, time, cohort, *covariates])
    check_numeric(data, [y, time, *covariates])
    check_no_missing(data, [y, unit, time, *covariates])
    check_unique_unit_time(data, unit, time)
    check_cohort(data, unit, time, cohort)
    values = cohort_values(data, time, cohort)
    first = float(data[time].min())
    before = np.isfinite(values) & (values <= first)
    if before.any():
        n_units = data.loc[before, unit].nunique()
        warnings.warn(f"{n_units} unit(s) with cohort {first:g} in column {cohort!r}, the first {time} of the "
                      f"data, are treated in every period and are dropped: they have no untreated period",
                      UserWarning, stacklevel=3)
    keep = ~before
    shift = 0.0 if first > 0 else 1.0 - first
    frame = data.loc[keep, [unit, time, y, *[c for c in covariates if c not in (unit, time, y)]]].copy()
    frame[time] = frame[time] + shift
    frame[_FIRST_TREAT] = np.where(np.isfinite(values[keep]), values[keep] + shift, 0.0)
    if (frame[_FIRST_TREAT] > 0).sum() == 0:
        raise DidArgumentError(f"no unit is ever treated: column {cohort!r} is NA (never treated) everywhere")
    return frame.reset_index(drop=True), shift


def _fit_collecting_warnings(model, frame: pd.DataFrame, y: str, unit: str, time: str,
                             covariates: Sequence[str] | None) -> tuple[Any, tuple[str, ...]]:
    """``model.fit`` on the diff_diff frame; its warnings returned (distinct, in order), not printed."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fitted = model.fit(frame, outcome=y, unit=unit, time=time, first_treat=_FIRST_TREAT,
                           covariates=list(covariates) if covariates else None)
    return fitted, tuple(dict.fromkeys(str(w.message) for w in caught))


def _never_treated_required(frame: pd.DataFrame, cohort: str) -> None:
    if not (frame[_FIRST_TREAT] == 0).any():
        raise DidArgumentError(f"no never-treated unit (NA in column {cohort!r}) to serve as control; "
                               f"use not-yet-treated controls where the estimator allows it")


def _normal_inference(estimate: np.ndarray, se: np.ndarray, alpha: float) -> pd.DataFrame:
    estimate, se = np.asarray(estimate, dtype=float), np.asarray(se, dtype=float)
    z = stats.norm.ppf(1 - alpha / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        p_value = 2 * stats.norm.sf(np.abs(estimate / se))
    return pd.DataFrame({"estimate": estimate, "std_error": se, "ci_low": estimate - z * se,
                         "ci_high": estimate + z * se, "p_value": p_value})


def without_overall(result: DidResult) -> DidResult:
    """The rows of ``result`` by event time, group or year, without the overall ``"ATT"`` row.

    Tables here end with the overall row so that ``result.estimate()`` is the overall summary;
    a plot of the path (e.g. :func:`citypilots.report.plots.event_study_plot`) wants only the others.
    """
    table = result.table.drop(index=OVERALL, errors="ignore")
    table.index = pd.Index(list(table.index), name=result.table.index.name)
    return DidResult(estimator=result.estimator, table=table, n_obs=result.n_obs, n_units=result.n_units,
                     inference=result.inference, main_term=None, fitted=result.fitted, extra=dict(result.extra))


# ----------------------------------------------------------------------------------------------
# Callaway and Sant'Anna
# ----------------------------------------------------------------------------------------------

@dataclass
class GroupTimeATT:
    """Group-time average treatment effects ATT(g, t) (Callaway and Sant'Anna 2021).

    ``table``: one row per (group, time) with the columns ``group``, ``time`` and
    :data:`citypilots.estimators.did.RESULT_COLUMNS`. Pre-treatment rows are placebo ATTs: with
    ``base_period == "varying"`` (R ``did``'s default) against the previous period (year-on-year
    changes), with ``"universal"`` against the year before the group's first treated period, whose
    own row is the reference (0, missing standard error), as in a TWFE event study normalised at
    -1. ``fitted``: the ``diff_diff.CallawaySantAnnaResults``. ``warnings``: the distinct
    messages ``diff_diff`` raised while fitting (e.g. a propensity score that nearly separates the
    groups), kept here instead of printed. :meth:`aggregate` gives the summary parameters.
    """

    table: pd.DataFrame
    n_obs: int
    n_units: int
    fitted: Any
    estimator: str
    inference: str
    alpha: float
    control_group: str
    influence: np.ndarray = field(repr=False)  # (units, cells): se of a linear combination w = ||influence @ w||
    unit_cohort: np.ndarray = field(repr=False)  # each unit's group (NaN = never treated)
    base_period: str = "varying"
    warnings: tuple[str, ...] = ()

    def aggregate(self, kind: str = "simple") -> DidResult:
        """Aggregate the ATT(g, t) as R ``did::aggte(type = kind)`` does (Callaway and Sant'Anna 2021, Sec. 3).

        ``"simple"``: the post-treatment ATT(g, t) averaged with weights proportional to group size;
        table: one row ``"ATT"``. ``"dynamic"``: by event time e = t - g (all event times, the
        pre-treatment ones as placebos); overall = the mean over e >= 0. ``"group"``: by group,
        each group's post-treatment ATT(g, t) averaged; overall = weighted by group size.
        ``"calendar"``: by time, over the groups treated by then (weighted by group size);
        overall = the mean over times. Every table ends with the overall row ``"ATT"``, the
        ``main_term``, so ``result.estimate()`` is the overall aggregate; ``extra["overall"]`` is
        ``(estimate, std_error)``. Standard errors: the influence functions, including the
        estimation of the group-share weights (R ``did``'s analytic standard errors).
        """
        _check_choice("kind", kind, AGGREGATIONS)
        labels, estimates, influence = _aggregate(self.table, self.influence, self.unit_cohort, kind)
        se = np.sqrt(np.sum(influence**2, axis=0))
        # A universal base period's reference (event time -1 in the dynamic aggregation) is 0 by
        # construction: no standard error, as in R did.
        se = np.where(np.all(influence == 0, axis=0) & (estimates == 0), np.nan, se)
        table = _normal_inference(estimates, se, self.alpha)
        table.index = pd.Index(labels, dtype=object, name={"simple": "term", "dynamic": "event_time",
                                                           "group": "group", "calendar": "time"}[kind])
        overall = table.loc[OVERALL]
        return DidResult(
            estimator=f"{self.estimator}, {kind} aggregation", table=table[list(RESULT_COLUMNS)],
            n_obs=self.n_obs, n_units=self.n_units, inference=self.inference, main_term=OVERALL,
            fitted=self.fitted,
            extra={"overall": (float(overall["estimate"]), float(overall["std_error"])), "kind": kind,
                   "control_group": self.control_group},
        )


def att_gt(data: pd.DataFrame, y: str, unit: str, time: str, cohort: str, control_group: str = "never",
           covariates: Sequence[str] | None = None, alpha: float = 0.05,
           estimation_method: str = "dr", base_period: str = "varying") -> GroupTimeATT:
    """Group-time ATTs of Callaway and Sant'Anna (2021, J. Econometrics), via ``diff_diff``.

    ``control_group``: ``"never"`` (never-treated units) or ``"notyet"`` (never and not yet
    treated). ``covariates``: conditioning variables for parallel trends (their base-period
    values, as in R ``did``); ``estimation_method``: ``"dr"`` (doubly robust, default),
    ``"ipw"`` or ``"reg"``. ``base_period``: ``"varying"`` (R's default: a pre-treatment cell
    compares year t with year t - 1) or ``"universal"`` (every cell compares with the year
    before the group's first treated year, so pre-treatment estimates are long differences
    comparable with an event study normalised at -1). Post-treatment cells, and so the simple,
    group and calendar aggregations, are the same either way. Standard errors: analytic, from
    the influence functions, clustered by unit; no bootstrap. ``diff_diff``'s warnings are
    collected in the result's ``warnings``, not printed.
    """
    _check_choice("control_group", control_group, tuple(CONTROL_GROUPS))
    _check_choice("estimation_method", estimation_method, ESTIMATION_METHODS)
    _check_choice("base_period", base_period, BASE_PERIODS)
    check_alpha(alpha)
    frame, shift = _prepare(data, y, unit, time, cohort, covariates)
    if control_group == "never":
        _never_treated_required(frame, cohort)
    from diff_diff import CallawaySantAnna

    model = CallawaySantAnna(control_group=CONTROL_GROUPS[control_group], estimation_method=estimation_method,
                             alpha=alpha, n_bootstrap=0, base_period=base_period)
    fitted, messages = _fit_collecting_warnings(model, frame, y, unit, time, covariates)
    kit = getattr(fitted, "_aggregation_kit", None)
    if kit is None or not kit.influence:
        raise RuntimeError("diff_diff's CallawaySantAnna result carries no influence functions "
                           "(_aggregation_kit): this module needs diff-diff==3.13.0")
    cells = sorted(fitted.group_time_effects)
    effects = [fitted.group_time_effects[cell] for cell in cells]
    n_units = len(kit.bookkeeping["unit_cohorts"])
    influence = np.zeros((n_units, len(cells)))
    for k, cell in enumerate(cells):
        info = kit.influence.get(cell)
        if info is None:
            influence[:, k] = np.nan
            continue
        influence[np.asarray(info["treated_idx"]), k] += np.asarray(info["treated_inf"])
        influence[np.asarray(info["control_idx"]), k] += np.asarray(info["control_inf"])
    unit_cohort = np.asarray(kit.bookkeeping["unit_cohorts"], dtype=float)
    unit_cohort = np.where(unit_cohort > 0, unit_cohort - shift, np.nan)
    table = _normal_inference([e["effect"] for e in effects], [e["se"] for e in effects], alpha)
    table.insert(0, "time", [float(t) - shift for _, t in cells])
    table.insert(0, "group", [float(g) - shift for g, _ in cells])
    table[["group", "time"]] = table[["group", "time"]].apply(_as_int_if_whole)
    label = {"never": "never treated", "notyet": "not yet treated"}[control_group]
    return GroupTimeATT(
        table=table, n_obs=int(fitted.n_obs), n_units=n_units, fitted=fitted,
        estimator=f"Callaway-Sant'Anna ({label} controls{', covariates' if covariates else ''}, "
                  f"{estimation_method}, {base_period} base period)",
        inference=f"analytic influence-function standard errors, clustered by {unit}",
        alpha=alpha, control_group=control_group, influence=influence, unit_cohort=unit_cohort,
        base_period=base_period, warnings=messages,
    )


def _as_int_if_whole(column: pd.Series) -> pd.Series:
    values = column.to_numpy(dtype=float)
    return column.astype(np.int64) if np.all(np.isfinite(values) & (values == np.round(values))) else column


def _weights_influence(cells: np.ndarray, pg: np.ndarray, unit_cohort: np.ndarray, att: np.ndarray) -> np.ndarray:
    """R ``did``'s ``wif %*% att``: the influence of estimating the group-share weights, scaled by 1/n.

    ``cells``: the group of each aggregated term; ``pg``: its group share; weights pg / sum(pg).
    """
    n = len(unit_cohort)
    indicator = (unit_cohort[:, None] == cells[None, :]).astype(float) - pg[None, :]
    total = pg.sum()
    wif = indicator / total - np.outer(indicator.sum(axis=1), pg) / total**2
    return wif @ att / n


def _aggregate(table: pd.DataFrame, influence: np.ndarray, unit_cohort: np.ndarray,
               kind: str) -> tuple[list, np.ndarray, np.ndarray]:
    """Labels, estimates and influence functions (units x labels) of an aggregation (R ``compute.aggte``)."""
    finite = np.isfinite(table["estimate"].to_numpy()) & np.all(np.isfinite(influence), axis=0)
    if not finite.all():
        missing = ", ".join(f"({g}, {t})" for g, t in table.loc[~finite, ["group", "time"]].itertuples(index=False))
        warnings.warn(f"group-time cells {missing} could not be estimated and are left out of the aggregation "
                      f"(R did's na.rm = TRUE)", UserWarning, stacklevel=3)
    group = table["group"].to_numpy(dtype=float)[finite]
    time = table["time"].to_numpy(dtype=float)[finite]
    att = table["estimate"].to_numpy(dtype=float)[finite]
    psi = influence[:, finite]
    share = {g: float(np.mean(unit_cohort == g)) for g in np.unique(group)}
    pg = np.array([share[g] for g in group])
    post = group <= time

    def weighted(which: np.ndarray, with_wif: bool = True) -> tuple[float, np.ndarray]:
        w = pg[which] / pg[which].sum()
        estimate = float(w @ att[which])
        psi_total = psi[:, which] @ w
        if with_wif:
            psi_total = psi_total + _weights_influence(group[which], pg[which], unit_cohort, att[which])
        return estimate, psi_total

    def label(value: float) -> Any:
        return int(value) if float(value).is_integer() else value

    if kind == "simple":
        estimate, psi_total = weighted(post)
        return [OVERALL], np.array([estimate]), psi_total[:, None]

    if kind == "dynamic":
        keys = np.unique(time - group)
        parts = [weighted(time - group == e) for e in keys]
        use = keys >= 0
        overall_weights = use / use.sum()
    elif kind == "group":
        keys = np.unique(group[post])
        # Within a group the weights are equal (one group share), so R uses no weight influence here.
        parts = [weighted((group == g) & post, with_wif=False) for g in keys]
        cohort_share = np.array([share[g] for g in keys])
        overall_weights = cohort_share / cohort_share.sum()
    else:  # calendar
        keys = np.unique(time[time >= group.min()])
        parts = [weighted((time == t) & post) for t in keys]
        overall_weights = np.full(len(keys), 1 / len(keys))
    estimates = np.array([p[0] for p in parts])
    psi_rows = np.column_stack([p[1] for p in parts])
    overall = float(overall_weights @ estimates)
    psi_overall = psi_rows @ overall_weights
    if kind == "group":
        psi_overall = psi_overall + _weights_influence(keys, cohort_share, unit_cohort, estimates)
    labels = [label(k) for k in keys] + [OVERALL]
    return labels, np.append(estimates, overall), np.column_stack([psi_rows, psi_overall])


# ----------------------------------------------------------------------------------------------
# Sun and Abraham
# ----------------------------------------------------------------------------------------------

def sun_abraham(data: pd.DataFrame, y: str, unit: str, time: str, cohort: str,
                covariates: Sequence[str] | None = None, window: tuple[int, int] | None = None,
                alpha: float = 0.05) -> DidResult:
    """Interaction-weighted event study of Sun and Abraham (2021, J. Econometrics), via ``diff_diff``.

    A TWFE regression saturated in cohort x event time (reference: event time -1; controls:
    never-treated units), its cohort-specific effects averaged at each event time with the cohort
    shares. Table indexed by event time, the reference -1 as a row of 0 with missing standard
    error, and a last row ``"ATT"`` (the ``main_term``): the average over the post-treatment
    cohort-event-time cells weighted by their treated observations. ``window`` = (first, last)
    event time to report (the regression stays fully saturated, so no estimate changes).
    Standard errors clustered by unit (CR1).
    """
    check_alpha(alpha)
    frame, _ = _prepare(data, y, unit, time, cohort, covariates)  # event times do not move with a shift
    _never_treated_required(frame, cohort)
    if window is not None:
        if len(window) != 2 or window[0] > -1 or window[1] < 0:
            raise DidArgumentError(f"window={window!r} must be (first, last) event times with first <= -1 <= 0 <= last")
    from diff_diff import SunAbraham

    model = SunAbraham(control_group="never_treated", alpha=alpha, n_bootstrap=0)
    fitted, messages = _fit_collecting_warnings(model, frame, y, unit, time, covariates)
    rows = {int(e): v for e, v in fitted.event_study_effects.items()}
    rows.setdefault(-1, None)
    times = sorted(rows)
    if window is not None:
        times = [e for e in times if window[0] <= e <= window[1]]
    records = []
    for e in times:
        effect = rows[e]
        if effect is None:
            records.append((0.0, np.nan, np.nan, np.nan, np.nan))
        else:
            low, high = effect["conf_int"]
            records.append((effect["effect"], effect["se"], low, high, effect["p_value"]))
    low, high = fitted.overall_conf_int
    records.append((fitted.overall_att, fitted.overall_se, low, high, fitted.overall_p_value))
    table = pd.DataFrame(records, columns=list(RESULT_COLUMNS),
                         index=pd.Index([*times, OVERALL], dtype=object, name="event_time")).astype(float)
    return DidResult(
        estimator="Sun-Abraham (never-treated controls" + (", covariates)" if covariates else ")"),
        table=table, n_obs=int(fitted.n_obs), n_units=int(frame[unit].nunique()),
        inference=f"clustered by {unit} (CR1)", main_term=OVERALL, fitted=fitted,
        extra={"overall": (float(fitted.overall_att), float(fitted.overall_se)), "reference": -1,
               "warnings": messages},
    )


# ----------------------------------------------------------------------------------------------
# Borusyak, Jaravel and Spiess
# ----------------------------------------------------------------------------------------------

def imputation(data: pd.DataFrame, y: str, unit: str, time: str, cohort: str,
               covariates: Sequence[str] | None = None, horizons: int | Sequence[int] | None = None,
               alpha: float = 0.05) -> DidResult:
    """Imputation estimator of Borusyak, Jaravel and Spiess (2024, Rev. Econ. Stud.), via ``diff_diff``.

    Unit and time fixed effects (and the covariates) are fitted on the untreated observations
    only (never-treated units and treated units before their cohort), each treated observation's
    untreated outcome is imputed from them, and the differences are averaged: row ``"ATT"``
    (the ``main_term``) over all treated observations, and, when ``horizons`` is given (an int H
    for 0..H, or a list of event times >= 0), over the treated observations at each horizon.
    Standard errors: the paper's conservative variance (Theorem 3), clustered by unit.
    """
    check_alpha(alpha)
    frame, _ = _prepare(data, y, unit, time, cohort, covariates)
    wanted: list[int] = []
    if horizons is not None:
        wanted = list(range(int(horizons) + 1)) if np.ndim(horizons) == 0 else [int(h) for h in horizons]
        if any(h < 0 for h in wanted):
            raise DidArgumentError(f"horizons={horizons!r}: horizons are event times >= 0")
    from diff_diff import ImputationDiD

    model = ImputationDiD(alpha=alpha, n_bootstrap=0)
    fitted, messages = _fit_collecting_warnings(model, frame, y, unit, time, covariates)
    records, index = [], []
    if wanted:
        by_horizon = fitted.aggregate("event_study").to_dataframe().set_index("event_time")
        available = [int(h) for h in by_horizon.index if h >= 0]
        for h in wanted:
            if h not in available:
                raise DidArgumentError(f"horizon {h} has no treated observation; available horizons: "
                                       f"{min(available)}..{max(available)}")
            row = by_horizon.loc[h]
            records.append((row["att"], row["se"], row["conf_int_lower"], row["conf_int_upper"], row["p_value"]))
            index.append(h)
    low, high = fitted.overall_conf_int
    records.append((fitted.overall_att, fitted.overall_se, low, high, fitted.overall_p_value))
    index.append(OVERALL)
    table = pd.DataFrame(records, columns=list(RESULT_COLUMNS),
                         index=pd.Index(index, dtype=object, name="horizon")).astype(float)
    return DidResult(
        estimator="Borusyak-Jaravel-Spiess imputation" + (" (covariates)" if covariates else ""),
        table=table, n_obs=int(fitted.n_obs), n_units=int(frame[unit].nunique()),
        inference=f"conservative variance (BJS Theorem 3), clustered by {unit}", main_term=OVERALL,
        fitted=fitted, extra={"overall": (float(fitted.overall_att), float(fitted.overall_se)),
                              "n_treated_obs": int(fitted.n_treated_obs), "warnings": messages},
    )


# ----------------------------------------------------------------------------------------------
# Goodman-Bacon
# ----------------------------------------------------------------------------------------------

@dataclass
class BaconResult:
    """The Goodman-Bacon (2021) decomposition of a TWFE estimate.

    ``table``: one row per 2x2 comparison with ``treated`` (its cohort), ``control`` (a cohort or
    ``"never treated"``), ``type`` (``"earlier vs later treated"``, ``"later vs earlier
    treated"`` -- the already-treated used as controls -- or ``"treated vs never treated"``),
    ``estimate`` and ``weight`` (summing to 1). ``twfe``: the TWFE coefficient on the treatment
    dummy with unit and time fixed effects, equal to ``(estimate * weight).sum()``.
    """

    table: pd.DataFrame
    twfe: float
    n_obs: int
    n_units: int
    outcome: str
    fitted: Any = field(repr=False, default=None)

    def by_type(self) -> pd.DataFrame:
        """Total weight and weighted average estimate of each comparison type."""
        grouped = self.table.assign(product=self.table["estimate"] * self.table["weight"]).groupby("type", sort=False)
        out = grouped[["weight", "product"]].sum()
        out["estimate"] = out["product"] / out["weight"]
        return out[["weight", "estimate"]]


def bacon_decomposition(data: pd.DataFrame, y: str, unit: str, time: str, cohort: str) -> BaconResult:
    """Goodman-Bacon (2021, J. Econometrics) decomposition of the TWFE estimate, via ``diff_diff``.

    The TWFE regression of ``y`` on the treatment dummy (1 from the cohort period on) with unit
    and time fixed effects, without controls, on a balanced panel, written as the weighted
    average of every 2x2 DiD between timing groups and the never-treated (exact
    variance weights, Goodman-Bacon Theorem 1).
    """
    frame, shift = _prepare(data, y, unit, time, cohort, None)
    counts = frame.groupby(unit)[time].nunique()
    if counts.nunique() != 1 or counts.iloc[0] != frame[time].nunique():
        raise DidArgumentError(f"the decomposition needs a balanced panel: not every {unit} is observed "
                               f"in every {time}")
    from diff_diff import BaconDecomposition

    fitted = BaconDecomposition(weights="exact").fit(frame, outcome=y, unit=unit, time=time,
                                                     first_treat=_FIRST_TREAT)
    raw = fitted.to_dataframe()

    def relabel(value: Any) -> Any:
        if isinstance(value, str):
            return NEVER_LABEL
        value = float(value) - shift
        return int(value) if value.is_integer() else value

    table = pd.DataFrame({
        "treated": [relabel(v) for v in raw["treated_group"]],
        "control": pd.array([relabel(v) for v in raw["control_group"]], dtype=object),
        "type": raw["comparison_type"].map(COMPARISON_TYPES),
        "estimate": raw["estimate"].astype(float),
        "weight": raw["weight"].astype(float),
    })
    return BaconResult(table=table, twfe=float(fitted.twfe_estimate), n_obs=len(frame),
                       n_units=int(frame[unit].nunique()), outcome=y, fitted=fitted)


# ----------------------------------------------------------------------------------------------
# de Chaisemartin and D'Haultfoeuille: the weights of TWFE on the treated cells
# ----------------------------------------------------------------------------------------------

@dataclass
class TwfeWeights:
    """The weights a TWFE coefficient puts on each treated cell's effect (de Chaisemartin and
    D'Haultfoeuille 2020, Theorem 1).

    ``table``: one row per treated (unit, time) cell with ``weight`` (summing to 1 over the
    treated cells; negative where the cell's effect enters the coefficient with a minus sign).
    ``twfe``: the TWFE coefficient of the treatment dummy (unit and time effects, no controls).
    ``share_negative``: the share of treated cells with a negative weight; ``negative_sum``: the
    sum of the negative weights. ``fitted``: ``diff_diff``'s ``TWFEWeightsResult``.
    """

    table: pd.DataFrame
    twfe: float
    share_negative: float
    negative_sum: float
    fitted: Any = field(repr=False, default=None)

    def implied_by(self, effects: pd.Series) -> float:
        """``sum_cells weight x effect``: what the TWFE coefficient estimates when parallel trends
        hold and the treated cells' effects are ``effects`` (aligned with ``table``'s rows)."""
        return float(self.table["weight"].to_numpy() @ np.asarray(effects, dtype=float))


def twfe_weights(data: pd.DataFrame, y: str, treatment: str, unit: str = "city",
                 time: str = "year") -> TwfeWeights:
    """Theorem 1 weights of de Chaisemartin and D'Haultfoeuille (2020, Am. Econ. Rev. 110(9)).

    Under parallel trends, the TWFE coefficient of a 0/1 ``treatment`` with unit and time effects
    is ``sum w_it TE_it`` over the treated cells, with ``w_it = e_it / sum_treated e_it`` and
    ``e_it`` the residual of the treatment dummy on the unit and time effects. A cell gets a
    negative weight when its unit is treated in a period in which many units are treated, or
    has been treated for long: its effect is then subtracted. The residuals come from pyfixest
    (``D ~ 1 | unit + time``); the coefficient and the share of negative weights are checked
    against ``diff_diff.twowayfeweights`` (the port of Stata/R ``twowayfeweights``), whose own
    weights table is on another scale (the tests compare the two).
    """
    check_columns(data, [y, treatment, unit, time])
    check_numeric(data, [y, treatment])
    check_no_missing(data, [y, treatment, unit, time])
    check_unique_unit_time(data, unit, time)
    values = data[treatment]
    if not values.isin([0, 1]).all():
        raise DidArgumentError(f"column {treatment!r} must be a 0/1 dummy")
    import pyfixest as pf
    from diff_diff import twowayfeweights

    frame = data[[unit, time]].reset_index(drop=True).copy()
    frame["_D"] = values.to_numpy(dtype=float)
    residual = pf.feols(f"_D ~ 1 | {unit} + {time}", data=frame, fixef_rm="none").resid()
    treated = frame["_D"].to_numpy() == 1
    weights = residual[treated] / residual[treated].sum()
    table = frame.loc[treated, [unit, time]].reset_index(drop=True)
    table["weight"] = weights
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fitted = twowayfeweights(data, y, unit=unit, time=time, treatment=treatment)
    return TwfeWeights(table=table, twfe=float(fitted.beta_fe), share_negative=float(np.mean(weights < 0)),
                       negative_sum=float(weights[weights < 0].sum()), fitted=fitted)
