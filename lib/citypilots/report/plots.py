"""The house figure style and the book's standard figures.

One style for every figure (:func:`set_style`): readable in print and in greyscale, axis labels
with units. Figures that distinguish sourced from imputed pilot data do it by fill (solid =
sourced, hatched or hollow = imputed), never by colour alone.
"""

from __future__ import annotations

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.colors import ListedColormap
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from ..data.pilots import adoption_years, load_calendar, program_label

# Greyscale-safe palette (ordered light to dark when printed in grey).
PALETTE = {"none": "#d9d9d9", "single": "#74a9cf", "dual": "#08306b",
           "innovation": "#1b9e77", "smart": "#d95f02", "other": "#7570b3"}


def set_style() -> None:
    """Apply the house style to matplotlib (and seaborn, if installed)."""
    mpl.rcParams.update({
        "figure.dpi": 110, "savefig.dpi": 150, "figure.figsize": (7.5, 4.2),
        "font.size": 10, "axes.titlesize": 11, "axes.labelsize": 10,
        "axes.spines.top": False, "axes.spines.right": False,
        "axes.grid": True, "grid.color": "#e5e5e5", "grid.linewidth": 0.6,
        "legend.frameon": False, "hatch.linewidth": 0.8,
    })


def pilot_timeline(programs: list[str], first_year: int = 2008, last_year: int = 2023) -> plt.Figure:
    """New pilot prefecture cities per year and program; hatched bars are imputed rows."""
    set_style()
    fig, axes = plt.subplots(len(programs), 1, sharex=True, figsize=(7.5, 1.6 * len(programs) + 0.6))
    axes = np.atleast_1d(axes)
    years = np.arange(first_year, last_year + 1)
    for ax, program in zip(axes, programs):
        first = adoption_years(load_calendar(program))
        counts = first.groupby(["year", "imputed"]).size().unstack(fill_value=0).reindex(
            index=years, columns=[False, True], fill_value=0)
        ax.bar(years, counts[False], color="#4d4d4d", label="sourced year")
        ax.bar(years, counts[True], bottom=counts[False], color="white", edgecolor="#4d4d4d",
               hatch="////", label="imputed (see the completion rules)")
        for year, total in (counts[False] + counts[True]).items():
            if total:
                ax.text(year, total, str(int(total)), ha="center", va="bottom", fontsize=8)
        ax.set_ylabel("cities")
        ax.set_title(f"{program_label(program)}: {len(first)} pilot prefecture-level cities", loc="left")
        ax.set_ylim(0, max(1, (counts[False] + counts[True]).max()) * 1.3)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=2, fontsize=8)
    axes[-1].set_xticks(years, [str(y) for y in years], rotation=45)
    axes[-1].set_xlabel("year a city first became a pilot")
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    return fig


def pilot_map(cities: pd.DataFrame, innovation_years: pd.DataFrame, smart_years: pd.DataFrame,
              sample: pd.Series | None = None) -> plt.Figure:
    """Cities by pilot status at their seat coordinates; hollow markers: a pilot year is imputed.

    ``innovation_years`` and ``smart_years`` come from :func:`citypilots.data.pilots.adoption_years`.
    ``sample`` (optional) is a boolean Series by adcode: cities outside it are drawn as small dots.
    """
    set_style()
    table = cities.set_index("adcode")[["lon", "lat"]].copy()
    table["innovation"] = table.index.isin(innovation_years.index)
    table["smart"] = table.index.isin(smart_years.index)
    imputed = pd.Series(False, index=table.index)
    imputed |= innovation_years["imputed"].reindex(table.index, fill_value=False).astype(bool)
    imputed |= smart_years["imputed"].reindex(table.index, fill_value=False).astype(bool)
    group = np.where(table["innovation"] & table["smart"], "dual",
                     np.where(table["innovation"], "innovation", np.where(table["smart"], "smart", "none")))
    in_sample = sample.reindex(table.index, fill_value=False) if sample is not None else pd.Series(True, index=table.index)
    styles = {"none": ("o", PALETTE["none"], "no pilot"), "innovation": ("^", PALETTE["innovation"], "Innovative City only"),
              "smart": ("s", PALETTE["smart"], "Smart City only"), "dual": ("D", PALETTE["dual"], "both pilots")}
    fig, ax = plt.subplots(figsize=(7.5, 6.0))
    for key, (marker, colour, label) in styles.items():
        for is_imputed in (False, True):
            rows = (group == key) & (imputed.to_numpy() == is_imputed) & in_sample.to_numpy()
            if not rows.any():
                continue
            face = "white" if is_imputed and key != "none" else colour
            ax.scatter(table.loc[rows, "lon"], table.loc[rows, "lat"], s=34, marker=marker, facecolors=face,
                       edgecolors=colour if key != "none" else "#8c8c8c", linewidths=1.1,
                       label=f"{label}{' (a year imputed)' if is_imputed else ''}", zorder=3 if key != "none" else 2)
    if sample is not None:
        outside = ~in_sample
        ax.scatter(table.loc[outside, "lon"], table.loc[outside, "lat"], s=6, color="#bdbdbd",
                   label="not in the sample", zorder=1)
    ax.set_xlabel("longitude (degrees east)")
    ax.set_ylabel("latitude (degrees north)")
    ax.set_aspect(1 / np.cos(np.radians(32)))
    ax.legend(loc="lower left", fontsize=8, ncol=2)
    fig.tight_layout()
    return fig


