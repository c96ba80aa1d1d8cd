"""The companion chapter on Zhu and Chen (2025): the Smart City pilot and new quality productive
forces (an entropy-weight index), its channels through human capital and science and technology,
its heterogeneity by region and city size, and Hansen's threshold in industrial-structure
upgrading.

The chapter runs on the study's simulated panel (:mod:`citypilots.simulation.zhu_chen`), or on a
reader's real panel named by ``$CITYPILOTS_PANEL_ZHU_CHEN`` (:func:`study_data`, validated, no
truth). Each table is one :func:`citypilots.report.evidence.evidence_table` call with the study's
specification (``spec="zhu_chen"``): this book's estimate, the realised truth, the null world and
the spread over seeds. Hansen's threshold is refitted on every seed without its bootstrap (the
search alone); its bootstrap test runs once, on the book's panel (and in the null world of the
same seed).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from ..data.cities import load_cities
from ..data.indices import entropy_index, entropy_weights
from ..data.panel import (absorbing_problems, balance_problems, duplicate_problems, read_panel_text,
                          unknown_city_problems, window_problems)
from ..errors import PanelError, Problem, file_label
from ..estimators import did
from ..estimators.fast import BalancedDesign, imputation
from ..estimators.heterogeneity import by_group, independent_difference
from ..estimators.mechanism import mediation
from ..report.datasource import ChapterData, overrides_note
from ..report.evidence import evidence_table, headline
from ..simulation import zhu_chen as simulation
from ..simulation.specification import load_spec
from ..threshold import panel_threshold

PANEL_VARIABLE = "CITYPILOTS_PANEL_ZHU_CHEN"
SPEC = simulation.SPEC
SEEDS = range(20)
THRESHOLD_SEEDS = range(10)
"""Seeds of the spread: 20 for the regressions, 10 for the threshold search (about a second a panel)."""
BOOTSTRAP = 300
"""Hansen's bootstrap draws on the book's panel (none in the seed runs)."""
STUDY = {"cities": load_spec(SPEC)["sample"]["cities"],
         "years": "{first_year}-{last_year}".format(**load_spec(SPEC)["window"])}
"""The study's sample as it printed it (the specification copies it)."""
CONTROLS = simulation.CONTROLS
MEDIATORS = simulation.MEDIATORS
INDICATORS = simulation.indicator_names(load_spec(SPEC))
NEGATIVE = simulation.negative_indicators(load_spec(SPEC))
REQUIRED = ("city", "year", "Smart_policy", *INDICATORS, *MEDIATORS, "ISU", *CONTROLS, "urban_population")
WORLDS = {name: simulation.null_world(name) for name in
          ("smart_city", "mediated_HC", "mediated_ST", "threshold", "region", "size")}
"""The null worlds of the chapter's tables (overrides of ``zhu_chen.yml``)."""


# ----------------------------------------------------------------------------------------------
# The panel
# ----------------------------------------------------------------------------------------------

def study_data(seed: int | None = None, overrides: dict | None = None) -> ChapterData:
    """The study's simulated panel, or the real one named by ``$CITYPILOTS_PANEL_ZHU_CHEN``."""
    path = os.environ.get(PANEL_VARIABLE, "").strip()
    if path:
        if seed is not None or overrides:
            raise ValueError(f"{PANEL_VARIABLE} is set ({path}): a real panel takes no seed or overrides")
        data = load_study_panel(path)
        cities = data.groupby("city", as_index=False)[["smart_year", "large_city"]].first()
        cities = cities.rename(columns={"city": "adcode"}).merge(load_cities(), on="adcode", how="left")
        source = (f"the real panel in {path} ({len(data):,} city-years, {data['city'].nunique()} cities), loaded "
                  "with citypilots.chapters.zhu_chen.study_data; there is no planted truth")
        return ChapterData(data=data, cities=cities, truth=None, source=source)
    sim = simulation.simulate_panel(seed=seed, overrides=overrides)
    note = overrides_note(overrides)
    source = (f"the panel simulated by citypilots from data/simulation/zhu_chen.yml (seed {sim.seed}{note}): "
              "real cities, regions and Smart City calendar (mostly imputed rows); simulated indicators, "
              "mediators, covariates and outcome")
    return ChapterData(data=sim.data, cities=sim.cities, truth=sim.truth, source=source)


