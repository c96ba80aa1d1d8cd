"""Companion chapter: Smart City x Low-Carbon City dual pilots and digital-industry agglomeration
(after Gao, Han and Han 2026), on the companion panel of :mod:`citypilots.simulation.gao`.

Each table is a module-level *measure* (``measure(book) -> {label: headline(...)}``) run by
:func:`citypilots.report.evidence.evidence_table` with ``spec="gao"`` on the chapter's panel, in
its null worlds (:func:`citypilots.simulation.gao.null_world`) and over :data:`SEEDS`. The
reader's own panel comes in through ``$CITYPILOTS_PANEL_GAO`` (:func:`study_data`).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from ..data.cities import load_cities
from ..data.indices import location_quotient
from ..data.panel import (CITY_CODE_PATTERN, DECIMAL_PATTERN, INTEGER_PATTERN, balance_problems, duplicate_problems,
                          parse_numbers, read_panel_text, unknown_city_problems)
from ..errors import PanelError, Problem, file_label
from ..estimators import did
from ..estimators.heterogeneity import fully_interacted_twfe
from ..estimators.mechanism import mediation
from ..estimators.synergy import synergy
from ..report.datasource import ChapterData, overrides_note
from ..report.evidence import evidence_table, headline
from ..simulation import gao as sim
from ..simulation.specification import load_spec

PANEL_VARIABLE = "CITYPILOTS_PANEL_GAO"
Y = "digital_lq"
SEEDS = range(10)
"""Simulated panels behind the spread columns (ten, to keep the chapter's Monte Carlo short)."""
SINGLES = ("Smart_only", "Low_carbon_only")
"""The single-pilot state dummies: one pilot held, not the other."""
CONTROLS = sim.CONTROLS
SYNERGY_BOOTSTRAP = 199
EVENT_WINDOW = (-5, 8)
REQUIRED = ("city", "year", "digital_employment", "employment", "Smart_policy", "Low_carbon_policy", "Dual_policy",
            *CONTROLS, "green_cover", *sim.MEDIATORS)
DUMMIES = ("Smart_policy", "Low_carbon_policy", "Dual_policy")


# ----------------------------------------------------------------------------------------------
# The panel: simulated, or the reader's
# ----------------------------------------------------------------------------------------------

def study_data(seed: int | None = None, overrides: dict | None = None) -> ChapterData:
    """The companion panel simulated from ``data/simulation/gao.yml`` (default), or the reader's
    panel named by ``$CITYPILOTS_PANEL_GAO`` (validated by :func:`load_study_panel`; no truth)."""
    path = os.environ.get(PANEL_VARIABLE, "").strip()
    if path:
        if seed is not None or overrides:
            raise ValueError(f"{PANEL_VARIABLE} is set ({path}): a real panel takes no seed or overrides")
        data = load_study_panel(path)
        cities = data.groupby("city")[["smart_year", "low_carbon_year", "dual_year"]].first().reset_index()
        source = (f"the real panel in {path} ({len(data):,} city-years, {len(cities)} cities); "
                  "there is no planted truth")
        return ChapterData(data=data, cities=cities, truth=None, source=source)
    simulated = sim.simulate_panel(seed=seed, overrides=overrides)
    note = overrides_note(overrides)
    source = (f"the panel simulated by citypilots from data/simulation/gao.yml (seed {simulated.seed}{note}): "
              "real cities and pilot calendars (the Smart City calendar almost entirely imputed), "
              "simulated employment, covariates and outcome")
    return ChapterData(data=with_design(simulated.data), cities=simulated.cities, truth=simulated.truth, source=source)


def with_design(data: pd.DataFrame) -> pd.DataFrame:
    """The panel with what every model here uses, derived from the dummies and employments where
    missing: the adoption years, the single-pilot states, years in the dual pilot, the quotient
    (:func:`citypilots.data.indices.location_quotient`, national shares from the panel's cities)
    and the two heterogeneity groups (:func:`citypilots.simulation.gao.baseline_group`)."""
    data = data.copy()
    for dummy, column in (("Smart_policy", "smart_year"), ("Low_carbon_policy", "low_carbon_year"),
                          ("Dual_policy", "dual_year")):
        if column not in data:
            first = data.loc[data[dummy] == 1].groupby("city")["year"].min()
            data[column] = data["city"].map(first).astype("Int64")
    data["Smart_only"] = data["Smart_policy"] * (1 - data["Low_carbon_policy"])
    data["Low_carbon_only"] = data["Low_carbon_policy"] * (1 - data["Smart_policy"])
    data["years_in_dual"] = (data["year"] - data["dual_year"]).clip(lower=0).fillna(0).astype(float) \
        * data["Dual_policy"]
    if Y not in data:
        data[Y] = location_quotient(data, "digital_employment", "employment").to_numpy()
    rules = load_spec("gao")["groups"]
    for trait, rule in rules.items():
        data[trait] = sim.baseline_group(data, rule["column"], rule["above"], rule["below"]).to_numpy()
    return data


def load_study_panel(path: str | Path) -> pd.DataFrame:
    """Read and validate a reader's panel; every problem is reported at once (file, row, column).

    Checks: the required columns (:data:`REQUIRED`); each cell reads as its kind (city code,
    integer year, 0/1 dummy, finite number, employments positive); known city codes, no repeated
    city-year, a balanced panel (:mod:`citypilots.data.panel`'s checks); dummies absorbing within
    a city and ``Dual_policy`` = ``Smart_policy`` x ``Low_carbon_policy``; digital employment not
    above total employment. Returns the panel with :func:`with_design`'s columns.
    """
    file = file_label(path)
    raw = read_panel_text(path)
    missing = [Problem(file, None, column, "required column is missing") for column in REQUIRED
               if column not in raw.columns]
    if missing:
        raise PanelError(missing)
    rows = pd.Series(raw.index + 2, index=raw.index)
    problems, readable = [], {}
    kinds = {"city": (CITY_CODE_PATTERN, "is not a six-digit city code"), "year": (INTEGER_PATTERN, "is not an integer"),
             **{d: (r"[01]", "is not 0 or 1") for d in DUMMIES}}
    for column in REQUIRED:
        text = raw[column]
        pattern, complaint = kinds.get(column, (DECIMAL_PATTERN, "is not a number"))
        good = text.str.fullmatch(pattern)
        if column in ("digital_employment", "employment"):
            good &= parse_numbers(text.where(good, "")) > 0
            complaint = "is not a positive number"
        problems += [Problem(file, int(rows[i]), column, f"{text[i]!r} {complaint}" if text[i] else "missing value")
                     for i in text.index[~good]]
        readable[column] = good
    keyed = readable["city"] & readable["year"]
    city = parse_numbers(raw["city"].where(readable["city"], ""))
    year = parse_numbers(raw["year"].where(readable["year"], ""))
    problems += unknown_city_problems(city, readable["city"], file, rows)
    problems += duplicate_problems(city, year, keyed, file, rows)
    if not problems:
        problems += balance_problems(city, year, keyed, file, rows)
    if problems:
        raise PanelError(problems)
    data = raw[list(REQUIRED)].copy()
    for column in REQUIRED:
        data[column] = parse_numbers(raw[column])
    data = data.astype({"city": "int64", "year": "int64", **{d: "int64" for d in DUMMIES}})
    order = data.sort_values(["city", "year"])
    for dummy in DUMMIES:
        drops = order[(order.groupby("city")[dummy].cummax() > order[dummy])]
        problems += [Problem(file, int(rows[i]), dummy, f"city {order.at[i, 'city']:06d}: 0 in {order.at[i, 'year']} "
                             "after being 1; a pilot dummy stays 1 once switched on") for i in drops.index]
    bad_dual = data.index[data["Dual_policy"] != data["Smart_policy"] * data["Low_carbon_policy"]]
    problems += [Problem(file, int(rows[i]), "Dual_policy", "is not Smart_policy x Low_carbon_policy") for i in bad_dual]
    above = data.index[data["digital_employment"] > data["employment"]]
    problems += [Problem(file, int(rows[i]), "digital_employment", "exceeds total employment") for i in above]
    if problems:
        raise PanelError(problems)
    return with_design(data.sort_values(["city", "year"]).reset_index(drop=True))


def design_data(book) -> pd.DataFrame:
    """The panel of ``book`` (a :class:`ChapterData`, or a simulated panel in a Monte Carlo run) with
    :func:`with_design`'s columns."""
    data = book.data
    return data if {"years_in_dual", *HETEROGENEITY}.issubset(data.columns) else with_design(data)


def sample_counts(book: ChapterData) -> dict:
    """How many cities, years and pilot cities the panel has (for the text)."""
    data = book.data
    per_city = data.groupby("city")[["smart_year", "low_carbon_year", "dual_year"]].first()
    counts = {"cities": data["city"].nunique(), "years": data["year"].nunique(),
              "first_year": int(data["year"].min()), "last_year": int(data["year"].max()),
              "city_years": len(data), "smart": int(per_city["smart_year"].notna().sum()),
              "low_carbon": int(per_city["low_carbon_year"].notna().sum()),
              "dual": int(per_city["dual_year"].notna().sum()),
              "dual_city_years": int(data["Dual_policy"].sum())}
    imputed = book.cities.get("smart_year_imputed")
    counts["smart_imputed"] = None if imputed is None else int(imputed.sum())
    return counts


# ----------------------------------------------------------------------------------------------
# Table 1: the multi-period DID, dual and single pilots
# ----------------------------------------------------------------------------------------------

def _truth(book, name: str, rows=None) -> float | None:
    return None if book.truth is None else book.truth.estimand(name, rows)


def baseline_fit(book) -> did.DidResult:
    """TWFE of the quotient on the dual-pilot dummy and the two single-pilot states (city and year
    effects, the three controls, clustered by city): each coefficient compares a state with
    holding neither pilot."""
    return did.twfe(book.data, Y, "Dual_policy", controls=(*SINGLES, *CONTROLS))


BASELINE_ROWS = {"both pilots (Dual_policy)": ("Dual_policy", "dual_vs_none"),
                 "Smart City only (Smart_only)": ("Smart_only", "smart_single"),
                 "Low-Carbon City only (Low_carbon_only)": ("Low_carbon_only", "low_carbon_single")}


def baseline_measure(book) -> dict:
    """Each state's coefficient, read as the realised effect of that state against neither pilot
    over the city-years in the state."""
    result = baseline_fit(book)
    return {label: headline(result, term, truth=_truth(book, estimand))
            for label, (term, estimand) in BASELINE_ROWS.items()}


def baseline_table(book, seeds=SEEDS, n_jobs: int = 1) -> pd.DataFrame:
    null_worlds = {label: sim.null_world(estimand) for label, (_, estimand) in BASELINE_ROWS.items()}
    return evidence_table(baseline_measure, book, null_worlds, seeds=seeds, spec="gao", n_jobs=n_jobs,
                          seed_truth=True)


# ----------------------------------------------------------------------------------------------
# Table 2: "1 + 1 > 2"
# ----------------------------------------------------------------------------------------------

SYNERGY_ROWS = ("dual minus Smart City only (the study's reading)", "dual minus Low-Carbon City only",
                "TWFE interaction Smart x Low-Carbon", "synergy from clean comparisons")
"""The rows of the "1 + 1 > 2" table. The TWFE interaction (Dual_policy beside Smart_policy and
Low_carbon_policy) equals the dual coefficient minus both single-state coefficients of
:func:`baseline_fit` exactly: the two regressions are one model in two parametrisations."""


def synergy_estimate(book, n_boot: int = SYNERGY_BOOTSTRAP):
    """The synergy of the two pilots (:func:`citypilots.estimators.synergy.synergy`): clean 2x2
    comparisons, single effects carried over as shares of the quotient, controls partialled out."""
    return synergy(book.data, Y, "city", "year", "low_carbon_year", "smart_year", controls=CONTROLS,
                   scale="relative", n_boot=n_boot, seed=0)


def synergy_measure(book) -> dict:
    """The study's comparison of the dual coefficient with each single one (read as the realised
    difference of the two effects, each over its own city-years), the coefficient arithmetic and
    the TWFE interaction (read as the synergy), and the synergy estimator (the synergy)."""
    base = baseline_fit(book)
    syn_truth = _truth(book, "synergy")
    dual_truth = _truth(book, "dual_vs_none")

    def minus(single: str) -> float | None:
        return None if dual_truth is None else dual_truth - _truth(book, single)

    interaction = did.twfe(book.data, Y, "Dual_policy", controls=("Smart_policy", "Low_carbon_policy", *CONTROLS))
    return {
        SYNERGY_ROWS[0]: headline(did.linear_combination(base, {"Dual_policy": 1, "Smart_only": -1}),
                                  truth=minus("smart_single")),
        SYNERGY_ROWS[1]: headline(did.linear_combination(base, {"Dual_policy": 1, "Low_carbon_only": -1}),
                                  truth=minus("low_carbon_single")),
        SYNERGY_ROWS[2]: headline(interaction, "Dual_policy", truth=syn_truth),
        SYNERGY_ROWS[3]: headline(synergy_estimate(book), truth=syn_truth),
    }


def synergy_table(book, seeds=SEEDS, n_jobs: int = 1) -> pd.DataFrame:
    """Every row's null world is the world without a synergy (the single pilots as planted)."""
    return evidence_table(synergy_measure, book, {label: sim.null_world("no_synergy") for label in SYNERGY_ROWS},
                          seeds=seeds, spec="gao", n_jobs=n_jobs, seed_truth=True)


def synergy_cells(book) -> pd.DataFrame:
    """Which comparisons identify the synergy: dual-pilot cities by order of adoption."""
    cells = synergy_estimate(book, n_boot=2).cells
    names = {"A first": "Low-Carbon first", "B first": "Smart City first", "same year": "same year"}
    table = cells.drop_duplicates(["type", "first_cohort", "dual_cohort"]).groupby("type")["n_dual"].sum()
    years = cells.groupby("type")["n_dual"].sum()
    out = pd.DataFrame({"dual-pilot cities": table, "dual-pilot city-years": years})
    out.index = [names[k] for k in out.index]
    out.index.name = "order of adoption"
    return out


# ----------------------------------------------------------------------------------------------
# Table 3 and the figure: years in the pilot
# ----------------------------------------------------------------------------------------------

DURATION_LABEL = "slope per year in the dual pilot"


def duration_measure(book) -> dict:
    """TWFE with the dual dummy, the dual dummy times years since the dual-pilot year, the single
    states and the controls; the slope is read as the realised slope of the dual effect on years
    in the dual pilot."""
    result = did.twfe(design_data(book), Y, "Dual_policy", controls=("years_in_dual", *SINGLES, *CONTROLS))
    return {DURATION_LABEL: headline(result, "years_in_dual", truth=_truth(book, "duration_slope"))}


def duration_table(book, seeds=SEEDS, n_jobs: int = 1) -> pd.DataFrame:
    return evidence_table(duration_measure, book, {DURATION_LABEL: sim.null_world("no_growth")}, seeds=seeds,
                          spec="gao", n_jobs=n_jobs, seed_truth=True)


def event_profile(book) -> tuple:
    """The event study of the quotient around the dual-pilot year (TWFE, binned end points, the
    controls; cities without both pilots are the comparison) and the realised path of ``LQ_both -
    LQ_none`` relative to the year before the dual-pilot year (None on a real panel)."""
    data = book.data.assign(dual_cohort=book.data["dual_year"].astype("Float64"))
    result = did.event_study(data, Y, "dual_cohort", controls=CONTROLS, window=EVENT_WINDOW)
    truth = None
    if book.truth is not None:
        path = book.truth.event_time_path("dual_vs_none", reference=-1)
        truth = path.loc[EVENT_WINDOW[0]:EVENT_WINDOW[1]]
    return result, truth


# ----------------------------------------------------------------------------------------------
# Table 4: mechanisms; Table 5: heterogeneity
# ----------------------------------------------------------------------------------------------

def mechanism_measure(book) -> dict:
    """For each mediator, the stepwise design with the dual dummy (single states and controls
    beside it): path a read as the realised shift of the mediator, a x b as the realised part of
    the dual effect that runs through it."""
    out = {}
    for m in sim.MEDIATORS:
        result = mediation(book.data, Y, "Dual_policy", m, controls=(*SINGLES, *CONTROLS))
        out[f"{m}: path a"] = headline(result.mediator_model, "Dual_policy", truth=_truth(book, f"mediator_shift_{m}"))
        out[f"{m}: indirect a x b"] = headline(result.sobel(), truth=_truth(book, f"mediated_{m}"))
    return out


def mechanism_table(book, seeds=SEEDS, n_jobs: int = 1) -> pd.DataFrame:
    null_worlds = {f"{m}: {part}": sim.null_world(f"mediated_{m}") for m in sim.MEDIATORS
                   for part in ("path a", "indirect a x b")}
    return evidence_table(mechanism_measure, book, null_worlds, seeds=seeds, spec="gao", n_jobs=n_jobs,
                          seed_truth=True)


HETEROGENEITY = {"economic_level": ("high", "low"), "environmental_base": ("good", "poor")}


def heterogeneity_measure(book) -> dict:
    """The dual coefficient by group, from one fully interacted TWFE per trait, and the difference;
    read as the realised dual effect over each group's dual-pilot city-years."""
    data, out = design_data(book), {}
    dual = data["Dual_policy"].to_numpy() == 1
    for trait, (top, bottom) in HETEROGENEITY.items():
        result = fully_interacted_twfe(data, Y, "Dual_policy", trait, controls=(*SINGLES, *CONTROLS),
                                       reference=bottom)
        truths = {g: _truth(book, "dual_vs_none", dual & (data[trait].to_numpy() == g)) for g in (top, bottom)}
        name = trait.replace("_", " ")
        out[f"{name}: {top}"] = headline(result, top, truth=truths[top])
        out[f"{name}: {bottom}"] = headline(result, bottom, truth=truths[bottom])
        out[f"{name}: {top} - {bottom}"] = headline(result, f"{top} - {bottom}", truth=(
            None if truths[top] is None else truths[top] - truths[bottom]))
    return out


def heterogeneity_table(book, seeds=SEEDS, n_jobs: int = 1) -> pd.DataFrame:
    """The differences' null world gives the synergy the same multiplier in every group."""
    null_worlds = {f"{t.replace('_', ' ')}: {a} - {b}": sim.null_world("no_heterogeneity")
                   for t, (a, b) in HETEROGENEITY.items()}
    return evidence_table(heterogeneity_measure, book, null_worlds, seeds=seeds, spec="gao", n_jobs=n_jobs,
                          seed_truth=True)


# ----------------------------------------------------------------------------------------------
# Numbers for the text
# ----------------------------------------------------------------------------------------------

def denominator_drop(book) -> float | None:
    """How much the pilots' digital jobs lower the quotient of cities that never join a pilot, in
    the last year, through the national share: the mean of their observed quotient over their
    quotient in the world without any pilot effect (same seed), minus one (None on real data)."""
    if book.truth is None:
        return None
    seed = book.truth.parameters["seed"]
    none = sim.simulate_panel(seed=seed, overrides=sim.null_world("dual_vs_none"))
    data = book.data
    never = data["smart_year"].isna() & data["low_carbon_year"].isna()
    last = never & (data["year"] == data["year"].max())
    return float((data.loc[last, Y].to_numpy() / none.data.loc[last.to_numpy(), Y].to_numpy() - 1).mean())


def one_plus_one(book, baseline_numbers: dict) -> dict:
    """The arithmetic the text reads: the dual, Smart-only and Low-Carbon-only coefficients, and the
    realised effects of the single pilots on the dual-pilot city-years (what the dual effect
    contains besides the synergy)."""
    values = {key: baseline_numbers[label]["estimate"] for key, label in
              zip(("dual", "smart", "low_carbon"), BASELINE_ROWS)}
    if book.truth is None:
        values.update(smart_on_dual=None, low_carbon_on_dual=None, synergy=None)
    else:
        dual = book.data["Dual_policy"].to_numpy() == 1
        values.update(smart_on_dual=book.truth.smart_single(dual), low_carbon_on_dual=book.truth.low_carbon_single(dual),
                      synergy=book.truth.synergy())
    return values


def glue_counts(book) -> None:
    """Glue the panel's counts and the chapter's settings."""
    from ..report.glue import glue_text

    counts = sample_counts(book)
    for key, value in counts.items():
        glue_text(f"gao_{key}", "(not known for this panel)" if value is None else f"{value:,}" if key not in (
            "first_year", "last_year") else str(value))
    glue_text("gao_n_seeds", f"{len(SEEDS):,}")
    units = load_cities()["unit_type"].value_counts()
    glue_text("gao_table_units", f"{int(units.sum()):,}")
    glue_text("gao_table_cities", f"{int(units.get('prefecture_city', 0)):,}")
    glue_text("gao_table_municipalities", f"{int(units.get('municipality', 0)):,}")
    glue_text("gao_syn_boot", f"{SYNERGY_BOOTSTRAP:,}")
    glue_text("gao_panel_kind", "the simulated companion panel" if book.is_simulated else "the reader's real panel")


EVIDENCE_KEYS = {"est": "estimate", "lo": "ci_low", "hi": "ci_high", "null": "null_estimate",
                 "mean": "seed_mean", "seedtruth": "seed_truth", "sd": "seed_sd"}
SHARE_KEYS = {"cov": "coverage", "rej": "rejection_rate", "nullrej": "null_rejection_rate"}


def glue_evidence(table: pd.DataFrame, keys: dict, book) -> None:
    """Glue every number of the rows of an evidence table the text quotes: ``keys`` maps a short
    key to a row label; ``<key>_truth`` is the realised truth (a note on real data)."""
    from ..report.glue import glue_number, glue_truth

    numbers = table.attrs["numbers"]
    for key, label in keys.items():
        row = numbers[label]
        glue_truth(f"{key}_truth", row["truth"] if book.is_simulated else None)
        glue_truth(f"{key}_nulltruth", row["null_truth"] if book.is_simulated else None)
        for suffix, field in EVIDENCE_KEYS.items():
            glue_number(f"{key}_{suffix}", row[field])
        for suffix, field in SHARE_KEYS.items():
            glue_number(f"{key}_{suffix}", row[field], "{:.0%}")


def glue_one_plus_one(book, baseline: pd.DataFrame) -> None:
    """Glue the arithmetic of "dual larger than single" (:func:`one_plus_one`) and the
    denominator effect (:func:`denominator_drop`)."""
    from ..report.glue import glue_number, glue_truth

    values = one_plus_one(book, baseline.attrs["numbers"])
    for key in ("dual", "smart", "low_carbon"):
        glue_number(f"opo_{key}", values[key])
    for key in ("smart_on_dual", "low_carbon_on_dual", "synergy"):
        glue_truth(f"opo_{key}", values[key])
    drop = denominator_drop(book)
    glue_truth("gao_denominator_drop", None if drop is None else -100 * drop, "{:.1f}%")


def glue_figure(key: str, figure) -> None:
    """Glue a figure for a ``glue:figure`` directive and close it."""
    import matplotlib.pyplot as plt
    from myst_nb import glue

    glue(key, figure, display=False)
    plt.close(figure)
