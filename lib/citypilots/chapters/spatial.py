"""The spatial chapter's tables and figures: the paper's Table 7 (a spatial Durbin model) and its
Figure 4 (a distance-band sweep) rebuilt with the evidence behind each number.

Each function takes the chapter's panel (``book``: anything with ``.data``, ``.cities`` and
``.truth``, which is None on a reader's real panel) and returns what the chapter shows; the
``*_numbers`` functions return the sentences' numbers as text, keyed by their glue names, so that
every number of the chapter is computed here and tested (``tests/test_chapter_spatial.py``).

Which realised truth each number is read as (:class:`citypilots.simulation.truth.Truth`):

* the direct effect of ``Dual_policy``: both pilots against none over the dual-pilot city-years
  (``dual_vs_none``), as in the baseline chapter;
* the indirect effect (LeSage and Pace): the change in a city's deaths if *every other* city held
  both pilots (row-standardised W: ``W Dual_policy`` from 0 to 1). No city-year of the panel is
  in that state, so no realised contrast equals it. Its realised counterpart is the realised
  spillover, ``Safety_both - Safety_no_spillover`` (what the other cities' dual pilots did to a
  city), projected on the same design as the regression (``W Dual_policy``, the controls and
  their lags, city and year effects; rho = 0): the indirect effect the model would report if the
  outcome were that spillover alone, without noise;
* the spillover received: the model's own prediction of what the other cities' dual pilots did
  to each city, averaged over city-years (:func:`citypilots.estimators.spatial.spillover_received`),
  against the realised spillover averaged the same way (``spillover``);
* the SLX model's indirect effect (theta, rho fixed at 0): the same projection as the SDM's;
* a ring coefficient of the DID with spillover rings: the realised spillover projected on the
  same design (the ring counts, ``Dual_policy``, controls, city and year effects).

The Monte Carlo behind the tables (:func:`evidence`, :func:`drivers_table`) runs 20 seeds and
three worlds for Table 7, the SLX rows and the rings (one measure, :func:`spatial_measure`), and
20 seeds in four worlds for the drivers; impacts in the seed runs use :data:`SEED_DRAWS` draws.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from ..data.panel import CONTROLS
from ..data.paper import load_descriptives, printed
from ..estimators import spatial
from ..report.evidence import evidence_table, headline
from ..report.glue import NO_TRUTH, glue_text, number_text
from ..simulation.montecarlo import replicate
from ..simulation.specification import load_spec, null_world

X = ["Dual_policy", *CONTROLS]
"""The regressors of Table 7: the dual-pilot dummy and the paper's six controls."""

PAPER_BOUNDARIES_KM = (800, 1400)
"""The boundaries the paper reads off its Figure 4 (help within 800 km, harm to 1,400 km)."""

RINGS_KM = ((0, 800), (800, 1400), (1400, 2000))
"""The exposure rings of the DID with spillover rings: split at the paper's two boundaries, with a
third ring beyond them."""

BAND_WIDTH_KM, LAST_BAND_KM = 100, 2500
"""Figure 4's 100 km bands, out to 2,500 km."""

TABLE7_WEIGHTS = {"(1) economic-geographic W": "economic-geographic",
                  "(2) inverse-distance-squared W": "inverse distance squared"}
"""Table 7's columns and their weight matrices (the column order is inferred from the paper's text)."""

QUANTITIES = ("direct effect", "indirect effect", "total effect", "rho", "spillover received")
INFERENCE = {"ml": "ML", "cluster": "clustered"}
NULL_WORLDS = {"direct effect": "dual_vs_none", "total effect": "dual_vs_none", "indirect effect": "spillover",
               "rho": "spillover", "spillover received": "spillover", "SLX indirect effect": "spillover"}
PAPER_TERMS = {"direct effect": "Direct", "indirect effect": "Indirect", "total effect": "Total", "rho": "Rho"}

SEED_DRAWS = 200
"""Impact draws per fit in the seed runs (the chapter's own panel uses 1,000)."""

STRONG_OVERRIDES = {"effects.spillover.bands_km": [[0, 800, -0.02], [800, 1400, 0.015]],
                    "effects.homogeneous": True, "outcome.shock.ar1": 0.0}
"""The teaching world of the chapter: a larger spillover (a share of a city's deaths per other
dual-pilot city in the band), constant own effects and serially independent shocks."""


def glue_all(texts: dict) -> None:
    """Glue every ``key: text`` of ``texts`` (the ``*_numbers`` functions' output)."""
    for key, text in texts.items():
        glue_text(key, text)


def glue_figure(key: str, figure) -> None:
    """Glue a matplotlib figure for a ``{glue:figure}`` directive (whose caption can then quote
    glued text) and close it, so that the cell shows nothing."""
    import matplotlib.pyplot as plt
    from myst_nb import glue

    glue(key, figure, display=False)
    plt.close(figure)


def _truth_text(value, fmt: str = "{:.3f}") -> str:
    return number_text(value, fmt, NO_TRUTH)


# ----------------------------------------------------------------------------------------------
# The panel with coordinates
# ----------------------------------------------------------------------------------------------

@dataclass
class SpatialPanel:
    """The chapter's panel restricted to cities with coordinates (every simulated city has them).

    ``data``, ``cities``: the located city-years and cities. ``truth``: the panel's truth or None.
    ``keep``: the located rows of the full panel (a boolean mask). ``dropped``: cities left out.
    """

    data: pd.DataFrame
    cities: pd.DataFrame
    truth: object
    keep: np.ndarray
    dropped: int

    def estimand(self, name: str, rows: np.ndarray | None = None) -> float | None:
        """The realised estimand ``name`` over the located rows (and ``rows``, a mask on them;
        default: the estimand's own rows); None on a real panel."""
        if self.truth is None:
            return None
        mask = self.truth.default_rows(name) & self.keep
        if rows is not None:
            mask = np.zeros(len(self.keep), dtype=bool)
            mask[self.keep] = np.asarray(rows, dtype=bool)
        return self.truth.estimand(name, mask)

    def contrast(self, name: str) -> np.ndarray | None:
        """The city-year contrast behind estimand ``name`` on the located rows (None: real panel)."""
        return None if self.truth is None else self.truth.contrast(name).to_numpy()[self.keep]

    @property
    def first_dual_year(self) -> int:
        """The first year any city of the panel holds both pilots."""
        return int(self.data.loc[self.data["Dual_policy"] == 1, "year"].min())


def located(book) -> SpatialPanel:
    """The panel's cities with coordinates and their city-years (a spatial model needs every
    city's location; codes outside the city table have none)."""
    cities = book.cities.dropna(subset=["lon", "lat"]).reset_index(drop=True)
    keep = book.data["city"].isin(cities["adcode"]).to_numpy()
    return SpatialPanel(data=book.data[keep].reset_index(drop=True), cities=cities, truth=book.truth, keep=keep,
                        dropped=len(book.cities) - len(cities))


# ----------------------------------------------------------------------------------------------
# The weight matrices
# ----------------------------------------------------------------------------------------------