def load_study_panel(path: str | Path, first_year: int = 2011, last_year: int = 2022) -> pd.DataFrame:
    """Read and check a real panel for this chapter; every problem is reported at once
    (:class:`citypilots.errors.PanelError`, with file, spreadsheet row and column).

    Required columns: :data:`REQUIRED`. Checks: columns present; ``city`` six-digit codes of
    ``data/cities.csv``; ``year`` integers in the window; ``Smart_policy`` 0 or 1 and absorbing;
    the other columns finite numbers; no city-year twice; balanced. Adds ``smart_year``, the
    ``NQP`` index (entropy weights of the panel's own indicators, ``energy`` negative) unless the
    file has it, and ``region``, ``size_class``, ``large_city``
    (:func:`citypilots.simulation.zhu_chen.add_city_groups`).
    """
    file = file_label(path)
    raw = read_panel_text(path).fillna("").astype(str)
    missing = [c for c in REQUIRED if c not in raw.columns]
    if missing:
        raise PanelError([Problem(file, None, c, "required column is missing") for c in missing])
    rows = pd.Series(raw.index + 2, index=raw.index)
    problems: list[Problem] = []
    city_ok = raw["city"].str.fullmatch(r"[0-9]{6}")
    year_ok = raw["year"].str.fullmatch(r"-?[0-9]+")
    dummy_ok = raw["Smart_policy"].isin(["0", "1"])
    for column, ok, what in (("city", city_ok, "is not a six-digit city code"), ("year", year_ok, "is not an integer"),
                             ("Smart_policy", dummy_ok, "is not 0 or 1")):
        problems += [Problem(file, int(rows[i]), column, f"{raw.at[i, column]!r} {what}") for i in raw.index[~ok]]
    numbers = {}
    for column in [c for c in REQUIRED if c not in ("city", "year", "Smart_policy")]:
        values = pd.to_numeric(raw[column].where(raw[column].str.strip() == raw[column]), errors="coerce")
        bad = ~np.isfinite(values.to_numpy(dtype=float))
        problems += [Problem(file, int(rows[i]), column, f"{raw.at[i, column]!r} is not a finite number")
                     for i in raw.index[bad]]
        numbers[column] = values
    city = pd.to_numeric(raw["city"].where(city_ok), errors="coerce").fillna(-1).astype(np.int64).to_numpy()
    year = pd.to_numeric(raw["year"].where(year_ok), errors="coerce").fillna(-1).astype(np.int64).to_numpy()
    keyed = city_ok & year_ok
    problems += window_problems(year, keyed, file, rows, first_year, last_year)
    problems += unknown_city_problems(city, city_ok, file, rows)
    problems += duplicate_problems(city, year, keyed, file, rows)
    unique = keyed & ~pd.DataFrame({"c": city, "y": year}).duplicated(keep=False).to_numpy()
    problems += balance_problems(city, year, pd.Series(unique, index=raw.index), file, rows)
    sequence = pd.DataFrame({"city": city, "year": year, "row": rows, "value": pd.to_numeric(
        raw["Smart_policy"].where(dummy_ok), errors="coerce")})[unique & dummy_ok].sort_values(["city", "year"])
    problems += absorbing_problems(sequence.astype({"value": int}), "Smart_policy", file)
    if problems:
        raise PanelError(sorted(problems, key=lambda p: (p.row or 0)))
    data = pd.DataFrame({"city": city, "year": year, "Smart_policy": raw["Smart_policy"].astype(np.int64).to_numpy(),
                         **{c: v.to_numpy(dtype=float) for c, v in numbers.items()}})
    data = data.sort_values(["city", "year"]).reset_index(drop=True)
    data["smart_year"] = data["year"].where(data["Smart_policy"] == 1).groupby(data["city"]).transform("min").astype(
        "Int64")
    if "NQP" in raw.columns:
        data["NQP"] = pd.to_numeric(raw["NQP"], errors="coerce").to_numpy()[np.argsort(np.lexsort((year, city)))]
    else:
        data["NQP"] = entropy_index(data[INDICATORS], negative=NEGATIVE).to_numpy()
    return simulation.add_city_groups(data)


