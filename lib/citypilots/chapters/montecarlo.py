"""The estimator Monte Carlo chapter: five DID estimators in four simulated worlds.

TWFE, Callaway-Sant'Anna, Sun-Abraham, the imputation estimator of Borusyak, Jaravel and Spiess
and a stacked DID (Wing, Freedman and Hollingsworth) are fitted on the dual-pilot and never-pilot
cities of many simulated panels (:data:`PANELS` per world), with the dual-pilot year as the
cohort and no covariates, in each world of :data:`WORLDS`. Each estimate is set beside two
realised truths of its own panel, computed from the same draws:

* its **own target**, ``sum(W * effects)``: the estimator's weights ``W``
  (:func:`citypilots.estimators.fast.weights`, fixed by who becomes a dual pilot when) applied to
  the realised effect of holding both pilots rather than none in every city-year
  (``Safety_both - Safety_none``). Every estimator here is linear in the outcome, so its
  estimate minus this target is the estimator applied to the untreated outcomes alone, which
  averages to zero when they follow parallel trends. For Callaway-Sant'Anna and Sun-Abraham it
  is the change in the effect since the year before the dual-pilot year
  (``truth.change_since``; tested equal); for TWFE a weighted average of the effects with its
  regression weights; for the imputation estimator the effect relative to the city's fitted
  untreated years; for the stacked DID the trimmed aggregate over its event window.
* the **ATT** the paper reads its number as: both pilots against none, averaged over the
  dual-pilot city-years (``truth.dual_vs_none()``).

Bias, RMSE and coverage of the 95% interval are measured against the own target; the gap
between the target and the ATT is what the estimator's comparisons do to the estimand.

The estimators are the NumPy versions of :mod:`citypilots.estimators.fast` (tested equal to the
packages); the runs go through :func:`citypilots.simulation.montecarlo.replicate`, cached.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ..estimators import did, fast
from ..estimators.estimates import RESULT_COLUMNS
from ..estimators.stacked import stacked_did
from ..report.glue import glue_number, glue_text
from ..report.plots import set_style
from ..simulation.generator import simulate_panel
from ..simulation.montecarlo import replicate, summarise
from ..simulation.specification import load_spec

PANELS = 500
"""Simulated panels per world."""

SAMPLE_GROUPS = ("dual", "none")
"""The cities every estimator uses: dual-pilot cities (cohort: the dual-pilot year) and the never-pilot cities."""

KAPPA_PRE, KAPPA_POST = 3, 5
"""The stacked DID's event window."""

ESTIMATOR_KEYS = {"TWFE": "twfe", "Callaway-Sant'Anna": "cs", "Sun-Abraham": "sa", "imputation": "imp",
                  "stacked": "stacked"}
"""The five estimators (labels of :data:`citypilots.estimators.fast.ESTIMATORS`) and their short glue keys."""

TARGETS = {
    "TWFE": "TWFE-weighted effect",
    "Callaway-Sant'Anna": "change since year -1",
    "Sun-Abraham": "change since year -1",
    "imputation": "effect vs fitted untreated years",
    "stacked": f"trimmed ATT, event times 0-{KAPPA_POST}",
}
"""What each estimator's own target is, in a few words (the module docstring says it in full)."""

_BOOK_SPEC = load_spec()

PARALLEL_TRENDS = {
    **{f"outcome.beta.{name}": 0.0 for name in _BOOK_SPEC["outcome"]["beta"]},
    "covariates.growth_type_pilot_shift": 0.0,
    **{f"effects.other_policies.{name}": 0.0 for name in _BOOK_SPEC["other_policies"]},
    "effects.spillover.bands_km": [],
}
"""Overrides under which deaths without either pilot follow parallel trends in dual-pilot and
never-pilot cities: the controls do not move deaths (their lognormal level trends are steeper in
the larger dual-pilot cities), pilot cities are not on steeper covariate trends, and the other
policies and the spillover are off."""

_HOMOGENEOUS = {"effects.homogeneous": True, "effects.homogeneous_sizes.innovation_single": 0.0,
                "effects.homogeneous_sizes.smart_single": 0.0}

COHORT_MULTIPLIERS = {2013: 2.0, 2015: 1.0, 2018: 0.5, 2022: 0.25}
"""World (c): the dual-pilot size by dual-pilot year, as multiples of world (a)'s."""


