"""The companion chapter on Zhang and Sun (2026): the Smart City pilot and urban innovation resilience.

The chapter's panel comes from :func:`study_data`: the companion simulation
(:mod:`citypilots.simulation.zhang_sun`) or a reader's real panel named by
``$CITYPILOTS_PANEL_ZHANG_SUN``. Each table is one :func:`citypilots.report.evidence.evidence_table`
call on a module-level measure (``*_measure``), read against the realised truth of
:class:`citypilots.simulation.zhang_sun.ZhangSunTruth`, with the null worlds of
:func:`citypilots.simulation.zhang_sun.null_world` and the spread over simulated panels.

The indirect effect of a channel is reported with the first-order delta-method (Sobel 1982)
standard error, ``se(a b) = sqrt(b^2 se_a^2 + a^2 se_b^2)`` (:meth:`citypilots.estimators.mechanism.MediationResult.sobel`), because a cluster
bootstrap (:func:`citypilots.estimators.mechanism.bootstrap_mediation`) on every simulated panel
would exceed the chapter's budget; it ignores the sampling correlation of ``a`` and ``b``.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from ..data.cities import cities_present_throughout, load_cities
from ..data.panel import balance_problems, duplicate_problems, parse_numbers, read_panel_text, unknown_city_problems
from ..errors import PanelError, Problem, file_label
from ..estimators import did, fast, mechanism
from ..estimators.heterogeneity import independent_difference
from ..estimators.staggered import att_gt
from ..report.datasource import ChapterData, overrides_note
from ..report.evidence import evidence_table, headline
from ..simulation import zhang_sun as simulation
from ..simulation.specification import load_spec
from ..simulation.zhang_sun import CHANNELS, MODERATORS, TRAIT_LEVELS, TRAITS

PANEL_VARIABLE = "CITYPILOTS_PANEL_ZHANG_SUN"
SPEC = "zhang_sun"
SEEDS = range(20)
OUTCOME, TREATMENT, COHORT = "resilience", "Smart_policy", "smart_year"
ESTIMATORS = {"TWFE": "TWFE", "Callaway-Sant'Anna": "Callaway-Sant'Anna", "Sun-Abraham": "Sun-Abraham",
              "imputation (Borusyak, Jaravel and Spiess)": "imputation",
              "stacked (Wing, Freedman and Hollingsworth)": "stacked"}
"""Row label -> the estimator's name in :func:`citypilots.estimators.fast.fit_all`."""
CHANNEL_LABELS = {"knowledge_diffusion": "knowledge diffusion", "information_penetration": "information penetration",
                  "government_attention": "government attention to science"}
GROUP_LEVELS = {**TRAIT_LEVELS, "region": ("east", "central", "west")}
DIFFERENCES = {"innovation_environment": ("better", "weaker"), "region": ("east", "west"),
               "human_capital": ("low", "high"), "physical_capital": ("low", "high")}
"""The group contrast each heterogeneity row reports (the study's reading: the first is larger)."""
NUMERIC = ("resilience", *CHANNELS, *MODERATORS)
REQUIRED = ("city", "year", COHORT, *NUMERIC, *TRAITS)


# ----------------------------------------------------------------------------------------------
# The panel
# ----------------------------------------------------------------------------------------------

def study_data(seed: int | None = None, overrides: dict | None = None) -> ChapterData:
    """The simulated companion panel (default), or the real panel named by ``$CITYPILOTS_PANEL_ZHANG_SUN``
    (validated by :func:`load_study_panel`; no truth)."""
    path = os.environ.get(PANEL_VARIABLE, "").strip()
    if path:
        if seed is not None or overrides:
            raise ValueError(f"{PANEL_VARIABLE} is set ({path}): a real panel takes no seed or overrides")
        data = load_study_panel(path)
        source = (f"the real panel in {path} ({len(data):,} city-years, {data['city'].nunique()} cities), "
                  "validated by citypilots.chapters.zhang_sun.load_study_panel; there is no planted truth")
        return ChapterData(data=data, cities=_cities(data), truth=None, source=source)
    sim = simulation.simulate_panel(seed=seed, overrides=overrides)
    note = overrides_note(overrides)
    source = (f"the companion panel simulated by citypilots from data/simulation/zhang_sun.yml (seed {sim.seed}"
              f"{note}): real cities and Smart City calendar, with imputed calendar rows; simulated innovation "
              "output, channels, employment and city traits")
    return ChapterData(data=sim.data, cities=sim.cities, truth=sim.truth, source=source)