# ----------------------------------------------------------------------------------------------
# Baseline DID
# ----------------------------------------------------------------------------------------------

DID_ROWS = {"TWFE with controls (the study's model)": "twfe",
            "imputation estimator, no controls (Borusyak et al.)": "imputation"}


def _truth(panel, name: str, rows=None):
    return None if panel.truth is None else panel.truth.estimand(name, rows)


def did_measure(panel) -> dict:
    """The pilot's effect on the NQP index: TWFE of NQP on Smart_policy with the controls, city and
    year effects (CRV1 by city), and the imputation estimator (never-treated and not-yet-treated
    city-years as controls); both read as ``smart_city``, the ATT on the index."""
    data = panel.data
    twfe = did.twfe(data, "NQP", "Smart_policy", CONTROLS)
    design = BalancedDesign.from_long(data, "city", "year", "smart_year")
    robust = imputation(design, design.matrix(data["NQP"]))
    truth = _truth(panel, "smart_city")
    return {label: headline(result, truth=truth)
            for label, result in zip(DID_ROWS, (twfe, robust))}


def did_table(panel, seeds=SEEDS, n_jobs: int = 1) -> pd.DataFrame:
    """The baseline table with the evidence columns; null world: the pilot does nothing."""
    return evidence_table(did_measure, panel, {label: "smart_city" for label in DID_ROWS}, seeds=seeds,
                          spec=SPEC, n_jobs=n_jobs, worlds=WORLDS, decimals=4)


# ----------------------------------------------------------------------------------------------
# Mediation
# ----------------------------------------------------------------------------------------------

def mediation_measure(panel) -> dict:
    """For each mediator M: path a (M on the pilot, read as ``mediator_shift_M``) and the indirect
    effect a b (read as ``mediated_M``: the index with the pilot against the index with the pilot
    but M held at its value without it)."""
    out = {}
    for m in MEDIATORS:
        result = mediation(panel.data, "NQP", "Smart_policy", m, CONTROLS)
        out[f"{m}: path a (pilot on {m})"] = headline(result.mediator_model, truth=_truth(panel, f"mediator_shift_{m}"))
        out[f"{m}: indirect effect a x b"] = headline(result.sobel(), truth=_truth(panel, f"mediated_{m}"))
    return out


def mediation_table(panel, seeds=SEEDS, n_jobs: int = 1) -> pd.DataFrame:
    """The channels with the evidence columns; null world: that mediator does not respond."""
    worlds = {label: f"mediated_{label[:2]}" for label in mediation_measure_labels()}
    return evidence_table(mediation_measure, panel, worlds, seeds=seeds, spec=SPEC, n_jobs=n_jobs, worlds=WORLDS,
                          decimals=4)


def mediation_measure_labels() -> list[str]:
    return [f"{m}: {row}" for m in MEDIATORS for row in (f"path a (pilot on {m})", "indirect effect a x b")]


# ----------------------------------------------------------------------------------------------
# Heterogeneity
# ----------------------------------------------------------------------------------------------

GROUPS = {"region": {"east": "east", "central": "central", "west": "west"},
          "large_city": {True: "large cities", False: "medium and small cities"}}


def _twfe(sub: pd.DataFrame):
    return did.twfe(sub, "NQP", "Smart_policy", CONTROLS)