@dataclass(frozen=True)
class World:
    """A simulated world: ``key`` (a letter), a ``label``, the ``overrides`` of the book's
    specification, what the world ``isolates``, and a ``short`` label for figure panels."""

    key: str
    label: str
    overrides: dict
    isolates: str
    short: str = ""


WORLDS = {world.key: world for world in (
    World("a", "(a) homogeneous, immediate", {**PARALLEL_TRENDS, **_HOMOGENEOUS},
          "one constant effect from the dual-pilot year on, the same in every city; no single-pilot effect",
          "(a) homogeneous"),
    World("b", "(b) dynamic, as the paper describes", dict(PARALLEL_TRENDS),
          f"the book's effects: single-pilot effects from each adoption year, a synergy that starts "
          f"{_BOOK_SPEC['effects']['dual']['delay']} years after the dual-pilot year and ramps up over "
          f"{_BOOK_SPEC['effects']['dual']['ramp_years']} years", "(b) dynamic"),
    World("c", "(c) heterogeneous by cohort", {**PARALLEL_TRENDS, **_HOMOGENEOUS,
                                               "effects.dual_by_cohort": dict(COHORT_MULTIPLIERS)},
          "world (a), with a dual-pilot effect that is larger for earlier dual-pilot years", "(c) by cohort"),
    World("d", "(d) the book's panel", {},
          "world (b) without parallel trends: the controls, the steeper trends of pilot cities, the other "
          "policies and the spillover are back, as in every other chapter", "(d) book's panel"),
)}
"""The worlds of the chapter: (a), (b) and (c) share untreated outcomes on parallel trends
(:data:`PARALLEL_TRENDS`); (d) is the specification every other chapter simulates."""


def worlds_table() -> pd.DataFrame:
    """The worlds: what each isolates and the overrides of the book's specification that make it
    (:data:`PARALLEL_TRENDS` named, not spelled out)."""
    def overrides_text(overrides: dict) -> str:
        rest = {k: v for k, v in overrides.items() if k not in PARALLEL_TRENDS}
        parts = (["PARALLEL_TRENDS"] if all(k in overrides for k in PARALLEL_TRENDS) else [])
        parts += [f"{k} = {v}" for k, v in rest.items()]
        return "; ".join(parts) or "none: the book's specification"
    return pd.DataFrame({"isolates": [w.isolates for w in WORLDS.values()],
                         "overrides": [overrides_text(w.overrides) for w in WORLDS.values()]},
                        index=pd.Index([w.label for w in WORLDS.values()], name="world"))


# ----------------------------------------------------------------------------------------------
# One panel
# ----------------------------------------------------------------------------------------------

def sample_rows(panel, groups=SAMPLE_GROUPS) -> np.ndarray:
    """Rows of ``panel.data`` in the cities of ``groups`` (default: dual-pilot and never-pilot cities)."""
    cities = panel.cities
    kept = cities.loc[cities["group"].isin(groups), "adcode"].to_numpy()
    return np.isin(panel.data["city"].to_numpy(), kept)


def estimator_measure(panel) -> dict:
    """Every estimator on one panel, with its own target and the ATT (see the module docstring).

    Returns a flat dict of numbers: ``"<estimator>|<column>"`` for the columns of
    :data:`citypilots.estimators.estimates.RESULT_COLUMNS` and ``"<estimator>|target"``, plus
    ``"ATT"`` (``truth.dual_vs_none()``); truths are NaN on a real panel.
    """
    rows = sample_rows(panel)
    sample = panel.data[rows]
    design = fast.BalancedDesign.from_long(sample, "city", "year", "dual_year")
    outcome = design.matrix(sample["Safety"].to_numpy())
    truth = panel.truth
    effects = None if truth is None else design.matrix(truth.contrast("dual_vs_none").to_numpy()[rows])
    out = {}
    for label, estimator in fast.ESTIMATORS.items():
        row = estimator(design, outcome).table.iloc[0]
        out.update({f"{label}|{column}": float(row[column]) for column in RESULT_COLUMNS})
        out[f"{label}|target"] = (math.nan if effects is None
                                  else float((fast.weights(design, label) * effects).sum()))
    out["ATT"] = math.nan if truth is None else truth.dual_vs_none()
    return out