def economic_level(sp: SpatialPanel, whole_period: bool = False) -> pd.Series:
    """Each city's economic level for the economic-geographic matrix: mean ``lnGDP`` over the
    years before the first dual-pilot year (a matrix the pilots cannot move), or over the whole
    window with ``whole_period=True`` (the book's earlier choice, partly post-treatment)."""
    if whole_period:
        return sp.data.groupby("city")["lnGDP"].mean()
    return spatial.pre_treatment_mean(sp.data, "lnGDP", before=sp.first_dual_year)


def weight_matrices(sp: SpatialPanel, as_frame: bool = True, whole_period: bool = False) -> dict:
    """The two matrices of Table 7 (row-standardised): ``economic-geographic`` (inverse distance
    over the gap in pre-treatment economic levels) and ``inverse distance squared``."""
    return {"economic-geographic": spatial.economic_geographic_weights(
                sp.cities, economic_level(sp, whole_period), as_frame=as_frame),
            "inverse distance squared": spatial.inverse_distance_weights(sp.cities, power=2, as_frame=as_frame)}


def describe_weight_matrices(sp: SpatialPanel) -> pd.DataFrame:
    """What the matrices look like: units, islands, neighbours, symmetry, concentration (one row each)."""
    matrices = {"economic-geographic (pre-treatment lnGDP)": spatial.economic_geographic_weights(
                    sp.cities, economic_level(sp)),
                "economic-geographic (whole-window lnGDP)": spatial.economic_geographic_weights(
                    sp.cities, economic_level(sp, whole_period=True)),
                "inverse distance squared": spatial.inverse_distance_weights(sp.cities, power=2),
                "inverse distance": spatial.inverse_distance_weights(sp.cities, power=1),
                f"band 0-{BAND_WIDTH_KM} km": spatial.distance_band_weights(sp.cities, 0, BAND_WIDTH_KM)}
    table = pd.DataFrame({name: spatial.describe_weights(w) for name, w in matrices.items()}).T
    table.columns = ["cities", "islands", "neighbours per city", "symmetric before standardising",
                     "no self-neighbours", "rows sum to 1", "median largest weight in a row",
                     "share of rows with one weight > 0.5"]
    return table


def weights_numbers(sp: SpatialPanel, described: pd.DataFrame) -> dict:
    """The weights section's numbers."""
    dominated = described["share of rows with one weight > 0.5"]
    years = sorted(sp.data["year"].unique())
    pilots_before = sp.cities[["innovation_year", "smart_year"]].lt(sp.first_dual_year).any(axis=1)
    return {
        "located_note": ("every city of the panel has coordinates" if sp.dropped == 0 else
                         f"{sp.dropped} cities without coordinates (codes outside the 2023 city table) are left out"),
        "n_cities": f"{len(sp.cities):,}",
        "economic_dominated": f"{dominated.iloc[0]:.0%}",
        "distance2_dominated": f"{dominated.loc['inverse distance squared']:.0%}",
        "band100_islands": f"{int(described.iloc[-1]['islands']):d}",
        "band_width": f"{BAND_WIDTH_KM:,}",
        "pre_years": f"{years[0]}-{sp.first_dual_year - 1}",
        "first_dual_year": f"{sp.first_dual_year}",
        "single_pilots_before": f"{int(pilots_before.sum()):d}",
    }


# ----------------------------------------------------------------------------------------------
# Moran's I
# ----------------------------------------------------------------------------------------------

def moran_table(sp: SpatialPanel, w) -> pd.DataFrame:
    """Moran's I by year of Safety and of the residuals of the non-spatial model and the SDM
    (city and year effects, the controls), with ``w``."""
    twfe_fit = spatial.spatial_durbin(sp.data, "Safety", X, w, durbin=[], fix_rho=0.0, draws=2)
    sdm_fit = spatial.spatial_durbin(sp.data, "Safety", X, w, draws=2)
    table = pd.concat({
        "Safety": spatial.moran_by_period(sp.data, "Safety", w),
        "residual, no spatial terms": spatial.moran_by_period(twfe_fit.residuals, "residual", w),
        "residual, SDM": spatial.moran_by_period(sdm_fit.residuals, "residual", w),
    }, axis=1)
    return table.loc[:, (slice(None), ["I", "p_value"])]


def moran_numbers(sp: SpatialPanel, moran: pd.DataFrame) -> dict:
    """The Moran section's numbers."""
    significant = {name: int((moran[(name, "p_value")] < 0.05).sum()) for name in moran.columns.levels[0]}
    return {
        "moran_years": f"{len(moran):d}",
        "moran_safety_significant": f"{significant['Safety']:d}",
        "moran_twfe_significant": f"{significant['residual, no spatial terms']:d}",
        "moran_expected": f"{0.05 * len(moran):.1f}",
        "moran_safety_max": f"{moran[('Safety', 'I')].abs().max():.3f}",
        "moran_twfe_max": f"{moran[('residual, no spatial terms', 'I')].abs().max():.3f}",
        "moran_reading": ("On a real panel these numbers measure how deaths cluster across cities."
                          if sp.truth is None else
                          "On the simulated panel this is what was built in: no spatial pattern in the "
                          "city levels or the shocks, and a spillover that is small against the year-to-year "
                          "noise, so a Moran test would not send a researcher to a spatial model here."),
    }


# ----------------------------------------------------------------------------------------------
# Table 7: the spatial Durbin model, with the evidence behind it
# ----------------------------------------------------------------------------------------------

def table7_fits(sp: SpatialPanel, draws: int = 1000) -> dict:
    """The two spatial Durbin fits of Table 7 (city and year effects, controls and their lags),
    with standard errors clustered by city (the ML ones are in each fit's ``extra``)."""
    matrices = weight_matrices(sp)
    return {label: spatial.spatial_durbin(sp.data, "Safety", X, matrices[name], vcov="cluster", draws=draws)
            for label, name in TABLE7_WEIGHTS.items()}


def projected_indirect(sp: SpatialPanel, w) -> float | None:
    """The realised spillover projected on a spatial Durbin design with ``w`` (rho = 0): the
    indirect effect of ``Dual_policy`` the model would report if the outcome were the realised
    spillover alone, without noise (None on a real panel)."""
    spillover = sp.contrast("spillover")
    if spillover is None:
        return None
    if not np.any(spillover):
        return 0.0
    fit = spatial.spatial_durbin(sp.data.assign(realised_spillover=spillover), "realised_spillover", X, w,
                                 fix_rho=0.0, draws=2)
    return float(fit.impacts.loc["Dual_policy", "indirect"])


def _impact_headline(impacts: pd.DataFrame, kind: str, truth) -> dict:
    row = impacts.loc["Dual_policy"]
    return headline({"estimate": row[kind], "std_error": row[f"{kind}_se"], "ci_low": row[f"{kind}_ci_low"],
                     "ci_high": row[f"{kind}_ci_high"], "p_value": row[f"{kind}_p"]}, truth=truth)


def fit_weights(fit) -> pd.DataFrame:
    """The row-standardised W of a :func:`citypilots.estimators.spatial.spatial_durbin` fit, labelled by unit."""
    units = fit.extra["units"]
    return pd.DataFrame(fit.extra["weights"], index=units, columns=units)