def event_study_plot(results: dict, truth: pd.Series | None = None, reference: int | None = -1,
                     ylabel: str = "effect on Safety (hundreds of deaths)",
                     truth_label: str = "realised truth, relative to the reference year",
                     xlabel: str = "years since the treatment year (event time)") -> plt.Figure:
    """Event-study coefficients of one or more estimators, with 95% intervals, over the truth.

    ``results``: label -> :class:`citypilots.estimators.did.DidResult` whose table is indexed by
    event time (an overall ``"ATT"`` row, if any, is left out). Markers of different estimators
    are offset horizontally and differ in shape (greyscale-safe); a point without an interval
    (a reference period) is drawn hollow. A zero line, a dashed line at the reference period, one
    tick per event time, and ``truth`` (event time -> value) as a line when given.
    """
    set_style()
    fig, ax = plt.subplots(figsize=(7.5, 4.4))
    markers = ["o", "s", "^", "D", "v"]
    colours = ["#08306b", "#d95f02", "#1b9e77", "#7570b3", "#4d4d4d"]
    width = 0.6
    offsets = np.linspace(-width / 2, width / 2, len(results)) if len(results) > 1 else [0.0]
    event_times: set[int] = set()
    for (label, result), offset, marker, colour in zip(results.items(), offsets, markers, colours):
        table = result.table[[not isinstance(e, str) for e in result.table.index]]
        table = table.set_axis(np.asarray(table.index, dtype=float)).sort_index()
        event_times.update(int(e) for e in table.index)
        alone = table["ci_low"].isna().to_numpy()  # a reference period: drawn hollow, no interval
        shown = table[~alone]
        ax.errorbar(shown.index.to_numpy() + offset, shown["estimate"],
                    yerr=[shown["estimate"] - shown["ci_low"], shown["ci_high"] - shown["estimate"]],
                    fmt=marker, color=colour, ms=4.5, capsize=2, lw=1, label=label)
        if alone.any():
            ax.plot(table.index.to_numpy()[alone] + offset, table["estimate"].to_numpy()[alone], marker, ms=4.5,
                    mfc="white", mec=colour, ls="none")
    if truth is not None:
        ax.plot(truth.index, truth.to_numpy(), color="black", lw=1.6, ls="-", label=truth_label, zorder=1)
        event_times.update(int(e) for e in truth.index)
    if event_times:
        ticks = range(min(event_times), max(event_times) + 1)
        ax.set_xticks(list(ticks), [str(e) for e in ticks])
    ax.axhline(0, color="black", lw=0.8)
    if reference is not None:  # None: estimates that are not relative to a reference period
        ax.axvline(reference, color="#7f7f7f", lw=0.8, ls="--")
        ax.annotate("reference period", xy=(reference, ax.get_ylim()[1]), xytext=(3, -10),
                    textcoords="offset points", fontsize=8, color="#555555")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    return fig


def treatment_status(panel: pd.DataFrame, unit: str = "city", time: str = "year",
                     single: tuple[str, ...] = ("Innova_policy", "Smart_policy"),
                     dual: str = "Dual_policy", imputed: pd.DataFrame | None = None) -> plt.Figure:
    """Treatment status by unit and year (panelView style): none, one pilot, both pilots.

    Units are sorted by the year they got both pilots, then by the year of their first pilot.
    ``imputed`` (optional): one row per unit (indexed like ``panel[unit]``) and one boolean
    column per dummy of ``single``, True where that pilot's year comes from an imputed calendar
    row; every unit-year whose status rests on an imputed year is marked with a dot.
    """
    set_style()
    status = panel[list(single)].max(axis=1) + panel[dual]
    grid = pd.DataFrame({unit: panel[unit], time: panel[time], "status": status}).pivot(
        index=unit, columns=time, values="status")
    first_dual = grid.eq(2).idxmax(axis=1).where(grid.eq(2).any(axis=1), np.inf)
    first_any = grid.ge(1).idxmax(axis=1).where(grid.ge(1).any(axis=1), np.inf)
    order = pd.DataFrame({"dual": first_dual, "any": first_any}).sort_values(["dual", "any"]).index
    grid = grid.loc[order]
    fig, ax = plt.subplots(figsize=(7.5, 7.0))
    cmap = ListedColormap([PALETTE["none"], PALETTE["single"], PALETTE["dual"]])
    ax.imshow(grid.to_numpy(), aspect="auto", cmap=cmap, vmin=-0.5, vmax=2.5, interpolation="nearest")
    handles = [Patch(color=PALETTE["none"], label="no pilot"), Patch(color=PALETTE["single"], label="one pilot"),
               Patch(color=PALETTE["dual"], label="both pilots (Dual_policy = 1)")]
    if imputed is not None:
        rests_on_imputed = pd.Series(False, index=panel.index)
        for dummy in single:
            rests_on_imputed |= (panel[dummy] == 1) & panel[unit].map(imputed[dummy]).fillna(False).astype(bool)
        marks = pd.DataFrame({unit: panel[unit], time: panel[time], "mark": rests_on_imputed}).pivot(
            index=unit, columns=time, values="mark").loc[order]
        rows, columns = np.nonzero(marks.to_numpy(dtype=bool))
        ax.scatter(columns, rows, s=2.5, color="white", marker="o", linewidths=0)
        handles.append(Line2D([], [], ls="", marker="o", markersize=3, markerfacecolor="white",
                              markeredgecolor="#404040", label="rests on an imputed pilot year"))
    years = list(grid.columns)
    ax.set_xticks(range(len(years)), [str(y) for y in years], rotation=45)
    ax.set_yticks([])
    ax.set_ylabel(f"{len(grid)} cities (sorted by the year of the second pilot, then the first)")
    ax.set_xlabel("year")
    ax.grid(False)
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=2, fontsize=8)
    fig.tight_layout()
    return fig


