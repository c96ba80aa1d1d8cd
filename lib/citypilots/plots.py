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
from matplotlib.patches import Patch

from .pilots import adoption_years, load_calendar, program_label

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

    ``innovation_years`` and ``smart_years`` come from :func:`citypilots.pilots.adoption_years`.
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


def event_study_plot(results: dict, truth: pd.Series | None = None, reference: int = -1,
                     ylabel: str = "effect on Safety (hundreds of deaths)",
                     truth_label: str = "planted truth (realised, relative to the reference year)") -> plt.Figure:
    """Event-study coefficients of one or more estimators, with 95% intervals, over the truth.

    ``results``: label -> :class:`citypilots.did.DidResult` whose table is indexed by event time.
    Markers of different estimators are offset horizontally and differ in shape (greyscale-safe).
    A zero line, a dashed line at the reference period, and ``truth`` (event time -> value) as a
    line when given.
    """
    set_style()
    fig, ax = plt.subplots(figsize=(7.5, 4.4))
    markers = ["o", "s", "^", "D", "v"]
    colours = ["#08306b", "#d95f02", "#1b9e77", "#7570b3", "#4d4d4d"]
    width = 0.6
    offsets = np.linspace(-width / 2, width / 2, len(results)) if len(results) > 1 else [0.0]
    for (label, result), offset, marker, colour in zip(results.items(), offsets, markers, colours):
        table = result.table.sort_index()
        event_time = np.asarray(table.index, dtype=float) + offset
        lower = table["estimate"] - table["ci_low"]
        upper = table["ci_high"] - table["estimate"]
        ax.errorbar(event_time, table["estimate"], yerr=[lower, upper], fmt=marker, color=colour,
                    ms=4.5, capsize=2, lw=1, label=label)
    if truth is not None:
        ax.plot(truth.index, truth.to_numpy(), color="black", lw=1.6, ls="-", label=truth_label, zorder=1)
    ax.axhline(0, color="black", lw=0.8)
    ax.axvline(reference, color="#7f7f7f", lw=0.8, ls="--")
    ax.annotate("reference period", xy=(reference, ax.get_ylim()[1]), xytext=(3, -10),
                textcoords="offset points", fontsize=8, color="#555555")
    ax.set_xlabel("years since the treatment year (event time)")
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    return fig


def treatment_status(panel: pd.DataFrame, unit: str = "city", time: str = "year",
                     single: tuple[str, ...] = ("Innova_policy", "Smart_policy"),
                     dual: str = "Dual_policy") -> plt.Figure:
    """Treatment status by unit and year (panelView style): none, one pilot, both pilots.

    Units are sorted by the year they got both pilots, then by the year of their first pilot.
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
    years = list(grid.columns)
    ax.set_xticks(range(len(years)), [str(y) for y in years], rotation=45)
    ax.set_yticks([])
    ax.set_ylabel(f"{len(grid)} cities (sorted by the year of the second pilot, then the first)")
    ax.set_xlabel("year")
    ax.grid(False)
    ax.legend(handles=[Patch(color=PALETTE["none"], label="no pilot"),
                       Patch(color=PALETTE["single"], label="one pilot"),
                       Patch(color=PALETTE["dual"], label="both pilots (Dual_policy = 1)")],
              loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=3, fontsize=8)
    fig.tight_layout()
    return fig


def bacon_scatter(result, ylabel: str | None = None, label_weight: float = 0.05) -> plt.Figure:
    """Goodman-Bacon decomposition: each 2x2 DiD estimate against its weight in the TWFE estimate.

    ``result``: a :class:`citypilots.staggered.BaconResult`. The comparison types differ by marker
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
    ax.set_xlim(0, max(table["weight"].max(), 0.01) * 1.3)
    ax.set_xlabel("weight in the TWFE estimate (share of 1)")
    ax.set_ylabel(ylabel or f"2x2 DiD estimate (units of {result.outcome})")
    ax.set_title(f"Goodman-Bacon decomposition of the TWFE estimate ({len(table)} comparisons)", loc="left")
    ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    return fig