def estimates_on_panel(book, decimals: int = 3) -> pd.DataFrame:
    """The five estimators on the chapter's panel through the packages (pyfixest, diff_diff: they
    also take an unbalanced real panel), beside each one's own target and the ATT where the panel
    is simulated. One row per estimator."""
    sample = book.data[sample_rows(book)]
    results = {
        "TWFE": did.twfe(sample, "Safety", "Dual_policy"),
        "Callaway-Sant'Anna": did.att_gt(sample, "Safety", "city", "year", "dual_year",
                                         control_group="never").aggregate("simple"),
        "Sun-Abraham": did.sun_abraham(sample, "Safety", "city", "year", "dual_year"),
        "imputation": did.imputation(sample, "Safety", "city", "year", "dual_year"),
        "stacked": stacked_did(sample, "Safety", "city", "year", "dual_year", kappa_pre=KAPPA_PRE,
                               kappa_post=KAPPA_POST),
    }
    targets, att = {label: math.nan for label in results}, math.nan
    if book.truth is not None:
        measured = estimator_measure(book)
        targets = {label: measured[f"{label}|target"] for label in results}
        att = measured["ATT"]
    table = pd.DataFrame({
        "estimate": [r.estimate() for r in results.values()],
        "s.e.": [r.std_error() for r in results.values()],
        "95% interval": [f"[{r.conf_int()[0]:.{decimals}f}, {r.conf_int()[1]:.{decimals}f}]"
                         for r in results.values()],
        "own target": list(targets.values()),
        "compared with": [TARGETS[label] for label in results],
        "ATT": att,
    }, index=pd.Index(list(results), name="estimator"))
    return table.round(decimals)


def describe_panel(book) -> str:
    """What the chapter's panel is, for the sentence above the first table."""
    if book.truth is None:
        return "your real panel, where there is no truth to compare with (the target and ATT columns are empty)"
    return "the book's own simulated panel, one draw of world (d) below"


# ----------------------------------------------------------------------------------------------
# Many panels
# ----------------------------------------------------------------------------------------------

def monte_carlo(worlds=None, panels: int = PANELS, n_jobs: int = 2, progress: bool = False,
                scheduler=None) -> dict[str, pd.DataFrame]:
    """:func:`estimator_measure` on ``panels`` simulated panels (seeds 1..panels) of each world.

    ``worlds``: keys of :data:`WORLDS`, or a dict of label -> overrides for worlds of your own
    (default: all of :data:`WORLDS`). Runs through :func:`replicate` (cached on disk; joblib
    with ``n_jobs`` processes, or a Dask ``scheduler``). Returns label -> one row per panel.
    """
    if worlds is None:
        worlds = list(WORLDS)
    if not isinstance(worlds, dict):
        worlds = {WORLDS[key].label: WORLDS[key].overrides for key in worlds}
    seeds = range(1, panels + 1)
    return {label: replicate(estimator_measure, seeds=seeds, overrides=overrides, n_jobs=n_jobs,
                             scheduler=scheduler, progress=progress)
            for label, overrides in worlds.items()}


SUMMARY_COLUMNS = ("compared with", "target", "mean estimate", "bias", "RMSE", "coverage", "s.e./SD",
                   "target - ATT", "coverage of ATT")