def _cities(data: pd.DataFrame) -> pd.DataFrame:
    first = data.groupby("city")[[COHORT, *TRAITS]].first().rename_axis("adcode").reset_index()
    return first.merge(load_cities().drop(columns=["region"]), on="adcode", how="left")


def load_study_panel(path: str | Path) -> pd.DataFrame:
    """A reader's panel for this chapter, read as text and checked; every problem reported at once
    (:class:`citypilots.errors.PanelError`, each naming the file, the row as a spreadsheet shows
    it and the column).

    Columns: ``city`` (six-digit code of ``data/cities.csv``), ``year``, ``smart_year`` (the
    city's first Smart City year; empty for a city never in the pilot; the same in every row of
    a city), ``resilience`` (empty only in a city's first year, where the index is undefined),
    the channels ``knowledge_diffusion``, ``information_penetration``, ``government_attention``,
    the location quotients ``LQ_manufacturing`` and ``LQ_finance`` (positive), and the groups
    ``innovation_environment`` (better / weaker), ``region`` (east / central / west),
    ``human_capital`` and ``physical_capital`` (high / low). One row per city and year, every
    city in every year (the estimators here need a balanced panel). ``Smart_policy`` is derived
    from ``smart_year``.
    """
    file = file_label(path)
    raw = read_panel_text(path)
    rows = pd.Series(np.arange(len(raw)) + 2, index=raw.index)
    missing = [Problem(file, None, column, "required column is missing") for column in REQUIRED
               if column not in raw.columns]
    if missing:
        raise PanelError(missing)
    problems: list[Problem] = []

    def bad(column: str, mask: pd.Series, message: str) -> None:
        problems.extend(Problem(file, int(rows[i]), column, f"{raw.at[i, column]!r} {message}") for i in raw.index[mask])

    city_ok = raw["city"].str.fullmatch(r"\d{6}")
    year_ok = raw["year"].str.fullmatch(r"\d{4}")
    bad("city", ~city_ok, "is not a six-digit city code")
    bad("year", ~year_ok, "is not a four-digit year")
    cohort_ok = raw[COHORT].str.fullmatch(r"\d{4}(\.0+)?") | (raw[COHORT] == "")
    bad(COHORT, ~cohort_ok, "is not a four-digit year or empty (never in the pilot)")
    number = r"-?\d+(\.\d+)?([eE][-+]?\d+)?"
    values = {}
    for column in NUMERIC:
        readable = raw[column].str.fullmatch(number)
        bad(column, ~readable & (raw[column] != ""), "is not a number")
        values[column] = parse_numbers(raw[column].where(readable, ""))
    for column in TRAITS:
        allowed = GROUP_LEVELS[column]
        bad(column, ~raw[column].isin(allowed), f"is not one of {', '.join(allowed)}")
    city = np.where(city_ok, pd.to_numeric(raw["city"].where(city_ok), errors="coerce"), np.nan)
    year = np.where(year_ok, pd.to_numeric(raw["year"].where(year_ok), errors="coerce"), np.nan)
    keyed = pd.Series(city_ok & year_ok, index=raw.index)
    problems += unknown_city_problems(city, keyed, file, rows)
    problems += duplicate_problems(city, year, keyed, file, rows)
    unique = keyed & ~pd.DataFrame({"c": city, "y": year}).duplicated()
    problems += balance_problems(city, year, unique, file, rows)
    first_year = pd.Series(year).where(keyed).groupby(pd.Series(city)).transform("min")
    for column in NUMERIC:
        empty = pd.Series(np.isnan(values[column]), index=raw.index) & (raw[column] == "")
        allowed_empty = (column == "resilience") & (pd.Series(year) == first_year)
        for i in raw.index[empty & ~allowed_empty.to_numpy()]:
            problems.append(Problem(file, int(rows[i]), column, "missing value" + (
                " (allowed only in a city's first year)" if column == "resilience" else "")))
    for column in MODERATORS:
        bad(column, pd.Series(values[column] <= 0, index=raw.index), "is not positive (a location quotient)")
    cohorts = raw[COHORT].where(cohort_ok)
    varying = cohorts.groupby(pd.Series(city, index=raw.index)).transform("nunique") > 1
    bad(COHORT, varying & keyed, "differs between rows of the same city")
    if problems:
        raise PanelError(problems)
    data = pd.DataFrame({"city": city.astype(np.int64), "year": year.astype(np.int64),
                         COHORT: parse_numbers(raw[COHORT]), **values, **{t: raw[t].to_numpy() for t in TRAITS}})
    data[TREATMENT] = (data["year"] >= data[COHORT]).astype(np.int64)
    return data.sort_values(["city", "year"]).reset_index(drop=True)