def table7_rows(sp: SpatialPanel, fits: dict, draws: int) -> dict:
    """Table 7's headline numbers of one panel: label -> :func:`headline` (see :func:`spatial_measure`),
    and the SLX model's indirect effect (theta, rho fixed at 0) with the same matrices."""
    out = {}
    own = sp.estimand("dual_vs_none")
    spillover = sp.estimand("spillover")
    for label, fit in fits.items():
        projected = projected_indirect(sp, fit_weights(fit))
        slx = spatial.spatial_durbin(sp.data, "Safety", X, fit_weights(fit), fix_rho=0.0, vcov="cluster", draws=2)
        for kind in INFERENCE:
            theta = float(slx.params["W_Dual_policy"])
            se = float(np.sqrt(slx.extra["covariances"][kind].loc["W_Dual_policy", "W_Dual_policy"]))
            out[f"{label}: SLX indirect effect [{INFERENCE[kind]}]"] = headline(
                {"estimate": theta, "std_error": se, "ci_low": theta - 1.96 * se, "ci_high": theta + 1.96 * se,
                 "p_value": 2 * float(stats.norm.sf(abs(theta / se)))}, truth=projected)
        total = None if own is None else own + projected
        received = {kind: spatial.spillover_received(fit, sp.data, "Dual_policy", vcov=kind, draws=draws)
                    for kind in INFERENCE}
        for kind in INFERENCE:
            impacts = spatial.impacts_with(fit, kind, draws=draws)
            rho = fit.table.loc["rho"].copy()
            rho_se = float(np.sqrt(fit.extra["covariances"][kind].loc["rho", "rho"]))
            rho_values = {"estimate": rho["estimate"], "std_error": rho_se, "ci_low": rho["estimate"] - 1.96 * rho_se,
                          "ci_high": rho["estimate"] + 1.96 * rho_se,
                          "p_value": 2 * float(stats.norm.sf(abs(rho["estimate"] / rho_se)))}
            values = {"direct effect": _impact_headline(impacts, "direct", own),
                      "indirect effect": _impact_headline(impacts, "indirect", projected),
                      "total effect": _impact_headline(impacts, "total", total),
                      "rho": headline(rho_values),
                      "spillover received": headline(received[kind], truth=spillover)}
            for quantity, value in values.items():
                out[f"{label}: {quantity} [{INFERENCE[kind]}]"] = value
    return out


def spatial_measure(panel) -> dict:
    """Every headline of the chapter on one panel (the measure of :func:`table7` and
    :func:`ring_table`): Table 7's direct, indirect and total effects, rho and the spillover
    received, each with ML and clustered inference, for both weight matrices; and the DID with
    spillover rings (the own effect and each ring)."""
    sp = located(panel)
    out = table7_rows(sp, table7_fits(sp, draws=SEED_DRAWS), draws=SEED_DRAWS)
    out.update(ring_rows(sp))
    return out


def _labels(label: str) -> tuple[str, str, str]:
    weights, rest = label.split(": ", 1)
    quantity, kind = rest[:-1].split(" [")
    return weights, quantity, kind


def evidence(book, seeds=range(20), n_jobs: int = 1) -> pd.DataFrame:
    """The evidence behind every headline of the chapter (:func:`spatial_measure`): this book's
    estimate, the realised truth, the estimate in the null world (the own effects switched off for
    the direct and total effects and the ring DID's own effect, the spillover for the others) and
    the spread over ``seeds`` (:func:`citypilots.report.evidence.evidence_table`). One Monte Carlo
    run for both :func:`table7` and :func:`ring_table`."""
    null_worlds = {label: NULL_WORLDS[_labels(label)[1]] for label in [*_table7_labels(), *_slx_labels()]}
    null_worlds.update({label: ("dual_vs_none" if label == RING_OWN else "spillover") for label in _ring_labels()})
    return evidence_table(spatial_measure, book, null_worlds, seeds=seeds, n_jobs=n_jobs)


def table7(evidence_rows: pd.DataFrame) -> pd.DataFrame:
    """Table 7 from :func:`evidence`: for each weight matrix and each of direct, indirect and total
    effects, rho and the spillover received, the paper's number, this book's (with ML and clustered
    standard errors), the realised truth, the estimate in the null world and the spread over the
    seeds (coverage and rejection rates under both standard errors). Unrounded numbers in
    ``table.attrs["numbers"]`` (label -> dict, labels ``"<weights>: <quantity> [ML|clustered]"``)."""
    numbers = {label: evidence_rows.attrs["numbers"][label] for label in _table7_labels()}
    n_seeds = next(iter(numbers.values()))["seeds"]
    records = {}
    for position, weights in enumerate(TABLE7_WEIGHTS, start=1):
        for quantity in QUANTITIES:
            ml, cl = (numbers[f"{weights}: {quantity} [{kind}]"] for kind in INFERENCE.values())
            paper = printed(7, position, PAPER_TERMS[quantity]) if quantity in PAPER_TERMS else None
            records[(weights, quantity)] = _evidence_record(paper, ml, cl, n_seeds)
    return _records_table(records, numbers, ["weights", "row"])


def _records_table(records: dict, numbers: dict, names: list) -> pd.DataFrame:
    table = pd.DataFrame.from_dict(records, orient="index")
    table.columns = pd.MultiIndex.from_tuples(table.columns)
    table.index = pd.MultiIndex.from_tuples(table.index, names=names)
    table.attrs["numbers"] = numbers
    return table


def _slx_labels() -> list[str]:
    return [f"{weights}: SLX indirect effect [{kind}]" for weights in TABLE7_WEIGHTS for kind in INFERENCE.values()]


def slx_table(evidence_rows: pd.DataFrame) -> pd.DataFrame:
    """The SLX model's indirect effect (theta; no spatial lag of deaths) for both matrices of Table 7,
    from :func:`evidence`, in Table 7's columns (OLS standard errors assuming independent shocks, and
    clustered by city)."""
    numbers = {label: evidence_rows.attrs["numbers"][label] for label in _slx_labels()}
    n_seeds = next(iter(numbers.values()))["seeds"]
    records = {(weights, "SLX indirect effect"): _evidence_record(
        None, numbers[f"{weights}: SLX indirect effect [ML]"], numbers[f"{weights}: SLX indirect effect [clustered]"],
        n_seeds) for weights in TABLE7_WEIGHTS}
    table = _records_table(records, numbers, ["weights", "row"])
    return table.drop(columns="Paper", level=0)


def slx_numbers(table: pd.DataFrame) -> dict:
    """The SLX table's numbers."""
    out = {}
    for position, weights in enumerate(TABLE7_WEIGHTS, start=1):
        ml = table.attrs["numbers"][f"{weights}: SLX indirect effect [ML]"]
        cl = table.attrs["numbers"][f"{weights}: SLX indirect effect [clustered]"]
        out.update({f"slx_theta_{position}": f"{ml['estimate']:.3f}", f"slx_se_ml_{position}": f"{ml['std_error']:.3f}",
                    f"slx_se_cl_{position}": f"{cl['std_error']:.3f}",
                    f"slx_truth_{position}": _truth_text(ml["truth"]),
                    f"slx_seed_mean_{position}": f"{ml['seed_mean']:.3f}",
                    f"slx_rej_ml_{position}": f"{ml['rejection_rate']:.0%}",
                    f"slx_rej_cl_{position}": f"{cl['rejection_rate']:.0%}",
                    f"slx_null_rej_ml_{position}": f"{ml['null_rejection_rate']:.0%}",
                    f"slx_null_rej_cl_{position}": f"{cl['null_rejection_rate']:.0%}"})
    return out


