"""The robustness chapter: the paper's Figure 3 and Tables 4 and 5 rebuilt with the evidence
behind each number, and the checks a referee adds (wild cluster bootstrap, the placebo in null
worlds, the supervised listing's pre-trends, sensitivity to pre-trends).

Each function takes the chapter's panel (``book``: anything with ``.data``, ``.cities`` and
``.truth``, which is None on a reader's real panel) and returns what the chapter shows. The
measures (``*_measure``) fit the headline numbers of one table on one panel; they are
module-level so that :func:`citypilots.report.evidence.evidence_table` can run them in worker
processes over seeds and null worlds (and cache them, keyed by their source). Functions named
``*_texts`` return the numbers a paragraph quotes, as text (key -> text), for :func:`glue_all`;
on a real panel a number that needs the simulation's truth becomes a short note.

The permutation placebo and the wild cluster bootstrap are matrix products here
(:mod:`citypilots.estimators.placebo`, :mod:`citypilots.estimators.bootstrap`), so the chapter's
1,000 permutations and 9,999 bootstrap draws cost about a second; the seed runs and null worlds
of :func:`inference_table` use :data:`SEED_RUN_PLACEBO_DRAWS` and :data:`SEED_RUN_BOOTSTRAP_REPS`
a panel, which keeps the chapter's cold Monte Carlo within its budget.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping

import numpy as np
import pandas as pd

from ..data.panel import CONTROLS
from ..data.paper import load_descriptives, load_estimates, load_findings, printed
from ..data.samples import adoption_order
from ..estimators import bootstrap, did, instruments, matching, placebo, pretrends
from ..estimators.robustness import shift_within_unit
from ..report.evidence import evidence_table, headline, with_paper
from ..report.glue import NO_TRUTH, NOT_COMPUTED, glue_text, number_text, p_text
from ..simulation.generator import simulate_panel
from ..simulation.montecarlo import replicate
from ..simulation.specification import load_spec, null_world

SEED = 20080101
"""The seed of the permutations and of the bootstrap weights (the chapter's and every seed run's)."""
PLACEBO_DRAWS = 1000
BOOTSTRAP_REPS = 9999
SEED_RUN_PLACEBO_DRAWS = 199
SEED_RUN_BOOTSTRAP_REPS = 999
"""The draws of each simulated panel of the seed runs and null worlds of :func:`inference_table`
(a rejection at 5% needs no more: the smallest p-values they can give are 0.005 and 0.001)."""
SEEDS = range(20)
OTHER_POLICIES = ("Made_in_China_2025", "Broadband_China", "Supervision")
POLICY_NAMES = {"Made_in_China_2025": "Made in China 2025", "Broadband_China": "Broadband China",
                "Supervision": "supervised listing"}
PSM = {"group": "dual_city", "covariates": CONTROLS, "caliper": 0.01, "strata": "year"}
"""The matching of Table 4, column 3: a logit score of "ever a dual-pilot city" on the controls,
nearest neighbour within each year, with replacement, caliper 0.01."""
LEAD_YEARS = 2
"""Table 5, column 5: the outcome two years later."""
LISTING_WINDOW = (-4, 4)
NULL_WORLD_NAMES = {"dual_vs_none": "both pilots' effects off", "synergy": "synergy and mediation off"}


# ----------------------------------------------------------------------------------------------
# The panel and the glue
# ----------------------------------------------------------------------------------------------

def has(data: pd.DataFrame, *columns: str) -> bool:
    """Whether the panel has every column, with no empty cell (optional columns of a real panel)."""
    return all(name in data.columns and data[name].notna().all() for name in columns)


def pilot_city_rows(data: pd.DataFrame) -> np.ndarray:
    """The city-years of cities that ever hold a pilot (dual or single)."""
    return (data["innovative_year"].notna() | data["smart_year"].notna()).to_numpy()


def prepare_panel(book) -> pd.DataFrame:
    """The chapter's panel with the columns its checks add: ``dual_city`` (ever a dual-pilot city),
    ``Safety_lead2`` (deaths two years later, :func:`shift_within_unit`) and, where the panel has
    ``universities``, its base-year count and that count times the years since the first year."""
    data = book.data.copy()
    data["dual_city"] = data["dual_year"].notna().astype(int)
    data[f"Safety_lead{LEAD_YEARS}"] = shift_within_unit(data, "Safety", LEAD_YEARS)
    if has(data, "universities"):
        first_count = data.sort_values("year").groupby("city")["universities"].first()
        data["universities_base"] = data["city"].map(first_count).astype(float)
        data["universities_base_x_trend"] = data["universities_base"] * (data["year"] - data["year"].min())
    return data


def glue_all(texts: Mapping[str, str]) -> None:
    """Glue every key -> text of ``texts`` (see :func:`citypilots.report.glue.glue_text`)."""
    for key, text in texts.items():
        glue_text(key, text)


def glue_figure(key: str, figure) -> None:
    """Glue a matplotlib figure under ``key`` for a ``{glue:figure}`` directive, and close it."""
    import matplotlib.pyplot as plt
    from myst_nb import glue

    glue(key, figure, display=False)
    plt.close(figure)


def _count(value) -> str:
    return f"{int(value):,}"


def _number(value, fmt: str = "{:.3f}") -> str:
    return number_text(value, fmt)


def _truth(value, fmt: str = "{:.3f}") -> str:
    return number_text(value, fmt, NO_TRUTH)


def _words(items) -> str:
    items = [str(item) for item in items]
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


NUMBER_WORDS = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 7: "seven", 8: "eight",
                9: "nine", 10: "ten", 11: "eleven", 12: "twelve"}


def in_words(n: int) -> str:
    """A small count in words (``nine``), larger ones as digits."""
    return NUMBER_WORDS.get(int(n), f"{int(n):,}")


def panel_texts(book) -> dict:
    """The panel's counts and the design numbers the chapter quotes, and the baseline estimate."""
    from ..data.pilots import adoption_years

    data = book.data
    cities = data.groupby("city")
    dual_cities = int(data.loc[data["dual_year"].notna(), "city"].nunique())
    spec = load_spec()
    first, last = int(data["year"].min()), int(data["year"].max())
    simulated = book.truth is not None
    baseline = did.twfe(data, "Safety", "Dual_policy", controls=CONTROLS)
    texts = {
        "data_source": book.source,
        "figure_data": (f"Data: the simulated panel ({cities.ngroups} real cities, {first}-{last}; pilot calendars "
                        "partly imputed; covariates and outcomes simulated)." if simulated else
                        f"Data: the reader's real panel ({cities.ngroups} cities, {first}-{last})."),
        "n_cities": _count(cities.ngroups),
        "n_clusters_minus_one": _count(cities.ngroups - 1),
        "n_city_years": _count(len(data)),
        "n_years": _count(data["year"].nunique()),
        "n_years_words": in_words(data["year"].nunique()),
        "first_year": str(first), "last_year": str(last),
        "n_dual_cities": _count(dual_cities),
        "n_dual_city_years": _count((data["Dual_policy"] == 1).sum()),
        "n_pilot_cities": _count(data.loc[pilot_city_rows(data), "city"].nunique()),
        "baseline_book": _number(baseline.estimate()),
        "baseline_paper": printed(2, 2, "Dual_policy")["raw_estimate"],
        "truth_dual_vs_none": _truth(None if not simulated else book.truth.dual_vs_none()),
        "spec_university_growth": f"{100 * spec['instrument']['growth_per_year']:.1f}",
        "broadband_years": _words(sorted(int(y) for y in adoption_years("broadband_china")["year"].unique())),
    }
    cities_table = book.cities.set_index("adcode")
    order = adoption_order(cities_table["innovation_year"], cities_table["smart_year"])
    texts["n_innovation_first"] = _count((order == "innovation first").sum())
    texts["n_smart_first"] = _count((order == "smart first").sum())
    for name, key in [("Made_in_China_2025", "mic"), ("Supervision", "supervision")]:
        policy = spec["other_policies"][name]
        texts[f"spec_{key}_cities"] = str(policy["cities"])
        texts[f"spec_{key}_years"] = f"{min(policy['years'])} and {max(policy['years'])}"
    return texts