def summary(results: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Bias, RMSE and coverage of each estimator in each world, against its own target.

    One row per (world, estimator): the mean target, mean estimate, bias (mean of estimate -
    target) and its Monte Carlo standard error, RMSE, coverage of the 95% interval, the root mean
    square of the standard errors over the SD of the errors (estimate - target: the spread an
    interval for the target must cover; about 1 for a correct standard error), the mean gap
    target - ATT, the bias against the ATT, the coverage of the ATT, and the SD of the estimates.
    ``attrs["panels"]``: panels per world.
    """
    records = {}
    for world, rows in results.items():
        for label in fast.ESTIMATORS:
            column = f"{label}|"
            own = summarise(rows, f"{column}estimate", truth=f"{column}target", ci_low=f"{column}ci_low",
                            ci_high=f"{column}ci_high")
            against_att = summarise(rows, f"{column}estimate", truth="ATT", ci_low=f"{column}ci_low",
                                    ci_high=f"{column}ci_high")
            error = rows[f"{column}estimate"] - rows[f"{column}target"]
            records[(world, label)] = {
                "compared with": TARGETS[label], "target": own["truth"], "mean estimate": own["mean"],
                "bias": own["bias"], "bias MC s.e.": float(error.std(ddof=1) / np.sqrt(len(rows))),
                "RMSE": own["rmse"], "coverage": own["coverage"],
                "s.e./SD": float(np.sqrt((rows[f"{column}std_error"] ** 2).mean()) / error.std(ddof=1)),
                "target - ATT": float((rows[f"{column}target"] - rows["ATT"]).mean()),
                "ATT": against_att["truth"], "bias vs ATT": against_att["bias"],
                "coverage of ATT": against_att["coverage"], "SD": own["sd"],
            }
    table = pd.DataFrame.from_dict(records, orient="index")
    table.index = pd.MultiIndex.from_tuples(table.index, names=["world", "estimator"])
    table.attrs["panels"] = {world: len(rows) for world, rows in results.items()}
    return table


def summary_table(table: pd.DataFrame, decimals: int = 3) -> pd.DataFrame:
    """:func:`summary` as the chapter prints it: the columns of :data:`SUMMARY_COLUMNS`, numbers
    rounded, coverage in percent."""
    shown = table[list(SUMMARY_COLUMNS)].copy()
    for column in ("coverage", "coverage of ATT"):
        shown[column] = (100 * shown[column]).map(lambda v: f"{v:.1f}%")
    numeric = [c for c in SUMMARY_COLUMNS if c not in ("compared with", "coverage", "coverage of ATT")]
    shown[numeric] = shown[numeric].astype(float).round(decimals)
    return shown


def glue_summary(table: pd.DataFrame, prefix: str = "mc") -> None:
    """Glue every cell of :func:`summary` as ``<prefix>_<world key>_<estimator key>_<statistic>``
    (statistics: target, mean, bias, biasse, rmse, coverage, sesd, gap, att, biasatt, covatt, sd;
    coverage in percent), for the chapter's prose, and the panels per world as ``<prefix>_panels``.
    Worlds not in :data:`WORLDS` are skipped."""
    panels = set(table.attrs.get("panels", {}).values())
    glue_text(f"{prefix}_panels", f"{panels.pop():,}" if len(panels) == 1 else "different numbers of")
    keys = {world.label: world.key for world in WORLDS.values()}
    statistics = {"target": "target", "mean": "mean estimate", "bias": "bias", "biasse": "bias MC s.e.",
                  "rmse": "RMSE", "sesd": "s.e./SD", "gap": "target - ATT", "att": "ATT",
                  "biasatt": "bias vs ATT", "sd": "SD"}
    for (world, label), row in table.iterrows():
        if world not in keys:
            continue
        stem = f"{prefix}_{keys[world]}_{ESTIMATOR_KEYS[label]}"
        for short, column in statistics.items():
            glue_number(f"{stem}_{short}", row[column], "{:.2f}" if short == "sesd" else "{:.3f}")
        glue_number(f"{stem}_coverage", 100 * row["coverage"], "{:.1f}")
        glue_number(f"{stem}_covatt", 100 * row["coverage of ATT"], "{:.1f}")


# ----------------------------------------------------------------------------------------------
# The estimators' weights
# ----------------------------------------------------------------------------------------------

def design_of(panel=None, groups=SAMPLE_GROUPS) -> fast.BalancedDesign:
    """Who becomes a dual pilot when, among the cities of ``groups``: the design every simulated
    panel shares (default: the book's simulated panel; the cities and calendars are the same in
    every world and seed)."""
    panel = simulate_panel() if panel is None else panel
    sample = panel.data[sample_rows(panel, groups)]
    return fast.BalancedDesign.from_long(sample, "city", "year", "dual_year")


def estimator_weights(design: fast.BalancedDesign | None = None, estimators=None) -> pd.DataFrame:
    """The weight each estimator puts on the dual-pilot cities of each cohort at each event time
    (years since the dual-pilot year), summed over the cohort's cities: the weights of its
    estimate on the outcomes (:func:`citypilots.estimators.fast.weights`). A tidy frame with
    ``estimator``, ``cohort``, ``cities``, ``event_time``, ``weight``; the post-treatment weights of
    each estimator sum to 1 and every estimator's weights sum to 0."""
    design = design_of() if design is None else design
    estimators = list(fast.ESTIMATORS) if estimators is None else list(estimators)
    event_time = design.periods[None, :] - design.cohort[:, None]
    records = []
    for label in estimators:
        W = fast.weights(design, label)
        for cohort in design.cohorts:
            members = design.cohort == cohort
            for column, e in enumerate(event_time[members][0]):
                records.append((label, int(cohort), int(members.sum()), int(e), float(W[members, column].sum())))
    return pd.DataFrame(records, columns=["estimator", "cohort", "cities", "event_time", "weight"])


_COHORT_STYLE = (("o", "-", "#000000"), ("s", "--", "#4d4d4d"), ("^", "-.", "#7f7f7f"), ("D", ":", "#a6a6a6"))


def weights_figure(weights: pd.DataFrame) -> plt.Figure:
    """One row per estimator: its weights on each cohort's dual-pilot cities by event time, from
    :func:`estimator_weights`; left the years before the dual-pilot year (the year before, -1,
    dotted), right the years from it on (each column on its own scale)."""
    set_style()
    estimators = list(dict.fromkeys(weights["estimator"]))
    fig, axes = plt.subplots(len(estimators), 2, sharex="col", sharey="col", figsize=(7.5, 1.45 * len(estimators) + 1.0),
                             gridspec_kw={"width_ratios": [1.4, 1]}, squeeze=False)
    for row, label in zip(axes, estimators):
        rows = weights[weights["estimator"] == label]
        for k, (cohort, group) in enumerate(rows.groupby("cohort")):
            marker, line, colour = _COHORT_STYLE[k % len(_COHORT_STYLE)]
            for ax, part in zip(row, (group[group["event_time"] < 0], group[group["event_time"] >= 0])):
                ax.plot(part["event_time"], part["weight"], marker=marker, linestyle=line, color=colour, markersize=3,
                        linewidth=1, label=f"{cohort} ({group['cities'].iloc[0]} cities)")
        for ax in row:
            ax.axhline(0, color="black", linewidth=0.8)
            ax.xaxis.set_major_locator(mpl.ticker.MaxNLocator(integer=True))
        row[0].axvline(-1, color="#999999", linewidth=0.8, linestyle=":")
        row[0].set_title(f"{label}: before", loc="left", fontsize=9)
        row[1].set_title("from the dual-pilot year on", loc="left", fontsize=9)
        row[0].set_ylabel("weight")
    axes[-1, 0].set_xlabel("years since the dual-pilot year")
    axes[-1, 1].set_xlabel("years since the dual-pilot year")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=4, fontsize=8, title="dual-pilot year (cohort)",
               title_fontsize=8)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    return fig