def heterogeneity_measure(panel) -> dict:
    """TWFE with controls in each region and each size group (read as the ATT on that group's pilot
    city-years), and two differences from the disjoint samples (central - east, large - medium
    and small), read as the difference of the realised ATTs."""
    data, out, tables = panel.data, {}, {}
    for column, labels in GROUPS.items():
        tables[column] = by_group(data, column, _twfe, treatment="Smart_policy").table
        for value, label in labels.items():
            rows = (data[column] == value).to_numpy() & (data["Smart_policy"] == 1).to_numpy()
            out[label] = headline(tables[column].loc[value].to_dict(), truth=_truth(panel, "smart_city", rows))
    for label, (first, second) in {"central - east": ("central", "east"),
                                   "large - medium and small": ("large cities", "medium and small cities")}.items():
        diff = independent_difference(out[first]["estimate"], out[first]["std_error"], out[second]["estimate"],
                                      out[second]["std_error"])
        truth = None if panel.truth is None else out[first]["truth"] - out[second]["truth"]
        out[label] = headline({**diff, "estimate": diff["difference"]}, truth=truth)
    return out


def heterogeneity_table(panel, seeds=SEEDS, n_jobs: int = 1) -> pd.DataFrame:
    """The groups and differences with the evidence columns. Null worlds: no effect for the groups;
    the region (size) multipliers all 1 for the differences (their truth is then not zero: the
    channels and the threshold still act, on groups with different mixes of industry)."""
    null = {**{label: "smart_city" for labels in GROUPS.values() for label in labels.values()},
            "central - east": "region", "large - medium and small": "size"}
    return evidence_table(heterogeneity_measure, panel, null, seeds=seeds, spec=SPEC, n_jobs=n_jobs, worlds=WORLDS,
                          decimals=4)


# ----------------------------------------------------------------------------------------------
# Threshold
# ----------------------------------------------------------------------------------------------

def fit_threshold(data: pd.DataFrame, bootstrap: int = 0, seed: int = 0):
    """Hansen's (1999) single-threshold model of the study: NQP on Smart_policy, whose slope
    changes at a threshold of ISU, with the controls, city and year effects
    (:func:`citypilots.threshold.panel_threshold`; every distinct ISU value in the trimmed range
    is a candidate)."""
    return panel_threshold(data, "NQP", "Smart_policy", "ISU", controls=CONTROLS, time_effects=True,
                           bootstrap=bootstrap, seed=seed)


THRESHOLD_ROWS = ("pilot effect, ISU at or below the threshold", "pilot effect, ISU above the threshold",
                  "above - below")


def threshold_measure(panel) -> dict:
    """The regime slopes at the estimated threshold (read as the ATT on the pilot city-years on each
    side of the *estimated* threshold) and their difference (CRV1 by city)."""
    data = panel.data
    result = fit_threshold(data)
    gamma = result.thresholds[0]
    treated = (data["Smart_policy"] == 1).to_numpy()
    below = treated & (data["ISU"] <= gamma).to_numpy()
    truths = [_truth(panel, "smart_city", below), _truth(panel, "smart_city", treated & ~below)]
    rows = [headline(result.params, term=f"Smart_policy [regime {r}]", truth=t) for r, t in ((1, truths[0]), (2, truths[1]))]
    diff = did.linear_combination(result.params, {"_regime_2_Smart_policy": 1.0, "_regime_1_Smart_policy": -1.0})
    rows.append(headline(diff, truth=None if panel.truth is None else truths[1] - truths[0]))
    location = {"estimate": gamma, "ci_low": result.confidence_intervals[0][0],
                "ci_high": result.confidence_intervals[0][1]}
    design = None if panel.truth is None else panel.truth.threshold_value
    return {**dict(zip(THRESHOLD_ROWS, rows)), "threshold location": headline(location, truth=design)}