def _table7_labels() -> list[str]:
    return [f"{weights}: {quantity} [{kind}]" for weights in TABLE7_WEIGHTS for quantity in QUANTITIES
            for kind in INFERENCE.values()]


def _fmt(value, fmt="{:.3f}") -> str:
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else fmt.format(value)


def _evidence_record(paper, ml: dict, cl: dict | None, n_seeds: int) -> dict:
    share = "{:.0%}"
    return {
        ("Paper", "estimate"): "" if paper is None else paper["raw_estimate"],
        ("Paper", "s.e."): "" if paper is None else paper["raw_se"],
        ("This book", "estimate"): _fmt(ml["estimate"]),
        ("This book", "s.e. ML"): f"({_fmt(ml['std_error'])})",
        ("This book", "s.e. clustered"): "" if cl is None else f"({_fmt(cl['std_error'])})",
        ("Truth", "realised"): _fmt(ml["truth"]),
        ("Null world", "estimate"): _fmt(ml["null_estimate"]),
        (f"Over {n_seeds} seeds", "mean"): _fmt(ml["seed_mean"]),
        (f"Over {n_seeds} seeds", "SD"): _fmt(ml["seed_sd"]),
        (f"Over {n_seeds} seeds", "coverage ML"): "" if math.isnan(ml["seed_truth"]) else _fmt(ml["coverage"], share),
        (f"Over {n_seeds} seeds", "coverage clustered"): ("" if cl is None or math.isnan(cl["seed_truth"]) else
                                                          _fmt(cl["coverage"], share)),
        (f"Over {n_seeds} seeds", "rejects 0 ML"): _fmt(ml["rejection_rate"], share),
        (f"Over {n_seeds} seeds", "rejects 0 clustered"): "" if cl is None else _fmt(cl["rejection_rate"], share),
        (f"Null world over {n_seeds} seeds", "rejects 0 ML"): _fmt(ml["null_rejection_rate"], share),
        (f"Null world over {n_seeds} seeds", "rejects 0 clustered"): ("" if cl is None else
                                                                       _fmt(cl["null_rejection_rate"], share)),
    }


# ----------------------------------------------------------------------------------------------
# The identity the impacts must satisfy
# ----------------------------------------------------------------------------------------------

def identity_table(fits: dict) -> pd.DataFrame:
    """The total effect a row-standardised W implies, ``(beta + theta) / (1 - rho)``, against the
    total printed (the paper) or estimated (this book), for each column of Table 7; and the check
    that direct + indirect = total."""
    rows = {}
    for position, (label, fit) in enumerate(fits.items(), start=1):
        paper = {term: float(printed(7, position, term)["estimate"])
                 for term in ("Dual_policy", "W x Dual_policy", "Rho", "Direct", "Indirect", "Total")}
        book_impacts = fit.impacts.loc["Dual_policy"]
        book = {"Dual_policy": fit.params["Dual_policy"], "W x Dual_policy": fit.params["W_Dual_policy"],
                "Rho": fit.params["rho"], "Direct": book_impacts["direct"], "Indirect": book_impacts["indirect"],
                "Total": book_impacts["total"]}
        for source, values in (("Paper", paper), ("This book", book)):
            check = spatial.sdm_total_identity(values["Dual_policy"], values["W x Dual_policy"], values["Rho"],
                                               total=values["Total"])
            rows[(label, source)] = {
                "beta": values["Dual_policy"], "theta": values["W x Dual_policy"], "rho": values["Rho"],
                "(beta + theta) / (1 - rho)": check["implied_total"], "total reported": values["Total"],
                "gap": check["gap"], "direct + indirect - total": values["Direct"] + values["Indirect"] - values["Total"]}
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index = pd.MultiIndex.from_tuples(table.index, names=["column", "source"])
    return table


def paper_drawn_total(column: int, draws: int = 200_000, seed: int = 0) -> float:
    """The mean of ``(beta + theta) / (1 - rho)`` over draws of the paper's printed Table 7
    coefficients (column ``column``), each normal with its printed standard error and drawn
    independently (the paper prints no covariances): what a total effect reported as the mean of
    draws could be. By Jensen's inequality it exceeds the ratio at the estimates in size."""
    rng = np.random.default_rng(seed)
    values = {term: printed(7, column, term) for term in ("Dual_policy", "W x Dual_policy", "Rho")}
    beta, theta, rho = (rng.normal(float(v["estimate"]), float(v["se"]), draws) for v in values.values())
    return float(np.mean((beta + theta) / (1 - rho)))


def identity_numbers(identity: pd.DataFrame) -> dict:
    """The identity section's numbers, and whether the paper's column 2 total equals
    ``-1 / (1 - rho)`` to the printed precision."""
    out = {}
    for position, label in enumerate(TABLE7_WEIGHTS, start=1):
        paper, book = identity.loc[(label, "Paper")], identity.loc[(label, "This book")]
        out[f"identity_paper_implied_{position}"] = f"{paper['(beta + theta) / (1 - rho)']:.2f}"
        out[f"identity_paper_total_{position}"] = f"{paper['total reported']:.3f}"
        out[f"identity_paper_gap_{position}"] = f"{paper['gap']:.2f}"
        out[f"identity_paper_drawn_{position}"] = f"{paper_drawn_total(position):.2f}"
        out[f"identity_book_gap_{position}"] = ("below 1e-9" if abs(book["gap"]) < 1e-9 else f"{book['gap']:.1e}")
        out[f"identity_paper_ratio_{position}"] = f"{paper['(beta + theta) / (1 - rho)'] / paper['total reported']:.1f}"
    paper2 = identity.loc[(list(TABLE7_WEIGHTS)[1], "Paper")]
    unit_total = -1 / (1 - paper2["rho"])
    out["identity_unit_total_2"] = f"{unit_total:.4f}"
    out["identity_unit_note"] = (
        f"Curiously, the printed total equals \u22121/(1 \u2212 \u03c1) = {unit_total:.3f} to the printed precision, "
        "as if \u03b2 + \u03b8 had been \u22121." if abs(unit_total - paper2["total reported"]) < 0.0005
        else "")
    return out


# ----------------------------------------------------------------------------------------------
# What drives a spurious indirect effect
# ----------------------------------------------------------------------------------------------

DRIVER_WEIGHTS = ("economic-geographic, whole-window lnGDP", "economic-geographic, pre-treatment lnGDP",
                  "inverse distance squared")


def driver_worlds(spec=None) -> dict:
    """The worlds of :func:`drivers_table`, each switching off one more part of the simulation:
    the book's; without the spillover; also without the other policies; also without the own
    pilots' effects (then only the covariates and the shocks move deaths)."""
    loaded = load_spec(spec)
    no_spillover = null_world("spillover", spec)
    no_others = {key: value for policy in loaded["other_policies"] for key, value in null_world(policy, spec).items()}
    return {"the book's world": {},
            "spillover off": no_spillover,
            "also other policies off": {**no_spillover, **no_others},
            "also own pilot effects off": {**no_spillover, **no_others, **null_world("dual_vs_none", spec)}}