def to_csv(data: pd.DataFrame, path: str | Path) -> None:
    """Write a panel in the form :func:`load_study_panel` reads (years as integers, never = empty)."""
    frame = data.drop(columns=[TREATMENT], errors="ignore").copy()
    frame[COHORT] = frame[COHORT].astype("Int64")
    frame.to_csv(path, index=False)


def estimation_sample(data: pd.DataFrame) -> pd.DataFrame:
    """The city-years where the index is defined (every year but the first), in the panel's order."""
    return data[data[OUTCOME].notna()].reset_index(drop=True)


def describe(book) -> dict:
    """Counts and clauses the chapter's text quotes: the study's design (from the specification),
    cities, years, pilot cities by cohort, imputed calendar rows, and how the sample was drawn
    (on a real panel: the reader's cities)."""
    data, cities = book.data, book.cities
    spec = load_spec(SPEC)
    cohorts = cities[COHORT].dropna().astype(int).value_counts().sort_index()
    imputed = cities["smart_year_imputed"].fillna(False).astype(bool) if "smart_year_imputed" in cities else None
    sample = estimation_sample(data)
    first, last = int(data["year"].min()), int(data["year"].max())
    if book.truth is not None:
        candidates = len(cities_present_throughout(first))
        drawn = (f"taken in a fixed hash order from the {candidates} cities that were prefecture-level cities "
                 f"under their present code throughout {first}-{last} (a city where only a district is a Smart "
                 "City pilot stays in as a non-pilot city)")
        ramp = (f" (the simulated effect on growth ramps up over {book.truth.parameters['effects']['ramp_years']} "
                "years)")
    else:
        drawn, ramp = "those of the reader's panel", ""
    return {"study_cities": spec["sample"]["cities"],
            "study_years": f"{spec['window']['first_year']}-{spec['window']['last_year']}",
            "growth": spec["effects"]["growth"],
            "cities": int(cities["adcode"].nunique()), "first_year": first, "last_year": last,
            "first_outcome_year": int(sample["year"].min()),
            "pilot_cities": int(cohorts.sum()), "never": int(cities[COHORT].isna().sum()),
            "cohorts": {int(k): int(v) for k, v in cohorts.items()},
            "imputed": None if imputed is None else int(imputed.sum()),
            "sourced": None if imputed is None else int(cohorts.sum() - imputed.sum()),
            "city_years": len(sample), "sample_drawn": drawn, "ramp_clause": ramp}


# ----------------------------------------------------------------------------------------------
# The baseline: TWFE and the heterogeneity-robust estimators
# ----------------------------------------------------------------------------------------------

def _design(sample: pd.DataFrame) -> fast.BalancedDesign:
    return fast.BalancedDesign.from_long(sample, "city", "year", COHORT)


def _rows(book, sample_mask: np.ndarray, extra=None) -> np.ndarray:
    """A truth mask on the full panel: the estimation sample's treated rows (and ``extra``)."""
    mask = sample_mask & (book.data[TREATMENT].to_numpy() == 1)
    return mask if extra is None else mask & np.asarray(extra, dtype=bool)