# ----------------------------------------------------------------------------------------------
# Figure 3: the permutation placebo
# ----------------------------------------------------------------------------------------------

def placebo_texts(result: placebo.PlaceboResult) -> dict:
    """What the paragraph under Figure 3 quotes from the placebo ``result``."""
    draws = result.draws["estimate"].dropna()
    real = result.real.estimate()
    as_extreme = int((draws.abs() >= abs(real)).sum())
    finding = next(item for item in load_findings() if item["section"] == "placebo")
    paper_text = next(number["value"] for number in finding["numbers"]
                      if number.get("what", "").startswith("baseline dual-pilot coefficient"))
    return {
        "placebo_real": _number(real),
        "placebo_paper_text": _number(paper_text),
        "placebo_n_draws": _count(result.n_draws),
        "placebo_as_extreme": _count(as_extreme),
        "placebo_ri_p": p_text(result.p_value, result.n_draws),
        "placebo_mean": _number(draws.mean()),
        "placebo_sd": _number(draws.std()),
        "placebo_range": f"{draws.min():.3f} to {draws.max():.3f}",
        "placebo_share_10": f"{100 * result.share_significant(0.1):.1f}",
        "placebo_share_5": f"{100 * result.share_significant(0.05):.1f}",
        "placebo_position": ("lies outside all of them" if as_extreme == 0 else
                             f"is matched or exceeded in absolute value by {as_extreme:,} of them"),
    }


def placebo_in_world(effect: str | None, pilot_cities_only: bool = False, draws: int = PLACEBO_DRAWS,
                     seed: int | None = None) -> placebo.PlaceboResult:
    """The chapter's placebo on the panel simulated with the book's seed (or ``seed``) in the null
    world of ``effect`` (None: the book's world), on all cities or on the pilot cities only."""
    simulated = simulate_panel(seed=seed, overrides=None if effect is None else null_world(effect))
    data = simulated.data
    if pilot_cities_only:
        data = data[pilot_city_rows(data)]
    return placebo.permutation_placebo(data, "Safety", "dual_year", CONTROLS, draws=draws, seed=SEED,
                                       progress=False)


# ----------------------------------------------------------------------------------------------
# Inference: clustered t-test, wild cluster bootstrap, placebo (coefficient, t-statistic, pilot cities)
# ----------------------------------------------------------------------------------------------

INFERENCE_ROWS = ("clustered t-test, t(G-1)", "wild cluster bootstrap (WCR)",
                  "placebo on the coefficient, all cities", "placebo on the t-statistic, all cities",
                  "placebo on the coefficient, pilot cities only")
PLACEBO_ROWS = INFERENCE_ROWS[2:]


def no_effect_overrides() -> dict:
    """A world in which nothing acts on deaths: neither pilot, no other policy, no spillover
    (the overrides of three null worlds at once); what is left is the outcome's own noise."""
    spec = load_spec()
    return {**null_world("dual_vs_none"), **null_world("spillover"),
            **{f"effects.other_policies.{name}": 0.0 for name in spec["effects"]["other_policies"]}}


INFERENCE_WORLDS = {"both pilots' effects off": "dual_vs_none", "synergy and mediation off": "synergy",
                    "no policy acts at all": None}
"""The null worlds of :func:`inference_table`, by the name the table prints: a null world of
:func:`citypilots.simulation.specification.null_world`, or None for :func:`no_effect_overrides`."""


def _world_overrides(effect: str | None) -> dict:
    return no_effect_overrides() if effect is None else null_world(effect)


def inference_measure(book, placebo_draws: int = PLACEBO_DRAWS, bootstrap_reps: int = BOOTSTRAP_REPS) -> dict:
    """The baseline TWFE coefficient with five tests of "no effect": the clustered t-test, the
    wild cluster bootstrap (``bootstrap_reps`` Rademacher draws) and the permutation placebo
    (``placebo_draws`` draws) on the coefficient and on the t-statistic, and on the coefficient
    among the pilot cities only.

    Read as: both pilots against none over the dual-pilot city-years (all cities); the second
    pilot given the first over the same city-years (pilot cities, whose controls are the
    single-pilot cities). The placebo rows have no interval.
    """
    data, truth = book.data, book.truth
    fit = did.twfe(data, "Safety", "Dual_policy", controls=CONTROLS)
    wild = bootstrap.wild_cluster_bootstrap(fit, reps=bootstrap_reps, seed=SEED)
    dual_vs_none = None if truth is None else truth.dual_vs_none()
    second = None if truth is None else truth.second_given_first()
    every = placebo.permutation_placebo(data, "Safety", "dual_year", CONTROLS, draws=placebo_draws, seed=SEED,
                                        progress=False)
    pilots = placebo.permutation_placebo(data[pilot_city_rows(data)], "Safety", "dual_year", CONTROLS,
                                         draws=placebo_draws, seed=SEED, progress=False)

    def of(result, p_value, target):
        return headline({"estimate": result.real.estimate(), "std_error": result.real.std_error(),
                         "p_value": p_value}, truth=target)

    return {INFERENCE_ROWS[0]: headline(fit, truth=dual_vs_none),
            INFERENCE_ROWS[1]: headline(wild, truth=dual_vs_none),
            INFERENCE_ROWS[2]: of(every, every.p_value, dual_vs_none),
            INFERENCE_ROWS[3]: of(every, every.p_value_t, dual_vs_none),
            INFERENCE_ROWS[4]: of(pilots, pilots.p_value, second)}