def drivers_measure(panel) -> dict:
    """The indirect effect of ``Dual_policy`` under three matrices on one panel, with its ML and
    clustered p-values (flat numbers for :func:`citypilots.simulation.montecarlo.replicate`)."""
    sp = located(panel)
    matrices = {DRIVER_WEIGHTS[0]: weight_matrices(sp, whole_period=True)["economic-geographic"],
                **dict(zip(DRIVER_WEIGHTS[1:], weight_matrices(sp).values()))}
    out = {}
    for name, w in matrices.items():
        fit = spatial.spatial_durbin(sp.data, "Safety", X, w, vcov="cluster", draws=SEED_DRAWS)
        ml = spatial.impacts_with(fit, "ml", draws=SEED_DRAWS).loc["Dual_policy"]
        out[f"{name}|indirect"] = float(ml["indirect"])
        out[f"{name}|p_ml"] = float(ml["indirect_p"])
        out[f"{name}|p_cluster"] = float(fit.impacts.loc["Dual_policy", "indirect_p"])
    return out


def drivers_table(seeds=range(20), n_jobs: int = 1, spec=None) -> pd.DataFrame:
    """The indirect effect of ``Dual_policy`` in each of :func:`driver_worlds`, for three matrices:
    on the book's own seed (estimate, ML and clustered p-values) and over ``seeds`` (mean, SD and
    the share of seeds where it is significant at 5% with ML and with clustered standard errors).
    Where the spillover is off the realised truth is zero, so a mean away from zero is bias and a
    rejection rate above 5% is a false discovery. Rows: (world, matrix)."""
    seeds = list(seeds)
    own_seed = load_spec(spec)["seed"]
    records = {}
    for world, overrides in driver_worlds(spec).items():
        rows = replicate(drivers_measure, spec=spec, seeds=[own_seed, *[s for s in seeds if s != own_seed]],
                         overrides=overrides, n_jobs=n_jobs, progress=False)
        own, spread = rows.iloc[0], rows.iloc[1:]
        for name in DRIVER_WEIGHTS:
            records[(world, name)] = {
                ("book's seed", "estimate"): float(own[f"{name}|indirect"]),
                ("book's seed", "p ML"): float(own[f"{name}|p_ml"]),
                ("book's seed", "p clustered"): float(own[f"{name}|p_cluster"]),
                (f"over {len(spread)} seeds", "mean"): float(spread[f"{name}|indirect"].mean()),
                (f"over {len(spread)} seeds", "SD"): float(spread[f"{name}|indirect"].std(ddof=1)),
                (f"over {len(spread)} seeds", "rejects 0 ML"): float((spread[f"{name}|p_ml"] < 0.05).mean()),
                (f"over {len(spread)} seeds", "rejects 0 clustered"): float((spread[f"{name}|p_cluster"] < 0.05).mean())}
    table = pd.DataFrame.from_dict(records, orient="index")
    table.columns = pd.MultiIndex.from_tuples(table.columns)
    table.index = pd.MultiIndex.from_tuples(table.index, names=["world", "weights"])
    return table


def drivers_numbers(drivers: pd.DataFrame) -> dict:
    """The drivers section's numbers: for each matrix (``whole``, ``pre``, ``d2``) and world
    (``book``, ``nospill``, ``noother``, ``noown``), the book's seed and the spread over seeds; and
    the shares of the mean (spillover off) that the other policies and the own effects account for."""
    from ..report.glue import p_text

    out = {}
    worlds = list(dict.fromkeys(drivers.index.get_level_values("world")))
    spread = [group for group in drivers.columns.levels[0] if group.startswith("over")][0]
    out["drivers_seeds"] = spread.split()[1]
    for short, name in zip(("whole", "pre", "d2"), DRIVER_WEIGHTS):
        for world_short, world in zip(("book", "nospill", "noother", "noown"), worlds):
            row = drivers.loc[(world, name)]
            out[f"drivers_{short}_{world_short}_seed"] = f"{row[('book' + chr(39) + 's seed', 'estimate')]:.3f}"
            out[f"drivers_{short}_{world_short}_seed_p_ml"] = p_text(row[("book's seed", "p ML")])
            out[f"drivers_{short}_{world_short}_seed_p_cl"] = p_text(row[("book's seed", "p clustered")])
            out[f"drivers_{short}_{world_short}_mean"] = f"{row[(spread, 'mean')]:.3f}"
            out[f"drivers_{short}_{world_short}_sd"] = f"{row[(spread, 'SD')]:.3f}"
            out[f"drivers_{short}_{world_short}_ml"] = f"{row[(spread, 'rejects 0 ML')]:.0%}"
            out[f"drivers_{short}_{world_short}_cl"] = f"{row[(spread, 'rejects 0 clustered')]:.0%}"
        means = [drivers.loc[(world, name), (spread, "mean")] for world in worlds]
        out[f"drivers_{short}_share_others"] = f"{(means[1] - means[2]) / means[1]:.0%}"
        out[f"drivers_{short}_share_own"] = f"{(means[2] - means[3]) / means[1]:.0%}"
    return out


# ----------------------------------------------------------------------------------------------
# The spatial Durbin model against SAR, SLX and SEM
# ----------------------------------------------------------------------------------------------

def specification_table(sp: SpatialPanel) -> pd.DataFrame:
    """:func:`citypilots.estimators.spatial.specification_tests` for both matrices of Table 7."""
    matrices = weight_matrices(sp)
    tables = {}
    for label, name in TABLE7_WEIGHTS.items():
        tables[label] = spatial.specification_tests(sp.data, "Safety", X, matrices[name])
        tables[label].attrs = {}
    return pd.concat(tables, names=["weights"])


def specification_numbers(tests: pd.DataFrame) -> dict:
    """The specification tests' numbers: how many of the six tests reject at 5% by each statistic."""
    rejects = {column: int((tests[column] < 0.05).sum()) for column in ("LR p", "Wald (ML) p", "Wald (clustered) p")}
    if rejects["Wald (clustered) p"] == 0:
        verdict = ("The clustered tests reject none of the restrictions: the data cannot tell the four models "
                   "apart, and neither a spatial lag of deaths nor a spatial lag of the pilots is needed to fit "
                   "them.")
    else:
        verdict = (f"The clustered tests reject {rejects['Wald (clustered) p']} of the restrictions; those are the "
                   "rejections that survive serially correlated shocks.")
    return {"spec_tests": f"{len(tests):d}", "spec_lr_rejects": f"{rejects['LR p']:d}",
            "spec_ml_rejects": f"{rejects['Wald (ML) p']:d}",
            "spec_cluster_rejects": f"{rejects['Wald (clustered) p']:d}", "spec_verdict": verdict}


# ----------------------------------------------------------------------------------------------
# A DID with spillover rings
# ----------------------------------------------------------------------------------------------

RING_OWN = "rings: own effect (Dual_policy)"


def _ring_label(low: float, high: float) -> str:
    return f"rings: dual-pilot cities at {low:,.0f}-{high:,.0f} km"


def _ring_labels() -> list[str]:
    return [RING_OWN, *(_ring_label(low, high) for low, high in RINGS_KM)]