def baseline_measure(book) -> dict:
    """The pilot's effect on the resilience index by five estimators (:func:`citypilots.estimators.fast.fit_all`:
    balanced panel, never-treated controls, no covariates), each read as the realised ``att``;
    the stacked DID as its own target, the same contrast weighted by its event-time design
    (``sum(W * contrast)``, :func:`citypilots.estimators.fast.weights`). One more row reads the
    Callaway-Sant'Anna estimate as the effect against the no-pilot world (``att_vs_no_pilot_world``)."""
    sample = estimation_sample(book.data)
    design = _design(sample)
    results = fast.fit_all(design, design.matrix(sample[OUTCOME]))
    truth = book.truth
    in_sample = book.data[OUTCOME].notna().to_numpy()
    att = None if truth is None else truth.att(_rows(book, in_sample))
    out = {}
    for label, name in ESTIMATORS.items():
        target = att
        if name == "stacked" and truth is not None:
            contrast = design.matrix(truth.contrast("att").to_numpy()[in_sample])
            target = float(np.nansum(fast.weights(design, "stacked") * contrast))
        out[label] = headline(results[name], truth=target)
    world = None if truth is None else truth.att_vs_no_pilot_world(_rows(book, in_sample))
    out["Callaway-Sant'Anna, read against the no-pilot world"] = headline(results["Callaway-Sant'Anna"], truth=world)
    return out


def worlds() -> dict:
    """Every null world the chapter's tables use, by name (:func:`citypilots.simulation.zhang_sun.null_world`)."""
    names = ["att", *(f"mediated_{k}" for k in CHANNELS), *(f"moderation_{m}" for m in MODERATORS),
             *(f"no_heterogeneity_{t}" for t in TRAITS)]
    return {name: simulation.null_world(name) for name in names}


def baseline_table(book, seeds=SEEDS, n_jobs: int = 1) -> pd.DataFrame:
    """The baseline table with the evidence columns; every row's null world switches the pilot off."""
    labels = [*ESTIMATORS, "Callaway-Sant'Anna, read against the no-pilot world"]
    return evidence_table(baseline_measure, book, {label: "att" for label in labels}, seeds=seeds, spec=SPEC,
                          n_jobs=n_jobs, worlds=worlds(), seed_truth=True)


def event_study(book) -> dict:
    """The event study: Callaway-Sant'Anna (never-treated controls, universal base period, dynamic
    aggregation; :func:`citypilots.estimators.staggered.att_gt`) and the TWFE event study
    (:func:`citypilots.estimators.did.event_study`, reference -1), both on the estimation sample;
    and the realised ``att`` by event time (None on a real panel)."""
    sample = estimation_sample(book.data)
    dynamic = att_gt(sample, OUTCOME, "city", "year", COHORT, base_period="universal").aggregate("dynamic")
    first, last = int(sample["year"].min()), int(sample["year"].max())
    cohorts = sample[COHORT].dropna()
    window = (int(first - cohorts.max()), int(last - cohorts.min()))
    twfe = did.event_study(sample, OUTCOME, COHORT, window=window, bin_endpoints=False)
    truth = None
    if book.truth is not None:
        truth = book.truth.event_time_path("att", rows=book.data[OUTCOME].notna().to_numpy())
    return {"results": {"Callaway-Sant'Anna (dynamic)": dynamic, "TWFE event study": twfe}, "truth": truth}


# ----------------------------------------------------------------------------------------------
# Channels and moderation
# ----------------------------------------------------------------------------------------------

def channel_measure(book) -> dict:
    """For each channel: the pilot's shift of the channel score by Callaway-Sant'Anna (read as the
    realised ``mediator_shift_<k>``), and the indirect effect ``a b`` of the study's stepwise TWFE
    mediation (:func:`citypilots.estimators.mechanism.mediation`, Sobel standard error; read as the
    realised ``mediated_<k>``)."""
    sample = estimation_sample(book.data)
    design = _design(sample)
    in_sample = book.data[OUTCOME].notna().to_numpy()
    rows = _rows(book, in_sample)
    truth = book.truth
    out = {}
    for k in CHANNELS:
        shift = fast.callaway_santanna(design, design.matrix(sample[k]))
        out[f"{CHANNEL_LABELS[k]}: shift of the channel (CS)"] = headline(
            shift, truth=None if truth is None else truth.mediator_shift(k, rows))
        paths = mechanism.mediation(sample, OUTCOME, TREATMENT, k)
        indirect = paths.sobel()
        out[f"{CHANNEL_LABELS[k]}: indirect effect a x b (TWFE)"] = headline(
            indirect, truth=None if truth is None else truth.mediated(k, rows))
    return out