def flat_measure(measure, panel) -> dict:
    """``measure(panel)`` as :func:`citypilots.simulation.montecarlo.replicate` needs it: one
    flat dict of numbers, keys ``label|estimate``, ``label|p_value``, ..."""
    return {f"{label}|{key}": value for label, values in measure(panel).items() for key, value in values.items()}


def inference_table(book, seeds=SEEDS, n_jobs: int = 1) -> pd.DataFrame:
    """Five tests of "the dual pilot did nothing" on the baseline TWFE coefficient.

    Columns: this panel's estimate and p-value (:data:`PLACEBO_DRAWS` permutations,
    :data:`BOOTSTRAP_REPS` bootstrap draws; a resampling p-value at its floor printed as a bound)
    and the realised truth it is read as; over ``seeds``, the rejection rate (power) and the
    coverage of the 95% interval of each panel's own truth; and for each world of
    :data:`INFERENCE_WORLDS`, the estimate on the book's seed and the rejection rate over the
    seeds (in "no policy acts at all", the test's size). The seed runs use
    :data:`SEED_RUN_PLACEBO_DRAWS` permutations and :data:`SEED_RUN_BOOTSTRAP_REPS` bootstrap
    draws a panel. Built with :func:`citypilots.simulation.montecarlo.replicate` (cached), as
    :func:`citypilots.report.evidence.evidence_table` is, because this table needs a p-value
    column and three null worlds for every row.

    ``attrs["numbers"]``: label -> the unrounded numbers (``estimate``, ``p_value``, ``truth``,
    ``rejection_rate``, ``coverage`` and, per world name, ``<world>|estimate``,
    ``<world>|rejection_rate``, ``<world>|seed_mean``).
    """
    seeds = list(seeds)
    own_seed = load_spec()["seed"]
    measure = functools.partial(flat_measure, functools.partial(
        inference_measure, placebo_draws=SEED_RUN_PLACEBO_DRAWS, bootstrap_reps=SEED_RUN_BOOTSTRAP_REPS))
    spread = replicate(measure, seeds=seeds, n_jobs=n_jobs, progress=False)
    worlds = {name: replicate(measure, seeds=[own_seed, *[s for s in seeds if s != own_seed]],
                              overrides=_world_overrides(effect), n_jobs=n_jobs, progress=False)
              for name, effect in INFERENCE_WORLDS.items()}
    here = inference_measure(book, placebo_draws=PLACEBO_DRAWS, bootstrap_reps=BOOTSTRAP_REPS)
    draws = dict(zip(INFERENCE_ROWS, (None, BOOTSTRAP_REPS, PLACEBO_DRAWS, PLACEBO_DRAWS, PLACEBO_DRAWS)))

    def share(value) -> str:
        return "" if value is None or math.isnan(value) else f"{value:.0%}"

    records, numbers = {}, {}
    for label in INFERENCE_ROWS:
        column = lambda key: spread[f"{label}|{key}"].to_numpy(dtype=float)  # noqa: E731
        covered = (column("ci_low") <= column("truth")) & (column("truth") <= column("ci_high"))
        n = {**here[label], "rejection_rate": float((column("p_value") < 0.05).mean()),
             "coverage": math.nan if label in PLACEBO_ROWS else float(covered.mean()), "seeds": len(seeds)}
        record = {("This panel", "estimate"): f"{n['estimate']:.3f}",
                  ("This panel", "p-value"): p_text(n["p_value"], draws[label]),
                  ("Truth", "realised"): "" if math.isnan(n["truth"]) else f"{n['truth']:.3f}",
                  (f"Over {len(seeds)} seeds", "rejects 0"): share(n["rejection_rate"]),
                  (f"Over {len(seeds)} seeds", "coverage"): share(n["coverage"])}
        for name, rows in worlds.items():
            estimates = rows[f"{label}|estimate"].to_numpy(dtype=float)
            n[f"{name}|estimate"] = float(estimates[0])
            n[f"{name}|p_value"] = float(rows[f"{label}|p_value"].iloc[0])
            n[f"{name}|seed_mean"] = float(estimates[1:].mean())
            n[f"{name}|rejection_rate"] = float((rows[f"{label}|p_value"].iloc[1:] < 0.05).mean())
            record[(f"Null world: {name}", "estimate")] = f"{n[f'{name}|estimate']:.3f}"
            record[(f"Null world: {name}", f"rejects 0 over {len(seeds)} seeds")] = share(n[f"{name}|rejection_rate"])
        records[label], numbers[label] = record, n
    table = pd.DataFrame.from_dict(records, orient="index")
    table.columns = pd.MultiIndex.from_tuples(table.columns)
    table.attrs["numbers"] = numbers
    return table