def bacon_scatter(result, ylabel: str | None = None, label_weight: float = 0.05) -> plt.Figure:
    """Goodman-Bacon decomposition: each 2x2 DiD estimate against its weight in the TWFE estimate.

    ``result``: a :class:`citypilots.estimators.staggered.BaconResult`. The comparison types differ by marker
    shape and fill (greyscale-safe): filled circles treated vs never treated, filled triangles
    earlier vs later treated, hollow squares later vs earlier treated (already-treated units as
    controls). The dashed line is the TWFE estimate, the weighted mean of the points; comparisons
    with a weight of at least ``label_weight`` are labelled "treated vs control".
    """
    set_style()
    fig, ax = plt.subplots(figsize=(7.5, 4.4))
    styles = {"treated vs never treated": dict(marker="o", color=PALETTE["dual"], facecolor=PALETTE["dual"]),
              "earlier vs later treated": dict(marker="^", color="#525252", facecolor="#969696"),
              "later vs earlier treated": dict(marker="s", color="black", facecolor="white")}
    table = result.table
    for kind, style in styles.items():
        rows = table[table["type"] == kind]
        if rows.empty:
            continue
        ax.scatter(rows["weight"], rows["estimate"], s=42, marker=style["marker"], edgecolors=style["color"],
                   facecolors=style["facecolor"], linewidths=1.1, zorder=3,
                   label=f"{kind} ({len(rows)}, total weight {rows['weight'].sum():.2f})")
    for row in table.itertuples(index=False):
        if row.weight >= label_weight:
            ax.annotate(f"{row.treated} vs {row.control}", xy=(row.weight, row.estimate), xytext=(4, 4),
                        textcoords="offset points", fontsize=7, color="#404040")
    ax.axhline(result.twfe, color="black", lw=1.0, ls="--", label=f"TWFE estimate = {result.twfe:.3f} (weighted mean)")
    ax.axhline(0, color="#7f7f7f", lw=0.8)
    right = max(table["weight"].max(), 0.01) * 1.3
    ax.set_xlim(-0.03 * right, right)  # comparisons with almost no weight stay visible at the left edge
    ax.set_xlabel("weight in the TWFE estimate (share of 1)")
    ax.set_ylabel(ylabel or f"2x2 DiD estimate (units of {result.outcome})")
    ax.set_title(f"Goodman-Bacon decomposition of the TWFE estimate ({len(table)} comparisons)", loc="left")
    ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    return fig


def marginal_effect_plot(effects: pd.DataFrame, moderator_values: np.ndarray | pd.Series | None = None,
                         truth: pd.Series | None = None, xlabel: str = "moderator",
                         ylabel: str = "effect on the outcome",
                         truth_label: str = "planted (realised)", binned: pd.DataFrame | None = None,
                         histogram_label: str = "observations") -> plt.Figure:
    """The effect of a treatment across a moderator's values, with its confidence band.

    ``effects``: indexed by moderator value, columns ``estimate``, ``ci_low``, ``ci_high`` (e.g.
    :func:`citypilots.estimators.mechanism.marginal_effects`). ``moderator_values``: the moderator's values
    that identify the effect (e.g. the treated observations'), drawn as a histogram under the curve
    so the reader sees where the data are; ``histogram_label`` names them on its axis.
    ``binned``: estimates in bins of the moderator (:func:`citypilots.estimators.mechanism.binned_marginal_effects`:
    ``at``, ``estimate``, ``ci_low``, ``ci_high``), drawn as points with 95% intervals beside the
    line (Hainmueller, Mummolo and Xu 2019). ``truth``: a line (moderator value -> effect), dashed.
    Greyscale-safe: the band is grey, the estimate a solid line, the bins black squares, the truth dashed.
    """
    set_style()
    if moderator_values is not None:
        fig, (ax, ax_hist) = plt.subplots(2, 1, sharex=True, figsize=(7.5, 5.0),
                                          gridspec_kw={"height_ratios": [3.2, 1]})
    else:
        fig, ax = plt.subplots(figsize=(7.5, 4.2))
    z = np.asarray(effects.index, dtype=float)
    ax.fill_between(z, effects["ci_low"], effects["ci_high"], color="#bdbdbd", alpha=0.7, lw=0,
                    label="95% confidence band (linear interaction)")
    ax.plot(z, effects["estimate"], color=PALETTE["dual"], lw=1.8, label="linear interaction")
    if binned is not None:
        at = binned["at"].to_numpy(dtype=float)
        ax.errorbar(at, binned["estimate"], yerr=[binned["estimate"] - binned["ci_low"],
                                                  binned["ci_high"] - binned["estimate"]],
                    fmt="s", color="black", ms=6, capsize=4, lw=1.3, zorder=4,
                    label="binned estimate at the bin's median, 95% interval")
    if truth is not None:
        ax.plot(np.asarray(truth.index, dtype=float), truth.to_numpy(), color="black", lw=1.4, ls="--",
                label=truth_label)
    ax.axhline(0, color="black", lw=0.8)
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=8, loc="best")
    if moderator_values is not None:
        values = np.asarray(moderator_values, dtype=float)
        ax_hist.hist(values, bins=40, range=(min(values.min(), z.min()), max(values.max(), z.max())),
                     color="#737373")
        if binned is not None:
            for edge in np.asarray(binned["high"], dtype=float)[:-1]:
                ax_hist.axvline(edge, color="black", lw=0.8, ls=":")
        ax_hist.set_ylabel(histogram_label)
        ax_hist.set_xlabel(xlabel)
    else:
        ax.set_xlabel(xlabel)
    fig.tight_layout()
    return fig