def ring_fit(sp: SpatialPanel, y: str = "Safety"):
    """The DID with spillover rings (:func:`citypilots.estimators.spatial.ring_did`): ``Dual_policy``
    and the number of other dual-pilot cities in each ring of :data:`RINGS_KM`, with the controls,
    city and year effects, clustered by city."""
    return spatial.ring_did(sp.data, y, "Dual_policy", sp.cities, RINGS_KM, controls=CONTROLS)


def ring_rows(sp: SpatialPanel) -> dict:
    """The ring DID's headlines on one panel; each ring's truth is the realised spillover
    projected on the same design, the own effect's ``dual_vs_none``."""
    fit = ring_fit(sp)
    spillover = sp.contrast("spillover")
    projected = None if spillover is None or not np.any(spillover) else ring_fit(
        SpatialPanel(sp.data.assign(realised_spillover=spillover), sp.cities, None, sp.keep, sp.dropped),
        "realised_spillover")
    out = {RING_OWN: headline(fit, "Dual_policy", truth=sp.estimand("dual_vs_none"))}
    for (low, high), term in zip(RINGS_KM, fit.extra["rings"]):
        truth = None if spillover is None else 0.0 if projected is None else projected.estimate(term)
        out[_ring_label(low, high)] = headline(fit, term, truth=truth)
    return out


def ring_table(evidence_rows: pd.DataFrame) -> pd.DataFrame:
    """The DID with spillover rings from :func:`evidence` (the standard evidence columns)."""
    table = evidence_rows.loc[_ring_labels()].copy()
    table.index = [label.split(": ", 1)[1] for label in table.index]
    table.attrs["numbers"] = {label: evidence_rows.attrs["numbers"][label] for label in _ring_labels()}
    return table


def ring_numbers(sp: SpatialPanel, rings: pd.DataFrame) -> dict:
    """The ring section's numbers."""
    numbers = rings.attrs["numbers"]
    out = {"rings_n": f"{len(RINGS_KM)}", "rings_last_km": f"{RINGS_KM[-1][1]:,}"}
    distance = spatial.distance_matrix(sp.cities).to_numpy().copy()
    dual = sp.cities["group"].eq("dual").to_numpy()
    np.fill_diagonal(distance, np.inf)
    nearest = np.where(dual[None, :], distance, np.inf).min(axis=1)
    out["rings_farthest_from_dual"] = f"{np.max(nearest[np.isfinite(nearest)]):,.0f}" if np.isfinite(nearest).any() else "(no dual-pilot city)"
    for position, (low, high) in enumerate(RINGS_KM, start=1):
        n = numbers[_ring_label(low, high)]
        out[f"ring{position}_estimate"] = f"{n['estimate']:.4f}"
        out[f"ring{position}_se"] = f"{n['std_error']:.4f}"
        out[f"ring{position}_deaths"] = f"{100 * n['estimate']:+.1f}"
        out[f"ring{position}_truth"] = _truth_text(n["truth"], "{:.4f}")
        out[f"ring{position}_truth_deaths"] = _truth_text(None if math.isnan(n["truth"]) else 100 * n["truth"], "{:+.1f}")
        out[f"ring{position}_rejects"] = _fmt(n["rejection_rate"], "{:.0%}")
        out[f"ring{position}_null_rejects"] = _fmt(n["null_rejection_rate"], "{:.0%}")
        out[f"ring{position}_coverage"] = _fmt(n["coverage"], "{:.0%}")
    power = []
    for position in (1, 2):
        n = numbers[_ring_label(*RINGS_KM[position - 1])]
        gap = n["rejection_rate"] - n["null_rejection_rate"]
        power.append("some power" if gap >= 0.2 else "little power" if gap > 0.05 else "no power")
    out["ring_verdict"] = (f"The design has {power[0]} to see the near ring and {power[1]} to see the middle one "
                           "on panels like the book's.")
    own = numbers[RING_OWN]
    out["ring_own"] = f"{own['estimate']:.3f}"
    out["ring_own_truth"] = _truth_text(own["truth"])
    out["rings_seeds"] = f"{own['seeds']}"
    return out


# ----------------------------------------------------------------------------------------------
# Figure 4: the distance-band sweeps
# ----------------------------------------------------------------------------------------------

READINGS = {"annular": spatial.default_bands, "cumulative": spatial.cumulative_bands}
THIS_PANEL, NULL_PANEL = "this panel", "null world (spillover off)"


def sweep(sp: SpatialPanel, reading: str, vcov: str = "cluster") -> pd.DataFrame:
    """One distance-band sweep of ``Dual_policy``'s indirect effect (:func:`citypilots.estimators.spatial.distance_band_sweep`,
    90% intervals, clustered by city unless ``vcov="ml"``): ``reading`` "annular" (one 100 km band at a time) or
    "cumulative" (every pair closer than a threshold); with the realised spillover projected on each band's
    design (``target_indirect``) on a simulated panel."""
    spillover = sp.contrast("spillover")
    project = spillover is not None and np.any(spillover)
    data = sp.data.assign(realised_spillover=spillover) if project else sp.data
    table = spatial.distance_band_sweep(data, "Safety", X, sp.cities, of="Dual_policy",
                                        bands=READINGS[reading](BAND_WIDTH_KM, LAST_BAND_KM), alpha=0.10,
                                        target="realised_spillover" if project else None, progress=False,
                                        vcov=vcov)
    if spillover is not None and not project:
        table["target_indirect"] = 0.0  # no spillover: nothing to project
    return table


def band_sweeps(book, vcov: str = "cluster") -> dict:
    """Figure 4's four sweeps: (panel, reading) -> sweep, for this chapter's panel and for the
    null world (the book's simulation, same seed, spillover off), annular and cumulative."""
    from ..simulation.generator import simulate_panel

    panels = {THIS_PANEL: located(book), NULL_PANEL: located(simulate_panel(overrides=null_world("spillover")))}
    return {(name, reading): sweep(sp, reading, vcov) for name, sp in panels.items() for reading in READINGS}


def planted_zones(truth) -> list:
    """The planted spillover's bands, ``[(low, high, effect), ...]``, for shading a figure (a
    description of the design, not a truth; empty on a real panel)."""
    return [] if truth is None else [tuple(band) for band in truth.parameters["effects"]["spillover"]["bands_km"]]