def inference_texts(table: pd.DataFrame, wild, baseline, figure3: placebo.PlaceboResult) -> dict:
    """The numbers the inference paragraphs quote: from :func:`inference_table`, the chapter's own
    bootstrap ``wild``, the ``baseline`` fit and the placebo of Figure 3; and the placebo with
    :data:`PLACEBO_DRAWS` permutations on the book's seed with the synergy and mediation off."""
    from scipy import stats

    numbers = table.attrs["numbers"]
    low, high = baseline.conf_int()
    wild_low, wild_high = wild.conf_int()
    texts = {
        "wild_reps": _count(wild.extra["reps"]),
        "wild_p": p_text(wild.table["p_value"].iloc[0], wild.extra["reps"]),
        "wild_interval": f"{wild_low:.3f} to {wild_high:.3f}",
        "conventional_interval": f"{low:.3f} to {high:.3f}",
        "wild_critical": f"{wild.extra['critical_value']:.2f}",
        "baseline_t": f"{baseline.estimate() / baseline.std_error():.1f}",
        "baseline_se": _number(baseline.std_error()),
        "t_critical": f"{stats.t.ppf(0.975, baseline.extra['n_clusters'] - 1):.2f}",
        "n_seeds": _count(numbers[INFERENCE_ROWS[0]]["seeds"]),
        "seed_run_placebo_draws": _count(SEED_RUN_PLACEBO_DRAWS),
        "seed_run_bootstrap_reps": _count(SEED_RUN_BOOTSTRAP_REPS),
        "placebo_t_p": p_text(figure3.p_value_t, figure3.n_draws),
        "placebo_draw_sd": _number(figure3.draws["estimate"].std()),
    }
    keys = dict(zip(INFERENCE_ROWS, ("ttest", "wild", "placebo", "placebo_t", "placebo_pilots")))
    worlds = {"both pilots' effects off": "null", "synergy and mediation off": "no_synergy",
              "no policy acts at all": "noise"}
    for label, key in keys.items():
        n = numbers[label]
        texts[f"{key}_power"] = f"{100 * n['rejection_rate']:.0f}"
        for world, suffix in worlds.items():
            texts[f"{key}_{suffix}_rejects"] = f"{100 * n[f'{world}|rejection_rate']:.0f}"
            texts[f"{key}_{suffix}_estimate"] = _number(n[f"{world}|estimate"])
            texts[f"{key}_{suffix}_mean"] = _number(n[f"{world}|seed_mean"])
    texts["ttest_coverage"] = f"{100 * numbers[INFERENCE_ROWS[0]]['coverage']:.0f}"
    texts["wild_coverage"] = f"{100 * numbers[INFERENCE_ROWS[1]]['coverage']:.0f}"
    for key, pilots in [("placebo_no_synergy", False), ("placebo_pilots_no_synergy", True)]:
        result = placebo_in_world("synergy", pilot_cities_only=pilots)
        texts[f"{key}_p"] = p_text(result.p_value, result.n_draws)
        texts[f"{key}_real"] = _number(result.real.estimate())
    nulled = simulate_panel(overrides=null_world("synergy")).truth
    texts["no_synergy_truth_synergy"] = _number(nulled.synergy())
    texts["no_synergy_truth_dual"] = _number(nulled.dual_vs_none())
    texts["no_synergy_truth_second"] = _number(nulled.second_given_first())
    return texts


# ----------------------------------------------------------------------------------------------
# Table 4: 2SLS, PSM-DID and the death rate
# ----------------------------------------------------------------------------------------------

TABLE4_ROWS = {"(2) 2SLS, second stage": (2, "Dual_policy"), "(3) PSM-DID": (3, "Dual_policy"),
               "(4) deaths per 100 million yuan of GDP": (4, "Dual_policy")}
WORLD_NAMES = {"dual_vs_none": "both pilots' effects", **{name: f"{POLICY_NAMES[name]}'s effect"
                                                          for name in OTHER_POLICIES}}


def name_null_worlds(table: pd.DataFrame, null_worlds: Mapping[str, str]) -> pd.DataFrame:
    """``table`` (from :func:`citypilots.report.evidence.evidence_table`) with a column saying
    which effect each row's null world switches off, in front of the null-world estimate."""
    named = table.copy()
    position = list(named.columns).index(("Null world", "estimate"))
    named.insert(position, ("Null world", "switched off"),
                 [WORLD_NAMES.get(null_worlds.get(label), "") for label in named.index])
    named.attrs = dict(table.attrs)
    return named


def gdp_in_100m_yuan(data: pd.DataFrame) -> np.ndarray:
    """GDP in 100 million yuan, the denominator of ``death_rate`` (``100 x Safety / 10^lnGDP``)."""
    return np.power(10.0, data["lnGDP"].to_numpy(dtype=float)) / 100


def run_psm(data: pd.DataFrame) -> matching.MatchedDid:
    """Table 4, column 3: :func:`citypilots.estimators.matching.psm_did` with the chapter's :data:`PSM`."""
    frame = data if "dual_city" in data else data.assign(dual_city=data["dual_year"].notna().astype(int))
    return matching.psm_did(frame, "Safety", "Dual_policy", **PSM)


def psm_dual_rows(data: pd.DataFrame, psm: matching.MatchedDid) -> np.ndarray:
    """The panel's dual-pilot city-years that the matched sample keeps (``data`` by position)."""
    kept = np.zeros(len(data), dtype=bool)
    kept[psm.sample.index.to_numpy()] = True
    return kept & (data["Dual_policy"].to_numpy() == 1)


def table4_measure(book) -> dict:
    """Table 4's columns 2-4 on one panel, each read as both pilots against none: 2SLS over the
    dual-pilot city-years; PSM-DID over the dual-pilot city-years its matched sample keeps; the
    death rate per 100 million yuan of GDP over the dual-pilot city-years (each city-year's
    contrast divided by its GDP, which no pilot moves in the simulation)."""
    data, truth = book.data.reset_index(drop=True), book.truth
    dual = data["Dual_policy"].to_numpy() == 1

    def target(rows, per=None):
        return None if truth is None else truth.estimand("dual_vs_none", rows, per=per)

    out = {}
    if has(data, "universities"):
        iv = instruments.iv_2sls(data, "Safety", "Dual_policy", "universities", controls=CONTROLS)
        out["(2) 2SLS, second stage"] = headline(iv, truth=target(dual))
    psm = run_psm(data)
    out["(3) PSM-DID"] = headline(psm.result, truth=target(psm_dual_rows(data, psm)))
    if has(data, "death_rate"):
        rate = did.twfe(data, "death_rate", "Dual_policy", controls=CONTROLS)
        out["(4) deaths per 100 million yuan of GDP"] = headline(rate, truth=target(dual, per=gdp_in_100m_yuan(data)))
    return out


def table4(book, seeds=SEEDS, n_jobs: int = 1) -> pd.DataFrame:
    """Table 4, columns 2-4: the paper's number beside this book's, the realised truth, the null
    world (both pilots' effects off) and the spread over ``seeds``."""
    null_worlds = {label: "dual_vs_none" for label in TABLE4_ROWS}
    table = evidence_table(table4_measure, book, null_worlds, seeds=seeds, n_jobs=n_jobs)
    paper = {label: printed(4, column, term) for label, (column, term) in TABLE4_ROWS.items()}
    return name_null_worlds(with_paper(table, paper), null_worlds)


def _evidence_texts(prefix: str, n: Mapping | None) -> dict:
    """The evidence columns of one row of an evidence table, as text under ``prefix_*``."""
    if n is None:
        return {f"{prefix}_{key}": NOT_COMPUTED for key in ("estimate", "se", "truth", "null", "null_mean",
                                                             "mean", "sd", "seed_truth", "coverage", "rejects",
                                                             "null_rejects")}
    return {f"{prefix}_estimate": _number(n["estimate"]), f"{prefix}_se": _number(n["std_error"]),
            f"{prefix}_truth": _truth(None if math.isnan(n["truth"]) else n["truth"]),
            f"{prefix}_null": _number(n["null_estimate"]), f"{prefix}_null_mean": _number(n.get("null_seed_mean")),
            f"{prefix}_mean": _number(n["seed_mean"]), f"{prefix}_sd": _number(n["seed_sd"]),
            f"{prefix}_seed_truth": _number(n["seed_truth"]), f"{prefix}_coverage": f"{100 * n['coverage']:.0f}",
            f"{prefix}_rejects": f"{100 * n['rejection_rate']:.0f}",
            f"{prefix}_null_rejects": f"{100 * n['null_rejection_rate']:.0f}"}