def channel_table(book, seeds=SEEDS, n_jobs: int = 1) -> pd.DataFrame:
    """The channels with the evidence columns; each channel's null world switches its shift off."""
    null = {}
    for k in CHANNELS:
        null[f"{CHANNEL_LABELS[k]}: shift of the channel (CS)"] = f"mediated_{k}"
        null[f"{CHANNEL_LABELS[k]}: indirect effect a x b (TWFE)"] = f"mediated_{k}"
    return evidence_table(channel_measure, book, null, seeds=seeds, spec=SPEC, n_jobs=n_jobs, worlds=worlds(),
                          seed_truth=True)


def moderation_measure(book) -> dict:
    """The coefficient of ``Smart_policy x LQ`` (LQ centred at its mean;
    :func:`citypilots.estimators.mechanism.moderation`) for each location quotient, read as the
    realised ``moderation_<LQ>`` slope."""
    sample = estimation_sample(book.data)
    rows = _rows(book, book.data[OUTCOME].notna().to_numpy())
    out = {}
    for m in MODERATORS:
        fit = mechanism.moderation(sample, OUTCOME, TREATMENT, m)
        out[f"Smart_policy x {m}"] = headline(fit, truth=None if book.truth is None else book.truth.moderation(m, rows))
    return out


def moderation_table(book, seeds=SEEDS, n_jobs: int = 1) -> pd.DataFrame:
    """The moderation slopes with the evidence columns; each null world switches that moderation off."""
    return evidence_table(moderation_measure, book, {f"Smart_policy x {m}": f"moderation_{m}" for m in MODERATORS},
                          seeds=seeds, spec=SPEC, n_jobs=n_jobs, worlds=worlds(), seed_truth=True)


# ----------------------------------------------------------------------------------------------
# Heterogeneity
# ----------------------------------------------------------------------------------------------

def heterogeneity_measure(book) -> dict:
    """The Callaway-Sant'Anna ATT in each group of each trait (the group's own cities, treated and
    never treated), read as the realised ``att`` over the group's pilot city-years; and the study's
    contrast of two groups (:data:`DIFFERENCES`; independent samples,
    :func:`citypilots.estimators.heterogeneity.independent_difference`), read as the difference of
    the two realised effects."""
    sample = estimation_sample(book.data)
    in_sample = book.data[OUTCOME].notna().to_numpy()
    truth = book.truth
    out = {}
    for trait in TRAITS:
        fits, truths = {}, {}
        for level in GROUP_LEVELS[trait]:
            group = sample[sample[trait] == level].reset_index(drop=True)
            design = _design(group)
            fits[level] = fast.callaway_santanna(design, design.matrix(group[OUTCOME]))
            truths[level] = None if truth is None else truth.att(_rows(book, in_sample, book.data[trait] == level))
            out[f"{trait}: {level}"] = headline(fits[level], truth=truths[level])
        first, second = DIFFERENCES[trait]
        gap = independent_difference(fits[first].estimate(), fits[first].table.loc[fits[first].main_term, "std_error"],
                                     fits[second].estimate(), fits[second].table.loc[fits[second].main_term, "std_error"])
        out[f"{trait}: {first} - {second}"] = headline(
            {**gap, "estimate": gap["difference"]},
            truth=None if truth is None else truths[first] - truths[second])
    return out


def heterogeneity_table(book, seeds=SEEDS, n_jobs: int = 1) -> pd.DataFrame:
    """The groups and their contrasts with the evidence columns; a contrast's null world makes that
    trait's multipliers all 1 (its realised contrast is then near zero, not exactly zero)."""
    null = {f"{trait}: {first} - {second}": f"no_heterogeneity_{trait}"
            for trait, (first, second) in DIFFERENCES.items()}
    return evidence_table(heterogeneity_measure, book, null, seeds=seeds, spec=SPEC, n_jobs=n_jobs,
                          worlds=worlds(), seed_truth=True)