def cohort_weights(weights: pd.DataFrame, decimals: int = 3) -> pd.DataFrame:
    """Each estimator's total weight on each cohort's dual-pilot city-years from the dual-pilot
    year on (from :func:`estimator_weights`), beside the cohort's share of those city-years (the
    weights of the ATT). Rows: cohorts; columns: estimators, then "share of dual city-years"."""
    post = weights[weights["event_time"] >= 0]
    table = post.pivot_table(index="cohort", columns="estimator", values="weight", aggfunc="sum", sort=False)
    table = table[list(dict.fromkeys(weights["estimator"]))]
    cities = weights.drop_duplicates("cohort").set_index("cohort")["cities"]
    years = post.drop_duplicates(["cohort", "event_time"]).groupby("cohort").size()
    city_years = cities * years
    table["share of dual city-years"] = city_years / city_years.sum()
    table.index = [f"{cohort} ({cities[cohort]} cities)" for cohort in table.index]
    table.index.name = "dual-pilot year"
    return table.round(decimals)


def bias_coverage_figure(table: pd.DataFrame) -> plt.Figure:
    """Bias (top) and coverage of the 95% interval (bottom) of each estimator in each world, from
    :func:`summary`: filled markers against the estimator's own target (bias with +-1.96 Monte
    Carlo standard errors), open markers against the ATT; coverage with the band a correct 95%
    interval stays in over this many panels."""
    set_style()
    worlds = list(dict.fromkeys(table.index.get_level_values("world")))
    estimators = list(dict.fromkeys(table.index.get_level_values("estimator")))
    panels = table.attrs.get("panels", {})
    titles = {world.label: world.short for world in WORLDS.values()}
    fig = plt.figure(figsize=(7.5, 5.8), layout="constrained")
    top_figure, bottom_figure = fig.subfigures(2, 1)
    top_axes = top_figure.subplots(1, len(worlds), sharey=True, squeeze=False)[0]
    bottom_axes = bottom_figure.subplots(1, len(worlds), sharey=True, squeeze=False)[0]
    y = np.arange(len(estimators))[::-1]
    low = min(0.0, float((table["bias"] - 2 * table["bias MC s.e."]).min()), float(table["bias vs ATT"].min()))
    high = max(0.0, float((table["bias"] + 2 * table["bias MC s.e."]).max()), float(table["bias vs ATT"].max()))
    pad = 0.06 * (high - low)
    for world, top, bottom in zip(worlds, top_axes, bottom_axes):
        rows = table.loc[world].reindex(estimators)
        top.axvline(0, color="black", linewidth=0.8)
        top.errorbar(rows["bias"], y, xerr=1.96 * rows["bias MC s.e."], fmt="o", color="black", markersize=5,
                     capsize=2, label="against its own target")
        top.plot(rows["bias vs ATT"], y, "s", markerfacecolor="white", markeredgecolor="black", markersize=5,
                 label="against the ATT")
        top.set_xlim(low - pad, high + pad)
        top.xaxis.set_major_locator(mpl.ticker.MaxNLocator(nbins=3, steps=[1, 2, 5, 10]))
        top.xaxis.set_major_formatter(mpl.ticker.StrMethodFormatter("{x:g}"))
        top.tick_params(axis="x", labelsize=8)
        top.set_title(titles.get(world) or world, fontsize=9, loc="left")
        n = panels.get(world, np.nan)
        half_band = 1.96 * np.sqrt(0.95 * 0.05 / n) if n == n else 0.0
        bottom.axvspan(0.95 - half_band, 0.95 + half_band, color="#d9d9d9", linewidth=0)
        bottom.axvline(0.95, color="black", linewidth=0.8)
        bottom.plot(rows["coverage"], y, "o", color="black", markersize=5)
        bottom.plot(rows["coverage of ATT"], y, "s", markerfacecolor="white", markeredgecolor="black", markersize=5)
        bottom.set_xlim(-0.03, 1.03)
        bottom.set_xticks([0, 0.5, 0.95], ["0", "50%", "95%"], fontsize=8)
    for axes in (top_axes, bottom_axes):
        axes[0].set_yticks(y, estimators)
    top_figure.supxlabel("bias: mean of the estimate minus the truth (hundreds of deaths)", fontsize=9)
    bottom_figure.supxlabel("coverage: share of 95% intervals that contain the truth (grey: ±1.96 Monte Carlo "
                            "s.e. around 95%)", fontsize=9)
    handles, labels = top_axes[0].get_legend_handles_labels()
    top_figure.legend(handles, labels, loc="outside upper center", ncol=2, fontsize=8)
    return fig