def sensitivity_plot(table: pd.DataFrame, truth: float | None = None, xlabel: str = "parameter",
                     ylabel: str = "estimate", truth_label: str = "planted value",
                     reference: float | None = None) -> plt.Figure:
    """An estimate with its interval as one parameter of the data changes (a sensitivity curve).

    ``table``: indexed by the parameter, columns ``estimate``, ``ci_low``, ``ci_high``. ``truth``:
    the value the estimate should recover at every parameter value (a dashed horizontal line).
    ``reference``: a parameter value to mark with a dotted vertical line (e.g. the unconfounded data).
    """
    set_style()
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    x = np.asarray(table.index, dtype=float)
    ax.errorbar(x, table["estimate"], yerr=[table["estimate"] - table["ci_low"], table["ci_high"] - table["estimate"]],
                fmt="o-", color=PALETTE["dual"], ms=5, capsize=3, lw=1.2, label="estimate, 95% interval")
    if truth is not None:
        ax.axhline(truth, color="black", lw=1.4, ls="--", label=truth_label)
    if reference is not None:
        ax.axvline(reference, color="#7f7f7f", lw=0.8, ls=":")
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    return fig


def group_coefficient_plot(estimates: dict, points: dict | None = None,
                           xlabel: str = "effect on the outcome", aligned: dict | None = None) -> plt.Figure:
    """Coefficients of several splits of the sample, one row per group, grouped by split.

    ``estimates``: label -> frame indexed by (split, group) with ``estimate``, ``ci_low`` and
    ``ci_high``: drawn as markers with 95% intervals, offset vertically and differing in shape.
    ``points``: label -> Series indexed by (split, group), drawn as markers without intervals
    (e.g. a paper's printed numbers, planted values); rows missing from a series are skipped.
    ``aligned``: point label -> estimate label (or a tuple of them), to draw those points on that
    estimator's line (e.g. each estimator's realised target); other points sit on the group's
    centre line.
    Splits are separated by lines and named on the left; a vertical line marks zero.
    """
    set_style()
    points = points or {}
    rows = list(dict.fromkeys(key for frame in estimates.values() for key in frame.index))
    for series in points.values():
        rows += [key for key in series.index if key not in rows]
    splits = list(dict.fromkeys(split for split, _ in rows))
    rows = [row for split in splits for row in rows if row[0] == split]
    position, ticks, tick_labels, headers = {}, [], [], []
    level = 0.0
    for split in splits:
        headers.append(level)
        ticks.append(level)
        tick_labels.append(str(split))
        level -= 1
        for row in rows:
            if row[0] == split:
                position[row] = level
                ticks.append(level)
                tick_labels.append(str(row[1]))
                level -= 1
    height = 0.42 * len(ticks) + 2.0
    fig, ax = plt.subplots(figsize=(7.5, height))
    markers, colours = ["o", "s", "^", "v"], [PALETTE["dual"], "#d95f02", "#1b9e77", "#4d4d4d"]
    width = 0.36
    offsets = np.linspace(width / 2, -width / 2, len(estimates)) if len(estimates) > 1 else [0.0]
    offset_of = dict(zip(estimates, offsets))
    for (label, frame), offset, marker, colour in zip(estimates.items(), offsets, markers, colours):
        frame = frame.dropna(subset=["estimate"])
        y = np.array([position[row] for row in frame.index]) + offset
        ax.errorbar(frame["estimate"], y, xerr=[frame["estimate"] - frame["ci_low"], frame["ci_high"] - frame["estimate"]],
                    fmt=marker, color=colour, ms=5, capsize=2, lw=1, label=label)
    point_styles = [dict(marker="D", facecolors="white", edgecolors="black", s=30),
                    dict(marker="x", color="black", s=40), dict(marker="+", color="black", s=60),
                    dict(marker="|", color="black", s=80)]
    for (label, series), style in zip(points.items(), point_styles):
        series = series.dropna()
        targets = (aligned or {}).get(label)
        targets = [targets] if targets is None or isinstance(targets, str) else list(targets)
        for k, target in enumerate(targets):
            shift = offset_of.get(target, 0.0)
            ax.scatter(series.to_numpy(dtype=float), [position[row] + shift for row in series.index], zorder=4,
                       lw=1.2, label=label if k == 0 else None, **style)
    for header in headers[1:]:
        ax.axhline(header + 0.5, color="#bdbdbd", lw=0.8)
    ax.axvline(0, color="black", lw=0.8)
    ax.set_yticks(ticks, tick_labels)
    for tick, value in zip(ax.get_yticklabels(), ticks):
        if value in headers:
            tick.set_fontweight("bold")
    ax.tick_params(axis="y", length=0)
    ax.set_ylim(level + 0.5, 0.5)
    ax.set_xlabel(xlabel)
    ax.grid(axis="y", visible=False)
    n_entries = len(estimates) + len(points)
    fig.legend(*ax.get_legend_handles_labels(), loc="lower center", ncol=2, fontsize=8)
    fig.tight_layout(rect=(0, (0.1 + 0.2 * ((n_entries + 1) // 2)) / height, 1, 1))
    return fig


def distance_band_plot(sweep: pd.DataFrame, planted: pd.DataFrame | None = None,
                       boundaries_km: tuple[float, ...] = (), level: float = 0.90,
                       ylabel: str = "spillover: indirect effect (hundreds of deaths)",
                       estimate_label: str = "this book: band estimate") -> plt.Figure:
    """Spillover estimates by distance band with intervals, over the planted spillover.

    ``sweep``: a :func:`citypilots.estimators.spatial.distance_band_sweep` table (``low_km``, ``high_km``,
    ``indirect``, ``ci_low``, ``ci_high``, optionally ``target_indirect``); each estimate is drawn
    at its band's midpoint with its ``level`` interval. ``planted`` (optional): a
    :func:`citypilots.estimators.spatial.planted_band_curve` table, drawn as a solid step line; the sweep's
    ``target_indirect`` (the planted spillover projected on each band's design) as a dashed line.
    ``boundaries_km``: vertical dotted lines (e.g. a paper's reported boundaries).
    """
    set_style()
    fig, ax = plt.subplots(figsize=(7.5, 4.4))
    middle = (sweep["low_km"] + sweep["high_km"]) / 2
    ax.errorbar(middle, sweep["indirect"], yerr=[sweep["indirect"] - sweep["ci_low"], sweep["ci_high"] - sweep["indirect"]],
                fmt="o", color=PALETTE["dual"], ms=4.5, capsize=2, lw=1, zorder=3,
                label=f"{estimate_label} ({level:.0%} interval)")
    if planted is not None:
        edges = np.r_[planted["low_km"].to_numpy(), planted["high_km"].to_numpy()[-1]]
        values = np.r_[planted["planted_indirect"].to_numpy(), planted["planted_indirect"].to_numpy()[-1]]
        ax.step(edges, values, where="post", color="black", lw=1.6,
                label="planted: effect per dual city × mean cities in the band")
    if "target_indirect" in sweep:
        ax.plot(middle, sweep["target_indirect"], color="#4d4d4d", lw=1.2, ls="--", marker="x", ms=4,
                label="planted spillover projected on each band's regressor")
    for boundary in boundaries_km:
        ax.axvline(boundary, color="#7f7f7f", lw=0.9, ls=":")
    if boundaries_km:
        ax.annotate("paper's boundaries", xy=(boundaries_km[0], ax.get_ylim()[1]), xytext=(3, -10),
                    textcoords="offset points", fontsize=8, color="#555555")
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xlim(0, float(sweep["high_km"].max()))
    ax.set_xlabel("distance band (km from a city, 100 km bands, drawn at their midpoints)")
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig


def distance_rings_map(cities: pd.DataFrame, centre, radii_km=(800, 1400), faint_step_km: float = 100,
                       faint_last_km: float = 2500, unit: str = "adcode", label: str | None = None,
                       imputed: pd.Series | None = None) -> plt.Figure:
    """City seats by pilot group, with great-circle distance rings around one city.

    ``cities``: one row per city with ``unit``, ``lon``, ``lat`` and ``group`` (dual / single /
    none). ``centre``: the ``unit`` of the city at the centre. Bold dashed rings at ``radii_km``;
    faint rings every ``faint_step_km`` up to ``faint_last_km`` (the sweep's bands). ``imputed``
    (optional, boolean by ``unit``): pilot cities whose status rests on an imputed calendar year
    are drawn hollow. Markers differ in shape and fill (greyscale-safe); no coastline is drawn.
    """
    set_style()
    table = cities.set_index(unit)
    lon0, lat0 = float(table.at[centre, "lon"]), float(table.at[centre, "lat"])
    fig, ax = plt.subplots(figsize=(7.5, 6.6))
    bearings = np.radians(np.linspace(0, 360, 361))

    def ring(radius_km: float):
        angle = radius_km / 6371.0
        lat1, lon1 = np.radians(lat0), np.radians(lon0)
        lat2 = np.arcsin(np.sin(lat1) * np.cos(angle) + np.cos(lat1) * np.sin(angle) * np.cos(bearings))
        lon2 = lon1 + np.arctan2(np.sin(bearings) * np.sin(angle) * np.cos(lat1),
                                 np.cos(angle) - np.sin(lat1) * np.sin(lat2))
        return np.degrees(lon2), np.degrees(lat2)

    for radius in np.arange(faint_step_km, faint_last_km + 1, faint_step_km):
        ax.plot(*ring(radius), color="#d9d9d9", lw=0.5, zorder=1)
    for radius in radii_km:
        lon_ring, lat_ring = ring(radius)
        ax.plot(lon_ring, lat_ring, color="black", lw=1.2, ls="--", zorder=2)
        ax.annotate(f"{radius:,.0f} km", xy=(lon_ring[0], lat_ring[0]), xytext=(3, 2), textcoords="offset points",
                    fontsize=8)
    hollow = (imputed.reindex(table.index, fill_value=False).astype(bool) if imputed is not None
              else pd.Series(False, index=table.index))
    styles = {"none": ("o", PALETTE["none"], "#8c8c8c", "no pilot"), "single": ("^", "#737373", "#404040", "one pilot"),
              "dual": ("D", PALETTE["dual"], PALETTE["dual"], "both pilots (dual)")}
    for group, (marker, face, edge, text) in styles.items():
        for is_hollow in (False, True):
            rows = (table["group"] == group) & (hollow == is_hollow if group != "none" else not is_hollow)
            if not rows.any():
                continue
            note = ", a pilot year imputed" if is_hollow else ""
            ax.scatter(table.loc[rows, "lon"], table.loc[rows, "lat"], s=26, marker=marker,
                       facecolors="white" if is_hollow else face, edgecolors=edge, linewidths=0.9, zorder=3,
                       label=f"{text}{note} ({int(rows.sum())})")
    ax.scatter([lon0], [lat0], s=160, marker="*", color="black", zorder=4,
               label=label or f"centre: {centre}")
    ax.set_xlim(table["lon"].min() - 3, table["lon"].max() + 3)
    ax.set_ylim(table["lat"].min() - 3, table["lat"].max() + 3)
    ax.set_xlabel("longitude (degrees east)")
    ax.set_ylabel("latitude (degrees north)")
    ax.set_aspect(1 / np.cos(np.radians(lat0)))
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=2, fontsize=8)
    fig.tight_layout()
    return fig


def placebo_distribution_plot(result, xlabel: str = "placebo coefficient (hundreds of deaths)",
                              significance: float = 0.1) -> plt.Figure:
    """A permutation placebo (the paper's Figure 3): placebo coefficients and their p-values.

    ``result``: a :class:`citypilots.estimators.placebo.PlaceboResult`. Grey bars: the distribution of the
    placebo coefficients (left axis, density); hollow circles: each draw's conventional p-value
    (right axis) with a dotted line at ``significance``; the dashed line marks the real estimate.
    """
    set_style()
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    draws = result.draws.dropna(subset=["estimate"])
    real = result.real.estimate()
    low, high = min(draws["estimate"].min(), real), max(draws["estimate"].max(), real)
    pad = 0.05 * (high - low)
    bins = np.linspace(low - pad, high + pad, 60)
    ax.hist(draws["estimate"], bins=bins, density=True, color="#bdbdbd", edgecolor="#969696", lw=0.4,
            label=f"placebo coefficients ({len(draws):,} draws)")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("density of placebo coefficients")
    right = ax.twinx()
    right.scatter(draws["estimate"], draws["p_value"], s=9, facecolors="none", edgecolors="#08306b", lw=0.5,
                  label="p-value of each placebo draw (right axis)")
    right.axhline(significance, color="#08306b", lw=0.8, ls=":", label=f"p = {significance:g}")
    right.set_ylim(0, 1.02)
    right.set_ylabel("p-value (clustered by city)")
    right.grid(False)
    right.spines["right"].set_visible(True)
    ax.axvline(real, color="black", lw=1.2, ls="--", label=f"real estimate {real:.3f}")
    ax.axvline(0, color="#7f7f7f", lw=0.6)
    handles = ax.get_legend_handles_labels()[0] + right.get_legend_handles_labels()[0]
    labels = ax.get_legend_handles_labels()[1] + right.get_legend_handles_labels()[1]
    ax.legend(handles, labels, fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2)
    fig.tight_layout()
    return fig


def pretrend_sensitivity_plot(sensitivity, ylabel: str = "effect on Safety (hundreds of deaths)",
                              xlabel: str | None = None, truth: float | None = None) -> plt.Figure:
    """The Rambachan-Roth sensitivity plot: robust confidence intervals against the bound M.

    ``sensitivity``: a :class:`citypilots.estimators.pretrends.PretrendSensitivity`. The left-most bar is the
    conventional interval (parallel trends exact); the others are the robust intervals for each M
    of the grid. The dotted vertical line is the breakdown value, where the interval first
    includes zero; ``truth`` (optional) is drawn as a horizontal line.
    """
    set_style()
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    table = sensitivity.table
    values = table.index.to_numpy(dtype=float)
    step = np.diff(values).min() if len(values) > 1 else 1.0
    original_x = values.min() - 1.5 * step
    original = sensitivity.original
    ax.errorbar([original_x], [original["estimate"]],
                yerr=[[original["estimate"] - original["ci_low"]], [original["ci_high"] - original["estimate"]]],
                fmt="s", color="black", ms=5, capsize=3, lw=1.2, label="conventional interval (parallel trends)")
    middle = (table["ci_low"] + table["ci_high"]) / 2
    ax.errorbar(values, middle, yerr=[middle - table["ci_low"], table["ci_high"] - middle], fmt="none",
                color=PALETTE["dual"], capsize=3, lw=1.4, label=f"robust interval ({sensitivity.extra['ci_method']})")
    ax.axhline(0, color="black", lw=0.8)
    if truth is not None:
        ax.axhline(truth, color="#555555", lw=1.0, ls="-.", label=f"planted truth {truth:.3f}")
    if sensitivity.breakdown is not None:
        ax.axvline(sensitivity.breakdown, color="#555555", lw=1.0, ls=":",
                   label=f"breakdown value {sensitivity.breakdown:.3g}")
    symbol = "M" if sensitivity.method == "smoothness" else "Mbar"
    ticks = [original_x, *values]
    ax.set_xticks(ticks, ["original", *[f"{v:.3g}" for v in values]], rotation=45)
    ax.set_xlabel(xlabel or (f"{symbol}: largest change in the slope of the trend violation per year "
                             "(hundreds of deaths)" if symbol == "M" else
                             f"{symbol}: post-period change as a multiple of the largest pre-period change"))
    ax.set_ylabel(ylabel)
    ax.set_title(f"{int(round(100 * (1 - sensitivity.alpha)))}% intervals for the {sensitivity.target}",
                 loc="left", fontsize=10)
    fig.set_figheight(5.0)
    fig.legend(*ax.get_legend_handles_labels(), fontsize=8, loc="lower center", ncol=2)
    fig.tight_layout(rect=(0, 0.75 / fig.get_figheight(), 1, 1))
    return fig


def covariate_balance_plot(balance: pd.DataFrame, threshold: float = 10.0) -> plt.Figure:
    """Standardised differences before and after matching (a "love plot").

    ``balance``: a :func:`citypilots.estimators.matching.balance_table`. Hollow circles: before matching;
    filled squares: after; dotted lines at +/- ``threshold`` percent.
    """
    set_style()
    rows = list(balance.index)
    fig, ax = plt.subplots(figsize=(7.5, 0.45 * len(rows) + 1.6))
    y = np.arange(len(rows))
    ax.scatter(balance[("Before matching", "std. diff. (%)")], y, s=40, facecolors="white", edgecolors="black",
               lw=1.1, label="before matching", zorder=3)
    ax.scatter(balance[("After matching", "std. diff. (%)")], y, s=36, marker="s", color=PALETTE["dual"],
               label="after matching", zorder=3)
    for position in (-threshold, threshold):
        ax.axvline(position, color="#7f7f7f", lw=0.8, ls=":")
    ax.axvline(0, color="black", lw=0.8)
    ax.set_yticks(y, rows)
    ax.set_ylim(len(rows) - 0.5, -0.5)
    ax.set_xlabel("standardised difference, treated minus control (% of the pooled SD before matching)")
    fig.legend(*ax.get_legend_handles_labels(), fontsize=8, loc="lower center", ncol=2)
    fig.tight_layout(rect=(0, 0.5 / fig.get_figheight(), 1, 1))
    return fig


def _legend_entries(axes) -> tuple[list, list]:
    """The distinct legend entries of several panels, in order (for one legend under a figure)."""
    handles, names = [], []
    for ax in axes:
        for handle, name in zip(*ax.get_legend_handles_labels()):
            if name not in names:
                handles.append(handle)
                names.append(name)
    return handles, names


def mediator_event_study_plot(results: dict, truths: dict | None = None, labels: dict | None = None,
                              reference: int = -1, truth_label: str = "realised shift of the mediator") -> plt.Figure:
    """Event studies of several variables on one treatment, one panel each, side by side.

    ``results``: variable -> :class:`citypilots.estimators.did.DidResult` of
    :func:`citypilots.estimators.did.event_study` (indexed by event time). ``truths``: variable ->
    realised path (event time -> value), drawn as a line where given. ``labels``: variable -> the
    panel's y-axis label (with units). Each panel has a zero line, the reference period marked by
    a dashed line, and integer ticks.
    """
    set_style()
    truths, labels = truths or {}, labels or {}
    fig, axes = plt.subplots(1, len(results), figsize=(3.0 * len(results) + 1.0, 3.6), squeeze=False)
    for ax, (variable, result) in zip(axes[0], results.items()):
        table = result.table.sort_index()
        event_time = np.asarray(table.index, dtype=int)
        ax.errorbar(event_time, table["estimate"], yerr=[table["estimate"] - table["ci_low"],
                                                         table["ci_high"] - table["estimate"]],
                    fmt="o", color=PALETTE["dual"], ms=4, capsize=2, lw=1, label="estimate, 95% interval")
        if variable in truths and truths[variable] is not None:
            path = truths[variable]
            ax.plot(path.index, path.to_numpy(), color="black", lw=1.4, ls="--", drawstyle="steps-mid",
                    label=truth_label)
        ax.axhline(0, color="black", lw=0.8)
        ax.axvline(reference, color="#7f7f7f", lw=0.8, ls="--", label="reference year")
        ax.set_xticks(event_time[::2] if len(event_time) > 8 else event_time)
        ax.set_title(variable, loc="left")
        ax.set_xlabel("years since the dual-pilot year")
        ax.set_ylabel(labels.get(variable, variable))
        ax.ticklabel_format(axis="y", style="plain", useOffset=False)
    handles, names = _legend_entries(axes[0])
    fig.legend(handles, names, fontsize=8, loc="lower center", ncol=len(names))
    fig.tight_layout(rect=(0, 0.09, 1, 1))
    return fig


def mediation_sensitivity_plot(curves: dict, truths: dict | None = None, realised_rho: dict | None = None,
                               ylabel: str = "indirect effect a x b\n(hundreds of deaths)",
                               truth_label: str = "realised mediated effect") -> plt.Figure:
    """Imai-Keele-Yamamoto sensitivity curves: the indirect effect against the correlation rho of
    the errors of the mediator and outcome equations, one panel per channel.

    ``curves``: channel -> :class:`citypilots.estimators.mechanism.MediationSensitivity` (its table's
    ``indirect`` and, if bootstrapped, ``ci_low``/``ci_high``). ``truths``: channel -> a value drawn
    as a dashed horizontal line; ``realised_rho``: channel -> a rho marked by a dotted vertical
    line. The breakdown point (indirect effect zero) is marked with a hollow circle; rho = 0 (the
    stepwise design's assumption) with a filled one.
    """
    set_style()
    truths, realised_rho = truths or {}, realised_rho or {}
    fig, axes = plt.subplots(1, len(curves), figsize=(3.6 * len(curves) + 0.6, 3.8), squeeze=False)
    for ax, (channel, curve) in zip(axes[0], curves.items()):
        table = curve.table
        rho = np.asarray(table.index, dtype=float)
        if "ci_low" in table:
            ax.fill_between(rho, table["ci_low"], table["ci_high"], color="#bdbdbd", alpha=0.7, lw=0,
                            label="95% bootstrap band")
        ax.plot(rho, table["indirect"], color=PALETTE["dual"], lw=1.8, label="indirect effect at rho")
        ax.plot([0.0], [curve.indirect_at(0.0)], "o", color=PALETTE["dual"], ms=6,
                label="rho = 0: the stepwise a x b")
        ax.plot([curve.breakdown_rho], [0.0], "o", mfc="white", mec="black", ms=7,
                label="breakdown: indirect effect zero")
        if truths.get(channel) is not None:
            ax.axhline(truths[channel], color="black", lw=1.3, ls="--", label=truth_label)
        if realised_rho.get(channel) is not None:
            ax.axvline(realised_rho[channel], color="#555555", lw=1.0, ls=":",
                       label="error correlation in the simulation")
        ax.axhline(0, color="black", lw=0.8)
        ax.set_title(f"{channel} channel", loc="left")
        ax.set_xlabel("rho: correlation of the two equations' errors")
        ax.set_ylabel(ylabel)
    handles, names = _legend_entries(axes[0])
    fig.legend(handles, names, fontsize=8, loc="lower center", ncol=3)
    fig.tight_layout(rect=(0, 0.16, 1, 1))
    return fig


def _sweep_axis(ax, sweep: pd.DataFrame, reading: str, boundaries_km, zones, level: float) -> None:
    """One panel of :func:`distance_sweep_grid`."""
    x = sweep["high_km"] if reading == "cumulative" else (sweep["low_km"] + sweep["high_km"]) / 2
    for low, high, effect in zones:
        ax.axvspan(low, high, facecolor="#ececec" if effect < 0 else "white", hatch=None if effect < 0 else "///",
                   edgecolor="#c8c8c8", lw=0, zorder=0)
    ax.errorbar(x, sweep["indirect"], yerr=[sweep["indirect"] - sweep["ci_low"], sweep["ci_high"] - sweep["indirect"]],
                fmt="o", color=PALETTE["dual"], ms=3.5, capsize=1.5, lw=0.9, zorder=3,
                label=f"estimate ({level:.0%} interval)")
    if "target_indirect" in sweep:
        ax.plot(x, sweep["target_indirect"], color="#4d4d4d", lw=1.2, ls="--", zorder=2,
                label="realised spillover, projected on the design")
    for boundary in boundaries_km:
        ax.axvline(boundary, color="#7f7f7f", lw=0.9, ls=":", zorder=1)
    ax.axhline(0, color="black", lw=0.8, zorder=1)
    ax.set_xlim(0, float(sweep["high_km"].max()) + 50)


def distance_sweep_grid(sweeps: dict, boundaries_km: tuple[float, ...] = (), zones: list | None = None,
                        level: float = 0.90,
                        ylabel: str = "indirect effect\n(hundreds of deaths)") -> plt.Figure:
    """Distance-band sweeps in a grid: rows are panels, columns the annular and cumulative readings.

    ``sweeps``: ``{(panel, reading): sweep}`` with ``reading`` "annular" (each estimate at its
    band's midpoint) or "cumulative" (at its threshold), each a
    :func:`citypilots.estimators.spatial.distance_band_sweep` table; its ``target_indirect``, where
    present, is drawn as a dashed line. ``zones``: ``[(low, high, effect), ...]`` shaded in the
    first row (grey where the effect is negative, hatched where positive), e.g. the bands of a
    planted spillover. ``boundaries_km``: dotted vertical lines. All panels share the y axis.
    """
    set_style()
    panels = list(dict.fromkeys(panel for panel, _ in sweeps))
    readings = list(dict.fromkeys(reading for _, reading in sweeps))
    fig, axes = plt.subplots(len(panels), len(readings), figsize=(7.8, 2.7 * len(panels) + 0.9), sharey=True,
                             squeeze=False)
    titles = {"annular": "annular bands [d - 100, d) km", "cumulative": "cumulative thresholds [0, d) km"}
    xlabels = {"annular": "band (km; drawn at its midpoint)", "cumulative": "threshold d (km)"}
    for row, panel in enumerate(panels):
        for column, reading in enumerate(readings):
            ax = axes[row, column]
            _sweep_axis(ax, sweeps[(panel, reading)], reading, boundaries_km, (zones or []) if row == 0 else [], level)
            if row == 0:
                ax.set_title(titles.get(reading, reading))
            if row == len(panels) - 1:
                ax.set_xlabel(xlabels.get(reading, "distance (km)"))
            if column == 0:
                ax.set_ylabel(f"{panel}\n{ylabel}")
    handles, labels = {}, {}
    for ax in axes.ravel():
        for handle, label in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(label, handle)
    if zones:
        handles["planted: spillover lowers deaths"] = Patch(facecolor="#ececec", edgecolor="#c8c8c8")
        handles["planted: spillover raises deaths"] = Patch(facecolor="white", edgecolor="#c8c8c8", hatch="///")
    if boundaries_km:
        handles["the paper's boundaries"] = plt.Line2D([], [], color="#7f7f7f", lw=0.9, ls=":")
    fig.legend(list(handles.values()), list(handles), loc="lower center", ncol=2, fontsize=8)
    rows_of_legend = (len(handles) + 1) // 2
    fig.tight_layout(rect=(0, (0.15 + 0.17 * rows_of_legend) / fig.get_figheight(), 1, 1))
    return fig


def threshold_lr_plot(result, design: float | None = None, xlabel: str = "threshold variable") -> plt.Figure:
    """Hansen's likelihood-ratio statistic LR(gamma) of the first threshold over its search grid
    (:func:`citypilots.threshold.panel_threshold`), with the critical value c(alpha) (the interval
    is where the curve is below it), the estimate (solid vertical line) and, where given, the
    design's threshold of a simulated panel (dashed)."""
    set_style()
    curve = result.lr_curve[result.lr_curve["threshold"] == 1]
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    ax.plot(curve["gamma"], curve["lr"], color=PALETTE["dual"], lw=1.2, label="LR(gamma)")
    level = result.extra["critical_value"]
    ax.axhline(level, color="#7f7f7f", lw=1.0, ls=":", label=f"critical value ({1 - result.alpha:.0%})")
    ax.axvline(result.thresholds[0], color="black", lw=1.0, label="estimated threshold")
    if design is not None:
        ax.axvline(design, color=PALETTE["smart"], lw=1.4, ls="--", label="design's threshold")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("likelihood-ratio statistic")
    ax.legend(fontsize=8, loc="center left")
    fig.tight_layout()
    return fig