def table4_texts(table: pd.DataFrame) -> dict:
    """The evidence numbers of Table 4's three rows (keys ``iv_*``, ``psm_*``, ``rate_*``)."""
    numbers = table.attrs["numbers"]
    texts = {"t4_seeds": _count(next(iter(numbers.values()))["seeds"])}
    for prefix, label in zip(("iv", "psm", "rate"), TABLE4_ROWS):
        texts.update(_evidence_texts(f"{prefix}_ev", numbers.get(label)))
    return texts


def first_stage_statistics(iv) -> pd.DataFrame:
    """Table 4, column 1 and the identification statistics under it, each beside the paper's
    number and the paper's label. With one instrument and one endogenous regressor the
    cluster-robust first-stage F (the squared clustered t of the instrument) and the
    Kleibergen-Paap rk Wald F are the same statistic; both are computed, independently.
    ``iv`` None (a panel without ``universities``) gives a one-row note."""
    if iv is None:
        return pd.DataFrame({"not computed": ["2SLS needs the column universities, which this panel does not "
                                              "have (complete)."]})
    first = iv.extra["first_stage"]
    term = first.main_term
    clustered_f = (first.estimate(term) / first.std_error(term)) ** 2
    lm = iv.extra["kp_rk_lm"]
    rows = [
        ("(1) first stage: coefficient of universities", "IV",
         f"{first.estimate(term):.4f} ({first.std_error(term):.4f})"),
        ("first-stage F, cluster-robust (squared clustered t)", "First_stage_F", f"{clustered_f:.3f}"),
        ("Kleibergen-Paap rk Wald F (cluster-robust)", "KP_Wald_rk_F", f"{iv.extra['kp_rk_wald_F']:.3f}"),
        ("Kleibergen-Paap rk LM (p-value)", "KP_rk_LM", f"{lm['statistic']:.3f} ({p_text(lm['p_value'])})"),
        ("first-stage F, not cluster-robust", None, f"{iv.extra['first_stage_F']:.3f}"),
    ]
    estimates = load_estimates()
    records = {}
    for label, paper_term, value in rows:
        paper = None if paper_term is None else printed(4, 1, paper_term)
        printed_label = ("" if paper_term is None else
                         str(estimates[(estimates["table"] == 4) & (estimates["term"] == paper_term)]
                             .iloc[0]["printed_label"]))
        se = "" if paper is None or not isinstance(paper["raw_se"], str) else paper["raw_se"]
        records[label] = {("Paper", "printed"): "" if paper is None else f"{paper['raw_estimate']} {se}".strip(),
                          ("Paper", "its label"): printed_label,
                          ("This book", "value"): value}
    table = pd.DataFrame.from_dict(records, orient="index")
    table.columns = pd.MultiIndex.from_tuples(table.columns)
    table.attrs["clustered_F"] = clustered_f
    return table


def iv_texts(book, iv, statistics: pd.DataFrame) -> dict:
    """The numbers of the 2SLS paragraphs: which instruments the fixed effects absorb, this
    book's first stage and statistics (``statistics``: :func:`first_stage_statistics`), the
    paper's, and the check against linearmodels (``iv`` None: notes instead of this book's
    numbers)."""
    paper_iv = float(printed(4, 2, "Dual_policy")["estimate"])
    paper_ols = float(printed(2, 2, "Dual_policy")["estimate"])
    paper_mean_safety = float(load_descriptives().loc["Safety", "mean"])
    paper_f, paper_kp = (float(printed(4, 1, term)["estimate"]) for term in ("First_stage_F", "KP_Wald_rk_F"))
    texts = {
        "iv_paper_f": printed(4, 1, "First_stage_F")["raw_estimate"],
        "iv_paper_kp_f": printed(4, 1, "KP_Wald_rk_F")["raw_estimate"],
        "iv_paper_f_ratio": f"{paper_kp / paper_f:.3f}",
        "iv_paper_deaths": f"{-100 * paper_iv:.0f}",
        "iv_paper_mean_deaths": f"{100 * paper_mean_safety:.0f}",
        "iv_paper_ratio": f"{-paper_iv / paper_mean_safety:.1f}",
        "iv_paper_over_ols": f"{paper_iv / paper_ols:.1f}",
    }
    keys = ["iv_first", "iv_second", "iv_second_se", "iv_kp_f", "iv_clustered_f", "iv_f_gap", "iv_kp_lm",
            "iv_first_f", "iv_lm_estimate", "iv_lm_gap", "iv_ratio_to_ols"]
    if iv is None:
        texts.update({key: NOT_COMPUTED for key in ["iv_absorbed", *keys]})
        return texts
    absorbed = instruments.absorbed_instruments(prepare_panel(book), ["universities_base", "universities"])
    texts["iv_absorbed"] = ", ".join(absorbed) if absorbed else "none"
    data = book.data
    baseline = did.twfe(data, "Safety", "Dual_policy", controls=CONTROLS)
    check = instruments.iv_2sls_linearmodels(data, "Safety", "Dual_policy", "universities", CONTROLS)
    first = iv.extra["first_stage"]
    texts.update({
        "iv_first": f"{first.estimate('universities'):.4f}",
        "iv_second": _number(iv.estimate()),
        "iv_second_se": _number(iv.std_error()),
        "iv_kp_f": f"{iv.extra['kp_rk_wald_F']:.1f}",
        "iv_clustered_f": f"{statistics.attrs['clustered_F']:.1f}",
        "iv_f_gap": f"{abs(statistics.attrs['clustered_F'] - iv.extra['kp_rk_wald_F']):.0e}",
        "iv_kp_lm": f"{iv.extra['kp_rk_lm']['statistic']:.1f}",
        "iv_first_f": f"{iv.extra['first_stage_F']:.1f}",
        "iv_lm_estimate": _number(check.estimate()),
        "iv_lm_gap": f"{abs(check.estimate() - iv.estimate()):.0e}",
        "iv_ratio_to_ols": f"{iv.estimate() / baseline.estimate():.1f}",
    })
    return texts