# ----------------------------------------------------------------------------------------------
# Glue for the chapter's counts
# ----------------------------------------------------------------------------------------------

def glue_design(design: fast.BalancedDesign) -> None:
    """Glue the counts the chapter quotes: worlds, estimators, dual-pilot and never-pilot cities,
    cohorts and their sizes, the stacked window, the world (c) multipliers, the synergy's delay
    and ramp (the panels per world come from the results: :func:`glue_summary`)."""
    glue_number("mc_worlds", len(WORLDS), "{:d}")
    glue_number("mc_estimators", len(fast.ESTIMATORS), "{:d}")
    glue_number("mc_dual_cities", int((~design.never).sum()), "{:d}")
    glue_number("mc_never_cities", int(design.never.sum()), "{:d}")
    glue_number("mc_cohorts", len(design.cohorts), "{:d}")
    glue_text("mc_cohort_list", ", ".join(f"{int(c)} ({int((design.cohort == c).sum())} cities)"
                                          for c in design.cohorts))
    glue_number("mc_first_year", int(design.periods[0]), "{:d}")
    glue_number("mc_last_year", int(design.periods[-1]), "{:d}")
    glue_number("mc_kappa_pre", KAPPA_PRE, "{:d}")
    glue_number("mc_kappa_post", KAPPA_POST, "{:d}")
    _, trimmed = fast.stacked_cohorts(design, KAPPA_PRE, KAPPA_POST)
    glue_text("mc_stacked_trimmed", ", ".join(str(a) for a in trimmed) or "none")
    glue_text("mc_cohort_multipliers", ", ".join(f"{year}: {value:g}" for year, value in COHORT_MULTIPLIERS.items()))
    dual = _BOOK_SPEC["effects"]["dual"]
    glue_number("mc_delay", dual["delay"], "{:d}")
    glue_number("mc_ramp", dual["ramp_years"], "{:d}")
    glue_number("mc_first_cohort", int(design.cohorts[0]), "{:d}")
    glue_number("mc_last_cohort", int(design.cohorts[-1]), "{:d}")
    glue_number("mc_stacked_span", KAPPA_POST + 1, "{:d}")