def sweep_numbers(book, sweeps: dict) -> dict:
    """Figure 4's numbers: for each panel and reading, how many bands exclude zero; band averages."""
    out = {}
    first = sweeps[(THIS_PANEL, "annular")]
    out["sweep_bands"] = f"{len(first):d}"
    out["sweep_expected_by_chance"] = f"{0.10 * len(first):.1f}"
    out["sweep_last_km"] = f"{LAST_BAND_KM:,}"
    for (panel, reading), table in sweeps.items():
        key = f"{'main' if panel == THIS_PANEL else 'null'}_{reading}"
        excludes = (table["ci_low"] > 0) | (table["ci_high"] < 0)
        out[f"sweep_{key}_excludes"] = f"{int(excludes.sum()):d}"
        if "target_indirect" in table:
            outside = (table["target_indirect"] < table["ci_low"]) | (table["target_indirect"] > table["ci_high"])
            out[f"sweep_{key}_target_outside"] = f"{int(outside.sum()):d}"
            out[f"sweep_{key}_target_max"] = f"{table['target_indirect'].abs().max():.3f}"
        else:
            out[f"sweep_{key}_target_outside"] = NO_TRUTH
            out[f"sweep_{key}_target_max"] = NO_TRUTH
    annular = sweeps[(THIS_PANEL, "annular")]
    half_width = float(((annular["ci_high"] - annular["ci_low"]) / 2).median())
    out["sweep_half_width"] = f"{half_width:.3f}"
    if "target_indirect" not in annular:
        out["sweep_verdict"] = ("On a real panel there is no planted spillover to compare with: the null-world row "
                                "shows what the design reports when nothing spills over.")
    elif annular["target_indirect"].abs().max() < half_width:
        out["sweep_verdict"] = ("The design cannot see the planted spillover on this panel: even without noise, the "
                                "spillover it could attribute to a band is smaller than the typical half-width of a "
                                "band's interval, and the two rows are nearly the same picture.")
    else:
        out["sweep_verdict"] = ("The planted spillover is large enough for the design to see in some bands: compare "
                                "the top row with the null world below it.")
    out["neighbours_first"] = f"{annular['mean_neighbours'].iloc[0]:.1f}"
    out["neighbours_most"] = f"{annular['mean_neighbours'].max():.1f}"
    most = annular.loc[annular["mean_neighbours"].idxmax()]
    out["neighbours_most_band"] = f"{most['low_km']:,.0f}-{most['high_km']:,.0f}"
    out["sweep_caption_data"] = caption_data(book)
    return out


def caption_data(book) -> str:
    """A figure caption's data description: the simulated panel or the reader's real one."""
    if book.truth is None:
        return ("The reader's real panel (top row) and the book's simulated panel with the spillover "
                "switched off (bottom row).")
    return ("Simulated panel (top row) and the same simulation with the spillover switched off "
            "(bottom row); the dashed line is the realised spillover projected on each band's design.")


def strong_world():
    """The teaching world (:data:`STRONG_OVERRIDES`) and its annular sweep (ML intervals: its
    shocks are independent over time)."""
    from ..simulation.generator import simulate_panel

    simulated = simulate_panel(overrides=STRONG_OVERRIDES)
    return simulated, sweep(located(simulated), "annular", vcov="ml")


def strong_numbers(simulated, table: pd.DataFrame) -> dict:
    """The teaching world's numbers."""
    near = table["high_km"] <= PAPER_BOUNDARIES_KM[0]
    far = table["low_km"] >= PAPER_BOUNDARIES_KM[1]
    bands = STRONG_OVERRIDES["effects.spillover.bands_km"]
    excludes_far = far & ((table["ci_low"] > 0) | (table["ci_high"] < 0))
    reach = table.loc[excludes_far, "high_km"]
    without = simulated.truth.potential_outcomes["Safety_no_spillover"].to_numpy()
    contrast = simulated.truth.contrast("spillover").to_numpy()
    spillover = contrast[without > 0] / without[without > 0]
    return {
        "strong_band_near": f"{bands[0][0]:,}-{bands[0][1]:,} km",
        "strong_band_far": f"{bands[1][0]:,}-{bands[1][1]:,} km",
        "strong_near_effect": f"{-100 * bands[0][2]:.1f}%",
        "strong_middle_effect": f"{100 * bands[1][2]:.1f}%",
        "strong_near": f"{table.loc[near, 'indirect'].mean():.3f}",
        "strong_near_projected": f"{table.loc[near, 'target_indirect'].mean():.3f}",
        "strong_far": f"{table.loc[far, 'indirect'].mean():.3f}",
        "strong_far_projected": f"{table.loc[far, 'target_indirect'].mean():.3f}",
        "strong_far_bands": f"{int(far.sum()):d}",
        "strong_far_excludes_zero": f"{int(excludes_far.sum()):d}",
        "strong_reach": f"{reach.max():,.0f}" if len(reach) else f"{PAPER_BOUNDARIES_KM[1]:,}",
        "strong_share_low": f"{100 * np.percentile(spillover, 1):+.0f}%",
        "strong_share_high": f"{100 * np.percentile(spillover, 99):+.0f}%",
    }


# ----------------------------------------------------------------------------------------------
# The map of distance rings
# ----------------------------------------------------------------------------------------------

def rings_map_inputs(sp: SpatialPanel) -> dict:
    """The centre of the rings map (the dual-pilot city with the most cities within the paper's
    outer boundary), its label, the cities whose pilot status rests on an imputed year, and the
    numbers the text quotes."""
    distance = spatial.distance_matrix(sp.cities)
    dual = sp.cities.loc[sp.cities["group"] == "dual", "adcode"]
    inner, outer = PAPER_BOUNDARIES_KM
    if len(dual):
        centre = (distance.loc[dual] < outer).sum(axis=1).idxmax()
    else:
        centre = sp.cities["adcode"].iloc[0]
    row = sp.cities.set_index("adcode").loc[centre]
    name = row.get("name_en_common") or row.get("name_en") or str(centre)
    imputed_columns = [c for c in ("innovation_year_imputed", "smart_year_imputed") if c in sp.cities]
    imputed = (sp.cities.set_index("adcode")[imputed_columns].fillna(False).astype(bool).any(axis=1)
               if imputed_columns else None)
    centre_imputed = imputed is not None and bool(imputed.get(centre, False))
    d = distance.loc[centre]
    return {"centre": centre, "label": f"centre: {name}", "imputed": imputed, "numbers": {
        "centre_name": f"{name} ({row['province_en']})",
        "centre_note": ("; as for every dual city of the simulated sample, at least one of its pilot years is imputed"
                        if centre_imputed else ""),
        "centre_within_inner": f"{int(((d > 0) & (d < inner)).sum()):d}",
        "centre_within_outer": f"{int(((d >= inner) & (d < outer)).sum()):d}",
        "boundary_inner": f"{inner:,}", "boundary_outer": f"{outer:,}",
        "rings_caption_groups": ("pilot groups from the book's calendars, hollow where a pilot year is imputed"
                                 if sp.truth is not None else "pilot groups from the panel's adoption years"),
    }}


# ----------------------------------------------------------------------------------------------
# The sentences' numbers
# ----------------------------------------------------------------------------------------------