IV_VARIANTS = {
    "yearly count (the paper's design)": ("universities", ()),
    "base-year count x years since the first year": ("universities_base_x_trend", ()),
    "yearly count, + the single-pilot dummies": ("universities", ("Innova_policy", "Smart_policy")),
    "yearly count, + the three other policies": ("universities", OTHER_POLICIES),
    "yearly count, + both": ("universities", ("Innova_policy", "Smart_policy", *OTHER_POLICIES)),
}


def iv_variants(book) -> tuple[pd.DataFrame, dict]:
    """2SLS with each instrument and set of extra controls of :data:`IV_VARIANTS` beside the one
    realised truth they are all read as (both pilots against none over the dual-pilot
    city-years), and the t-statistics of the instrument in first stages of the single pilots and
    of Made in China 2025. Returns the table and the paragraph's numbers."""
    data = prepare_panel(book)
    truth = None if book.truth is None else book.truth.dual_vs_none()
    needed = ["universities", *OTHER_POLICIES]
    keys = ["iv_variant_base", "iv_variant_pilots", "iv_variant_policies", "iv_variant_all", "iv_variant_base_F",
            "iv_variant_all_F", "iv_predicts_smart", "iv_predicts_innovation", "iv_predicts_mic"]
    if not has(data, *needed):
        absent = [name for name in needed if not has(data, name)]
        table = pd.DataFrame({"not computed": [f"The comparison of instruments needs the column(s) "
                                               f"{', '.join(absent)}, which this panel does not have (complete)."]})
        return table, {key: NOT_COMPUTED for key in keys}
    fits = {label: instruments.iv_2sls(data, "Safety", "Dual_policy", instrument, controls=(*CONTROLS, *extra))
            for label, (instrument, extra) in IV_VARIANTS.items()}
    table = pd.DataFrame({
        ("This book", "estimate"): [f"{fit.estimate():.3f}" for fit in fits.values()],
        ("This book", "s.e."): [f"({fit.std_error():.3f})" for fit in fits.values()],
        ("This book", "KP rk Wald F"): [f"{fit.extra['kp_rk_wald_F']:.1f}" for fit in fits.values()],
        ("Truth", "realised"): ["" if truth is None else f"{truth:.3f}"] * len(fits),
    }, index=list(fits))
    table.columns = pd.MultiIndex.from_tuples(table.columns)
    labels = list(fits)
    texts = {"iv_variant_base": _number(fits[labels[1]].estimate()),
             "iv_variant_pilots": _number(fits[labels[2]].estimate()),
             "iv_variant_policies": _number(fits[labels[3]].estimate()),
             "iv_variant_all": _number(fits[labels[4]].estimate()),
             "iv_variant_base_F": f"{fits[labels[1]].extra['kp_rk_wald_F']:.1f}",
             "iv_variant_all_F": f"{fits[labels[4]].extra['kp_rk_wald_F']:.1f}"}
    for key, outcome in [("iv_predicts_smart", "Smart_policy"), ("iv_predicts_innovation", "Innova_policy"),
                         ("iv_predicts_mic", "Made_in_China_2025")]:
        first = instruments.iv_2sls(data, "Safety", outcome, "universities", controls=CONTROLS).extra["first_stage"]
        texts[key] = f"{first.estimate('universities') / first.std_error('universities'):.1f}"
    return table, texts


def psm_texts(book, psm: matching.MatchedDid) -> dict:
    """The numbers of the PSM-DID paragraph: the matched sample's composition (city-years of the
    dual-pilot cities, how many of them with both pilots in force, the control city-years and
    how many years each control city keeps), the balance (the largest standardised differences,
    signed, with their covariates) and the regression on the matched dual-pilot cities alone."""
    data = book.data.reset_index(drop=True)
    sample = psm.sample
    before = psm.balance[("Before matching", "std. diff. (%)")].drop("propensity")
    after = psm.balance[("After matching", "std. diff. (%)")].drop("propensity")
    worst_before, worst_after = before.abs().idxmax(), after.abs().idxmax()
    score = psm.balance.loc["propensity"]
    controls = sample[sample["dual_city"] == 0]
    before_dual = sample[(sample["dual_city"] == 1) & (sample["Dual_policy"] == 0)]
    dual_only = did.twfe(sample[sample["dual_city"] == 1], "Safety", "Dual_policy", controls=CONTROLS)
    return {
        "psm_n": _count(psm.result.n_obs),
        "psm_paper_n": _count(printed(4, 3, "N_obs")["estimate"]),
        "psm_treated_rows": _count((sample["dual_city"] == 1).sum()),
        "psm_dual_cities": _count(sample.loc[sample["dual_city"] == 1, "city"].nunique()),
        "psm_dual_city_years": _count((sample["Dual_policy"] == 1).sum()),
        "psm_all_dual_city_rows": _count(data["dual_year"].notna().sum()),
        "psm_control_rows": _count(len(controls)),
        "psm_control_cities": _count(controls["city"].nunique()),
        "psm_control_median_years": _count(controls.groupby("city").size().median()),
        "psm_n_pairs": _count(len(psm.matches)),
        "psm_pre_rows": _count(len(before_dual)),
        "psm_pre_one_pilot": _count(((before_dual["Innova_policy"] + before_dual["Smart_policy"]) > 0).sum()),
        "psm_estimate": _number(psm.result.estimate()),
        "psm_se": _number(psm.result.std_error()),
        "psm_dual_only": _number(dual_only.estimate()),
        "psm_worst_before": f"{before[worst_before]:.2f}",
        "psm_worst_before_name": str(worst_before),
        "psm_worst_after": f"{after[worst_after]:.2f}",
        "psm_worst_after_name": str(worst_after),
        "psm_over_threshold": _count((after.abs() >= 10).sum()),
        "psm_n_covariates": in_words(len(after)),
        "psm_score_before": f"{score[('Before matching', 'std. diff. (%)')]:.2f}",
        "psm_score_after": f"{score[('After matching', 'std. diff. (%)')]:.2f}",
        "psm_caliper": f"{PSM['caliper']:g}",
    }


def rate_texts(book) -> dict:
    """For scale in the death-rate paragraph: the mean death rate of the dual-pilot city-years."""
    data = book.data
    if not has(data, "death_rate"):
        return {"rate_mean_dual": NOT_COMPUTED}
    return {"rate_mean_dual": _number(data.loc[data["Dual_policy"] == 1, "death_rate"].mean())}


# ----------------------------------------------------------------------------------------------
# Table 5: other policies and the outcome two years later
# ----------------------------------------------------------------------------------------------

TABLE5_COLUMNS = {"(1) + Made in China 2025": (1, ("Made_in_China_2025",)),
                  "(2) + Broadband China": (2, ("Broadband_China",)),
                  "(3) + supervised listing": (3, ("Supervision",)),
                  "(4) + all three": (4, OTHER_POLICIES)}