def glue_weights(weights: pd.DataFrame) -> None:
    """Glue what the chapter says about the weights: TWFE's weight on the first cohort in its
    dual-pilot year and in its last year, TWFE's smallest weight on a dual-pilot city-year, the
    first cohort's total TWFE weight and share of dual-pilot city-years, and the last cohort's
    TWFE weight over its share."""
    twfe = weights[(weights["estimator"] == "TWFE") & (weights["event_time"] >= 0)]
    first = twfe[twfe["cohort"] == twfe["cohort"].min()].sort_values("event_time")
    glue_number("mc_w_twfe_first", first["weight"].iloc[0])
    glue_number("mc_w_twfe_last", first["weight"].iloc[-1])
    glue_number("mc_w_twfe_min", twfe["weight"].min())
    cohorts = cohort_weights(weights, decimals=12)
    share = cohorts["share of dual city-years"]
    glue_number("mc_w_first_twfe", cohorts["TWFE"].iloc[0])
    glue_number("mc_w_first_share", share.iloc[0])
    glue_number("mc_w_last_ratio", cohorts["TWFE"].iloc[-1] / share.iloc[-1], "{:.1f}")


def verdicts(table: pd.DataFrame) -> dict:
    """The qualitative statements the chapter makes about :func:`summary`, computed: whether
    every bias in worlds (a)-(c) lies within two Monte Carlo standard errors of zero, the largest
    of them in size, the range of coverage in each world, the range of the biases in world (d)
    and the estimators with the largest and smallest bias there in size."""
    keys = {world.label: world.key for world in WORLDS.values()}
    key_of = table.index.get_level_values("world").map(keys)
    shared = table[key_of.isin(["a", "b", "c"])]
    outside = shared[shared["bias"].abs() > 2 * shared["bias MC s.e."]]
    names = list(dict.fromkeys(outside.index.get_level_values("estimator")))
    out = {"abc_bias_verdict": ("within two Monte Carlo standard errors of zero" if not names else
                                "within two Monte Carlo standard errors of zero except for " + _and(names)),
           "abc_max_bias": float(shared["bias"].abs().max()) if len(shared) else math.nan}
    deaths = round(100 * out["abc_max_bias"]) if len(shared) else math.nan
    out["abc_max_bias_deaths"] = (f"less than one death a year in a dual-pilot city" if deaths == 0 else
                                  f"about {deaths:.0f} death{'' if deaths == 1 else 's'} a year in a dual-pilot city")
    panels = table.attrs.get("panels", {})
    for key in ("a", "b", "c", "d"):
        rows = table[key_of == key]
        out[f"{key}_coverage_min"] = 100 * float(rows["coverage"].min()) if len(rows) else math.nan
        out[f"{key}_coverage_max"] = 100 * float(rows["coverage"].max()) if len(rows) else math.nan
        worlds = list(dict.fromkeys(rows.index.get_level_values("world")))
        if worlds and worlds[0] in panels:
            band = 1.96 * math.sqrt(0.95 * 0.05 / panels[worlds[0]])
            inside = bool(((rows["coverage"] - 0.95).abs() <= band).all())
            out[f"{key}_coverage_verdict"] = ("all inside" if inside else "not all inside")
    book = table[key_of == "d"]
    if len(book):
        out["d_bias_min"], out["d_bias_max"] = float(book["bias"].min()), float(book["bias"].max())
        size = book["bias"].abs().droplevel("world")
        out["d_bias_largest"], out["d_bias_smallest"] = size.idxmax(), size.idxmin()
    return out