def setting_paragraph(sp: SpatialPanel) -> str:
    """What the simulation plants and realises in space, as a MyST paragraph (on a real panel, what
    the chapter can and cannot say there)."""
    if sp.truth is None:
        return ("On a real panel nothing is planted: the spillover the tables look for is whatever the "
                "reader's data hold, and the truth columns stay empty. The null worlds and the spread over "
                "seeds still come from the book's simulation: they say what the estimators do on panels "
                "like it, where the answer is known.")
    bands = sp.truth.parameters["effects"]["spillover"]["bands_km"]
    spillover = sp.contrast("spillover")
    without = sp.truth.potential_outcomes["Safety_no_spillover"].to_numpy()[sp.keep]
    share = np.divide(spillover, without, out=np.zeros_like(spillover), where=without > 0)
    return (
        "On the simulated panel the only spatial link is planted directly, as a share of a city's deaths: "
        f"each *other* dual-pilot city at a distance of {bands[0][0]:,}-{bands[0][1]:,} km lowers a city's "
        f"deaths by {-100 * bands[0][2]:.1f}%, and each one at {bands[1][0]:,}-{bands[1][1]:,} km raises them "
        f"by {100 * bands[1][2]:.1f}%. What that realises, the city-year contrast "
        "$\\text{Safety}_{\\text{both}} - \\text{Safety}_{\\text{no spillover}}$ (observed deaths against "
        "the deaths the city would have had if no other city's dual pilot reached it), averages "
        f"{100 * spillover.mean():+.2f} deaths per city-year (standard deviation {100 * spillover.std():.1f}), "
        f"between {100 * np.percentile(share, 1):+.1f}% and {100 * np.percentile(share, 99):+.1f}% of the deaths "
        "without it (1st and 99th percentiles): the helpful near cities and the harmful middle-distance ones "
        "nearly cancel. There is no $\\rho$: deaths in one city do not enter the equation of another.")


def glue_markdown(key: str, text: str) -> None:
    """Glue MyST text for a ``{glue:md}`` directive (``:format: myst``)."""
    from IPython.display import Markdown
    from myst_nb import glue

    glue(key, Markdown(text), display=False)


def table7_numbers(sp: SpatialPanel, fits: dict, table: pd.DataFrame) -> dict:
    """Table 7's numbers: this book's estimates (both standard errors), truths, null worlds,
    spreads over seeds, and the paper's printed numbers they are compared with."""
    from ..report.glue import p_text

    numbers = table.attrs["numbers"]
    out = {"t7_seeds": f"{next(iter(numbers.values()))['seeds']}",
           "t7_draws": f"{next(iter(fits.values())).extra['draws']:,}"}
    for position, (label, fit) in enumerate(fits.items(), start=1):
        ml = {q: numbers[f"{label}: {q} [ML]"] for q in QUANTITIES}
        cl = {q: numbers[f"{label}: {q} [clustered]"] for q in QUANTITIES}
        k = position
        out.update({
            f"t7_rho_{k}": f"{ml['rho']['estimate']:.3f}", f"t7_rho_se_ml_{k}": f"{ml['rho']['std_error']:.3f}",
            f"t7_rho_se_cl_{k}": f"{cl['rho']['std_error']:.3f}",
            f"t7_rho_rej_ml_{k}": f"{ml['rho']['rejection_rate']:.0%}",
            f"t7_rho_rej_cl_{k}": f"{cl['rho']['rejection_rate']:.0%}",
            f"t7_direct_{k}": f"{ml['direct effect']['estimate']:.3f}",
            f"t7_direct_se_ml_{k}": f"{ml['direct effect']['std_error']:.3f}",
            f"t7_direct_se_cl_{k}": f"{cl['direct effect']['std_error']:.3f}",
            f"t7_direct_coverage_ml_{k}": _fmt(ml["direct effect"]["coverage"], "{:.0%}"),
            f"t7_direct_coverage_cl_{k}": _fmt(cl["direct effect"]["coverage"], "{:.0%}"),
            f"t7_indirect_{k}": f"{ml['indirect effect']['estimate']:.3f}",
            f"t7_indirect_se_ml_{k}": f"{ml['indirect effect']['std_error']:.3f}",
            f"t7_indirect_se_cl_{k}": f"{cl['indirect effect']['std_error']:.3f}",
            f"t7_indirect_p_ml_{k}": p_text(ml["indirect effect"]["p_value"]),
            f"t7_indirect_p_cl_{k}": p_text(cl["indirect effect"]["p_value"]),
            f"t7_indirect_truth_{k}": _truth_text(ml["indirect effect"]["truth"]),
            f"t7_indirect_null_{k}": f"{ml['indirect effect']['null_estimate']:.3f}",
            f"t7_indirect_seed_mean_{k}": f"{ml['indirect effect']['seed_mean']:.3f}",
            f"t7_indirect_seed_sd_{k}": f"{ml['indirect effect']['seed_sd']:.3f}",
            f"t7_indirect_seed_truth_{k}": f"{ml['indirect effect']['seed_truth']:.3f}",
            f"t7_indirect_rej_ml_{k}": f"{ml['indirect effect']['rejection_rate']:.0%}",
            f"t7_indirect_rej_cl_{k}": f"{cl['indirect effect']['rejection_rate']:.0%}",
            f"t7_indirect_null_rej_ml_{k}": f"{ml['indirect effect']['null_rejection_rate']:.0%}",
            f"t7_indirect_null_rej_cl_{k}": f"{cl['indirect effect']['null_rejection_rate']:.0%}",
            f"t7_indirect_cov_ml_{k}": f"{ml['indirect effect']['coverage']:.0%}",
            f"t7_indirect_cov_cl_{k}": f"{cl['indirect effect']['coverage']:.0%}",
            f"t7_received_{k}": f"{ml['spillover received']['estimate']:.4f}",
            f"t7_received_se_cl_{k}": f"{cl['spillover received']['std_error']:.4f}",
            f"t7_received_seed_mean_{k}": f"{ml['spillover received']['seed_mean']:.4f}",
            f"t7_received_cov_cl_{k}": f"{cl['spillover received']['coverage']:.0%}",
            f"t7_sigma2_{k}": f"{fit.sigma2:.3f}",
        })
        paper_direct, paper_indirect = (float(printed(7, position, term)["estimate"]) for term in ("Direct", "Indirect"))
        out[f"paper_rho_{k}"] = f"{float(printed(7, position, 'Rho')['estimate']):.3f}"
        out[f"paper_ratio_{k}"] = f"{paper_indirect / paper_direct:.0f}"
    first = numbers[f"{next(iter(fits))}: spillover received [ML]"]
    out["t7_received_truth"] = _truth_text(first["truth"], "{:.4f}")
    out["t7_own_truth"] = _truth_text(numbers[f"{next(iter(fits))}: direct effect [ML]"]["truth"])
    ratios = [numbers[f"{label}: {q} [clustered]"]["std_error"] / numbers[f"{label}: {q} [ML]"]["std_error"]
              for label in fits for q in ("direct effect", "indirect effect")]
    out["t7_se_ratio_low"], out["t7_se_ratio_high"] = f"{min(ratios):.1f}", f"{max(ratios):.1f}"
    paper_indirect_1 = float(printed(7, 1, "Indirect")["estimate"])
    out["paper_indirect_1"] = f"{paper_indirect_1:.3f}"
    out["paper_indirect_1_deaths"] = f"{-100 * paper_indirect_1:,.0f}"
    out["paper_safety_mean_deaths"] = f"{100 * float(load_descriptives().loc['Safety', 'mean']):,.0f}"
    out["paper_sigma2_1"] = f"{float(printed(7, 1, 'Sigma2_e')['estimate']):.3f}"
    lee_yu = spatial.spatial_durbin(sp.data, "Safety", X, fit_weights(fits[list(fits)[1]]), lee_yu=True, draws=10)
    out["t7_rho_lee_yu"] = f"{lee_yu.params['rho']:.3f}"
    out["t7_sigma2_lee_yu"] = f"{lee_yu.sigma2:.3f}"
    return out