LAG_ROW = "(5) Safety two years later: Dual_policy"


def lead_truth(truth, data: pd.DataFrame) -> float | None:
    """What column 5 is read as: the realised effect of both pilots against none two years after
    a dual-pilot city-year (the contrast ``Safety_both - Safety_none`` of the same city two years
    later), averaged over the dual-pilot city-years whose city is observed two years later."""
    if truth is None:
        return None
    effect = shift_within_unit(data.assign(effect=truth.contrast("dual_vs_none").to_numpy()), "effect", LEAD_YEARS)
    rows = (data["Dual_policy"].to_numpy() == 1) & effect.notna().to_numpy()
    return float(effect[rows].mean())


def table5_measure(book) -> dict:
    """Table 5 on one panel: the baseline with each other policy's dummy added, one at a time
    and together, and the outcome two years later. Dual_policy read as both pilots against none
    over the dual-pilot city-years; each policy's coefficient as that policy's realised effect
    over the city-years it is in force (``Truth.other_policy``); column 5 as :func:`lead_truth`."""
    data, truth = book.data, book.truth
    dual_vs_none = None if truth is None else truth.dual_vs_none()
    out = {}
    for label, (_, policies) in TABLE5_COLUMNS.items():
        if not has(data, *policies):
            continue
        fit = did.twfe(data, "Safety", "Dual_policy", controls=(*CONTROLS, *policies))
        out[f"{label}: Dual_policy"] = headline(fit, truth=dual_vs_none)
        for policy in policies:
            out[f"{label}: {policy}"] = headline(fit, policy, truth=None if truth is None else truth.other_policy(policy))
    lead = data.assign(Safety_lead=shift_within_unit(data, "Safety", LEAD_YEARS)).dropna(subset=["Safety_lead"])
    out[LAG_ROW] = headline(did.twfe(lead, "Safety_lead", "Dual_policy", controls=CONTROLS),
                            truth=lead_truth(truth, data))
    return out


def table5_null_worlds() -> dict:
    """Each row's null world: both pilots' effects off for Dual_policy and column 5, the policy's
    own effect off for its coefficient."""
    null_worlds = {}
    for label, (_, policies) in TABLE5_COLUMNS.items():
        null_worlds[f"{label}: Dual_policy"] = "dual_vs_none"
        null_worlds.update({f"{label}: {policy}": policy for policy in policies})
    null_worlds[LAG_ROW] = "dual_vs_none"
    return null_worlds


def table5(book, seeds=SEEDS, n_jobs: int = 1) -> pd.DataFrame:
    """Table 5: the paper's numbers beside this book's, the realised truths, the null worlds
    (:func:`table5_null_worlds`) and the spread over ``seeds``."""
    null_worlds = table5_null_worlds()
    paper = {label: printed(5, 5 if label == LAG_ROW else TABLE5_COLUMNS[label.split(": ")[0]][0],
                            label.split(": ")[1]) for label in null_worlds}
    table = evidence_table(table5_measure, book, null_worlds, seeds=seeds, n_jobs=n_jobs)
    return name_null_worlds(with_paper(table, paper), null_worlds)


def table5_texts(book, table: pd.DataFrame) -> dict:
    """The numbers of the Table 5 paragraphs, from :func:`table5`."""
    numbers = table.attrs["numbers"]
    data = book.data
    missing = [policy for policy in OTHER_POLICIES if not has(data, policy)]
    texts = {"table5_missing": ("" if not missing else
                                f"(This panel lacks {', '.join(missing)}: the columns that need them are left out.)")}
    for key, label in [("t5_mic", "(1) + Made in China 2025: Made_in_China_2025"),
                       ("t5_broadband", "(2) + Broadband China: Broadband_China"),
                       ("t5_supervision", "(3) + supervised listing: Supervision"),
                       ("t5_dual_all", "(4) + all three: Dual_policy"),
                       ("lag", LAG_ROW)]:
        texts.update(_evidence_texts(key, numbers.get(label)))
    texts["t5_broadband_cities"] = (_count(data.groupby("city")["Broadband_China"].max().sum())
                                    if has(data, "Broadband_China") else "(not in this panel)")
    lead = shift_within_unit(data, "Safety", LEAD_YEARS)
    texts.update({"lag_n": _count(lead.notna().sum()), "lag_paper_n": _count(printed(5, 5, "N_obs")["estimate"]),
                  "lag_years_lost": in_words(LEAD_YEARS)})
    return texts


def listing_event_study(data: pd.DataFrame, outcome: str, controls=CONTROLS) -> did.DidResult:
    """Event study of ``outcome`` on the year a city is first placed under supervised listing
    (window :data:`LISTING_WINDOW`, reference the year before, binned end points)."""
    listing_year = data["year"].where(data["Supervision"] == 1).groupby(data["city"]).transform("min")
    return did.event_study(data.assign(listing_year=listing_year), outcome, "listing_year", controls=controls,
                           window=LISTING_WINDOW)


def listing_measure(book) -> dict:
    """The joint test of the leads in an event study of the deaths a city would have had with
    neither pilot and without the listing (``Safety_none_without_Supervision``) on its listing
    year: a test of the listing's parallel trends on its own untreated outcome."""
    frame = book.data.assign(untreated=book.truth.potential_outcomes["Safety_none_without_Supervision"].to_numpy())
    study = listing_event_study(frame, "untreated")
    test = did.pretrend_test(study)
    return {"p_value": test["p_value"], "first_lead": float(study.table.loc[min(test["leads"]), "estimate"])}


def listing_texts(book, seeds=SEEDS, n_jobs: int = 1) -> dict:
    """Were the listed cities on another trend before they were listed? On the simulated panel:
    the event study of their untreated deaths (neither pilot, no listing; :func:`listing_measure`)
    with the joint test of its leads, here and its rejection rate over ``seeds``. On any panel:
    the same event study of the observed deaths with the dual pilot as a control (what a
    researcher with real data can run)."""
    data = book.data
    keys = ["listing_untreated_first_lead", "listing_untreated_p", "listing_untreated_rejects", "listing_verdict",
            "listing_observed_p", "listing_n_leads", "listing_first_lead_year", "listing_observed_first_lead"]
    if not has(data, "Supervision"):
        return {key: NOT_COMPUTED for key in keys}
    observed = listing_event_study(data, "Safety", controls=(*CONTROLS, "Dual_policy"))
    observed_test = did.pretrend_test(observed)
    first_lead = min(observed_test["leads"])
    texts = {"listing_observed_p": f"{observed_test['p_value']:.2f}",
             "listing_observed_first_lead": _number(observed.table.loc[first_lead, "estimate"]),
             "listing_n_leads": in_words(len(observed_test["leads"])),
             "listing_first_lead_year": in_words(-first_lead)}
    if book.truth is None:
        texts.update({"listing_untreated_first_lead": NO_TRUTH, "listing_untreated_p": NO_TRUTH,
                      "listing_untreated_rejects": NO_TRUTH,
                      "listing_verdict": "cannot be checked without the simulation's untreated outcomes"})
        return texts
    here = listing_measure(book)
    spread = replicate(listing_measure, seeds=seeds, n_jobs=n_jobs, progress=False)
    texts.update({
        "listing_untreated_first_lead": _number(here["first_lead"]),
        "listing_untreated_p": f"{here['p_value']:.2f}",
        "listing_untreated_rejects": f"{100 * float((spread['p_value'] < 0.05).mean()):.0f}",
        "listing_verdict": ("were on a different trend before they were listed" if here["p_value"] < 0.05 else
                            "were not on a detectably different trend before they were listed"),
    })
    return texts