def threshold_table(panel, seeds=THRESHOLD_SEEDS, n_jobs: int = 1) -> pd.DataFrame:
    """The threshold model with the evidence columns. Null worlds: no effect for the regimes; no
    threshold (the same effect on both sides) for the difference. The location row's truth is the
    design's threshold (the one number here that is a parameter, not a realised contrast; its
    coverage is that of the likelihood-ratio interval)."""
    null = {THRESHOLD_ROWS[0]: "smart_city", THRESHOLD_ROWS[1]: "smart_city", THRESHOLD_ROWS[2]: "threshold"}
    table = evidence_table(threshold_measure, panel, null, seeds=seeds, spec=SPEC, n_jobs=n_jobs, worlds=WORLDS,
                           decimals=4)
    n = len(list(seeds))
    for column in [("This book", "s.e."), (f"Over {n} seeds", "rejects 0"), ("Truth", "realised")]:
        if column == ("Truth", "realised"):
            value = table.loc["threshold location", column]
            table.loc["threshold location", column] = f"{value} (design)" if value else value
        else:
            table.loc["threshold location", column] = ""
    return table


def threshold_tests(panel, bootstrap: int = BOOTSTRAP) -> pd.DataFrame:
    """Hansen's F test of one threshold against none, with its bootstrap p-value (``bootstrap``
    draws), on the chapter's panel and, where it is simulated, on the same seed with no threshold.
    The fits are in ``attrs["results"]`` (label -> :class:`~citypilots.estimators.threshold.ThresholdResult`)."""
    panels = {"this panel": panel.data}
    if panel.truth is not None:
        panels["null world: no threshold"] = simulation.simulate_panel(overrides=WORLDS["threshold"]).data
    rows, results = {}, {}
    for label, data in panels.items():
        results[label] = result = fit_threshold(data, bootstrap=bootstrap)
        low, high = result.confidence_intervals[0]
        rows[label] = {"threshold": result.thresholds[0], "95% interval (LR)": f"[{low:.4g}, {high:.4g}]",
                       "F": result.f_stats[0], "bootstrap p": result.p_values[0], "draws": bootstrap}
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.attrs["results"] = results
    return table


# ----------------------------------------------------------------------------------------------
# Describing the panel
# ----------------------------------------------------------------------------------------------

def panel_facts(panel) -> dict:
    """Counts the chapter's text quotes: cities, years, pilot cities and their imputed years,
    adoption years, regions and size groups, and the index's weights."""
    data = panel.data
    first = data.groupby("city")["smart_year"].first()
    pilots = first.dropna()
    cities = panel.cities.set_index("adcode")
    imputed = (int(cities.loc[pilots.index, "smart_year_imputed"].fillna(False).sum())
               if "smart_year_imputed" in cities else None)
    weights = entropy_weights(data[INDICATORS], NEGATIVE)
    return {"cities": data["city"].nunique(), "years": f"{data['year'].min()}-{data['year'].max()}",
            "n_years": data["year"].nunique(), "city_years": len(data), "pilot_cities": len(pilots),
            "pilot_imputed": imputed, "adoption_years": sorted(int(y) for y in pilots.unique()),
            "pilot_city_years": int(data["Smart_policy"].sum()),
            "large_cities": int(data.groupby("city")["large_city"].first().sum()),
            "regions": data.groupby("city")["region"].first().value_counts().to_dict(),
            "weights": weights}


def index_weights_table(panel) -> pd.DataFrame:
    """The entropy weights of the NQP index's indicators on the chapter's panel, with each
    indicator's mean and SD and whether less is better."""
    data = panel.data
    weights = entropy_weights(data[INDICATORS], NEGATIVE)
    return pd.DataFrame({"mean": data[INDICATORS].mean().round(3), "SD": data[INDICATORS].std().round(3),
                         "less is better": [name in NEGATIVE for name in INDICATORS],
                         "entropy weight": weights.round(3)}).rename_axis("indicator")