def _and(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def glue_verdicts(table: pd.DataFrame) -> None:
    """Glue :func:`verdicts` as ``mc_<name>`` (coverage in percent, one decimal)."""
    for name, value in verdicts(table).items():
        if isinstance(value, str):
            glue_text(f"mc_{name}", value)
        else:
            glue_number(f"mc_{name}", value, "{:.1f}" if "coverage" in name else "{:.0f}" if name.endswith("deaths")
                        else "{:.3f}")


# ----------------------------------------------------------------------------------------------
# Exercises
# ----------------------------------------------------------------------------------------------

REVERSED_MULTIPLIERS = {2013: 0.25, 2015: 0.5, 2018: 1.0, 2022: 2.0}
"""Exercise: world (c) with the later cohorts gaining more."""

EXERCISE_WORLDS = {
    "delay": {**WORLDS["b"].overrides, "effects.dual.delay": 0},
    "single": {**WORLDS["b"].overrides, "effects.innovation_single": 0.0, "effects.smart_single": 0.0},
    "reverse": {**WORLDS["c"].overrides, "effects.dual_by_cohort": dict(REVERSED_MULTIPLIERS)},
}
"""The one-line changes of the chapter's exercises (overrides of the book's specification)."""

EXERCISE_PANELS = 10
"""Panels per world for the exercises' answers: they are about targets, which hardly vary across panels."""


def negative_twfe_weights(design: fast.BalancedDesign | None = None) -> pd.DataFrame:
    """TWFE's negative weights on dual-pilot city-years when the never-pilot cities are dropped:
    one row per (cohort, event time) with ``year`` and ``weight``."""
    design = design_of(groups=("dual",)) if design is None else design
    weights = estimator_weights(design, ["TWFE"])
    negative = weights[(weights["event_time"] >= 0) & (weights["weight"] < -1e-12)].copy()
    negative["year"] = negative["cohort"] + negative["event_time"]
    return negative[["cohort", "event_time", "year", "weight"]].reset_index(drop=True)


def exercise_answers(panels: int = EXERCISE_PANELS, n_jobs: int = 2) -> dict:
    """The numbers the exercises' solutions state, from ``panels`` panels of each world involved.

    ``delay_gap_before`` / ``delay_gap_after``: distance of the stacked DID's mean target from
    Callaway-Sant'Anna's in world (b) and with delay 0; ``delay_full``: the event time at which the
    synergy reaches its level with delay 0. ``single_gap_robust``: the largest distance of
    Callaway-Sant'Anna's, Sun-Abraham's and imputation's mean target from the mean ATT without
    single-pilot effects; ``single_gap_twfe`` / ``single_gap_stacked``: target - ATT of TWFE and
    stacked there. ``negative``: text listing TWFE's negative weights without never-pilot cities.
    ``reverse_*``: TWFE's and stacked's mean targets and the mean ATT in the reversed world (c);
    ``reverse_last_ratio``: TWFE's weight on the last cohort over its share of dual-pilot
    city-years.
    """
    b, c = WORLDS["b"], WORLDS["c"]
    worlds = {b.label: b.overrides, "delay": EXERCISE_WORLDS["delay"], "single": EXERCISE_WORLDS["single"],
              "reverse": EXERCISE_WORLDS["reverse"]}
    table = summary(monte_carlo(worlds, panels=panels, n_jobs=n_jobs))
    target, gap = table["target"], table["target - ATT"]
    out = {
        "panels": panels,
        "delay_gap_before": abs(target[(b.label, "stacked")] - target[(b.label, "Callaway-Sant'Anna")]),
        "delay_gap_after": abs(target[("delay", "stacked")] - target[("delay", "Callaway-Sant'Anna")]),
        "delay_full": load_spec(overrides=EXERCISE_WORLDS["delay"])["effects"]["dual"]["ramp_years"] - 1,
        "single_gap_robust": float(max(abs(gap[("single", label)]) for label in
                                       ("Callaway-Sant'Anna", "Sun-Abraham", "imputation"))),
        "single_gap_twfe": gap[("single", "TWFE")], "single_gap_stacked": gap[("single", "stacked")],
        "reverse_twfe": target[("reverse", "TWFE")], "reverse_stacked": target[("reverse", "stacked")],
        "reverse_att": table.loc[("reverse", "TWFE"), "ATT"],
    }
    cohorts = cohort_weights(estimator_weights(design_of()))
    out["reverse_last_ratio"] = float(cohorts["TWFE"].iloc[-1] / cohorts["share of dual city-years"].iloc[-1])
    negative = negative_twfe_weights()
    parts = [f"event times {_and([str(e) for e in rows['event_time']])} of the {cohort} cohort"
             for cohort, rows in negative.groupby("cohort")]
    out["negative"] = _and(parts) if parts else "none"
    out["negative_years"] = _and([str(year) for year in sorted(negative["year"].unique())]) if parts else "none"
    return out


def glue_exercises(panels: int = EXERCISE_PANELS, n_jobs: int = 2) -> dict:
    """Glue :func:`exercise_answers` as ``mc_ex_<name>``; returns the answers."""
    answers = exercise_answers(panels, n_jobs)
    for name, value in answers.items():
        if isinstance(value, str):
            glue_text(f"mc_ex_{name}", value)
        else:
            glue_number(f"mc_ex_{name}", value, "{:d}" if isinstance(value, int) else
                        "{:.1f}" if name.endswith("ratio") else "{:.3f}")
    return answers