# ----------------------------------------------------------------------------------------------
# Sensitivity to pre-trends (Rambachan and Roth)
# ----------------------------------------------------------------------------------------------

def pretrend_truth(book, honest, reference: int = -1) -> float | None:
    """The realised change of both pilots against neither at the sensitivity analysis's target
    event time since event time ``reference`` (what an event study normalised there can at best
    recover; None on a real panel)."""
    if book.truth is None:
        return None
    post = honest.extra["post_periods"]
    target = post[int(np.argmax(honest.extra["weights"]))]
    return float(book.truth.event_time_path(reference=reference).loc[target])


def pretrend_texts(book, dynamic, honest) -> dict:
    """The reading of the Rambachan-Roth analysis: the target's conventional and robust
    intervals, the breakdown value, the leads (estimates, standard errors, how much their slope
    bends, their joint test), the breakdown for the average post-period effect, the
    relative-magnitudes identified set, and (simulation) the realised effect at the target
    relative to the reference year and without it, and the realised leads."""
    truth = book.truth
    post = honest.extra["post_periods"]
    target = post[int(np.argmax(honest.extra["weights"]))]
    grid_top = "(not reached on the grid)"
    texts = {"honest_target": str(target), "honest_estimate": _number(honest.original["estimate"]),
             "honest_original": f"{honest.original['ci_low']:.3f} to {honest.original['ci_high']:.3f}"}
    at_zero = honest.table.iloc[0]
    texts["honest_m0"] = f"{at_zero['ci_low']:.3f} to {at_zero['ci_high']:.3f}"
    texts["honest_breakdown"] = number_text(honest.breakdown, "{:.3f}", grid_top)
    texts["honest_breakdown_deaths"] = number_text(None if honest.breakdown is None else 100 * honest.breakdown,
                                                   "{:.1f}", grid_top)
    average = pretrends.pretrend_sensitivity(dynamic, method="smoothness", target="average", M_grid=[0.0, 0.02],
                                             progress=False)
    texts["honest_average_breakdown"] = number_text(average.breakdown, "{:.3f}", grid_top)
    texts["honest_n_post"] = in_words(len(post))
    table = dynamic.table
    leads = table[table.index < dynamic.extra["reference"]]
    texts["honest_leads"] = f"{leads['estimate'].min():.3f} to {leads['estimate'].max():.3f}"
    texts["honest_lead_se"] = f"{leads['std_error'].min():.3f} to {leads['std_error'].max():.3f}"
    texts["honest_n_leads"] = in_words(len(leads))
    texts["honest_pretest_p"] = f"{did.pretrend_test(dynamic)['p_value']:.2f}"
    pre_path = table.loc[table.index <= dynamic.extra["reference"], "estimate"].sort_index()
    event_time = book.data["year"] - book.data["dual_year"].astype(float)
    binned = dynamic.extra["binned"] and bool((event_time < dynamic.extra["window"][0]).any())
    if binned:
        pre_path = pre_path.iloc[1:]  # the first lead also holds every earlier year
    texts["honest_bin_note"] = (" (not counting the first lead, which also holds every earlier year)" if binned
                                else "")
    bend = float(np.abs(np.diff(pre_path.to_numpy(), 2)).max())
    texts["honest_lead_bend"] = f"{bend:.3f}"
    texts["honest_bend_ratio"] = number_text(None if honest.breakdown is None else bend / honest.breakdown, "{:.0f}",
                                             grid_top)
    relative = pretrends.pretrend_sensitivity(dynamic, method="relative_magnitude", target=target,
                                              M_grid=np.round(np.arange(0, 3.01, 0.05), 2), progress=False)
    covering = relative.table[(relative.table["lb"] <= 0) & (relative.table["ub"] >= 0)]
    texts["honest_rm_set"] = number_text(float(covering.index.min()) if len(covering) else None, "{:.2f}", grid_top)
    if truth is None:
        texts.update({"honest_truth": NO_TRUTH, "honest_truth_sentence": "", "honest_truth_leads": NO_TRUTH,
                      "honest_truth_unreferenced": NO_TRUTH})
        return texts
    path = truth.event_time_path(reference=dynamic.extra["reference"])
    realised = float(path.loc[target])
    inside = ((honest.table["ci_low"] <= realised) & (realised <= honest.table["ci_high"])).all()
    window_leads = path[(path.index < dynamic.extra["reference"]) & (path.index >= dynamic.extra["window"][0])]
    texts["honest_truth"] = _number(realised)
    texts["honest_truth_unreferenced"] = _number(float(truth.event_time_path(reference=None).loc[target]))
    texts["honest_truth_leads"] = f"{window_leads.min():.3f} to {window_leads.max():.3f}"
    texts["honest_truth_sentence"] = (
        f"The realised change at event time {target} since the year before adoption, {realised:.3f}, lies "
        + ("inside the robust interval for every M of the grid." if inside
           else "outside the robust interval for some M of the grid."))
    return texts


def honest_figure(book, honest):
    """The Rambachan-Roth figure (:func:`citypilots.report.plots.pretrend_sensitivity_plot`) with,
    on the simulated panel, the realised change since the year before adoption
    (:func:`pretrend_truth`) drawn and named as what it is."""
    from ..report.plots import pretrend_sensitivity_plot

    truth = pretrend_truth(book, honest)
    figure = pretrend_sensitivity_plot(honest, truth=truth)
    if truth is not None:
        label = f"realised change since the year before adoption, {truth:.3f}"
        for legend in figure.legends:
            for text in legend.get_texts():
                if text.get_text().startswith("planted truth"):
                    text.set_text(label)
    return figure
