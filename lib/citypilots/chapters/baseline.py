"""The baseline chapter's tables: the paper's Tables 2 and 3 and its event study, rebuilt with the
evidence behind each headline, and the teaching tables of the chapter.

Each function takes the chapter's panel (``book``: anything with ``.data``, ``.cities`` and
``.truth``, which is None on a reader's real panel) and returns what the chapter shows. The
*measures* (``*_measure``) fit every headline of one table on a panel and return ``{label:
headline(...)}``; :func:`citypilots.report.evidence.evidence_table` runs them on the chapter's
panel, in the null world of each headline and over seeds. Each headline's truth is the realised
estimand it is read as (:class:`citypilots.simulation.truth.Truth`), stated in the measure's
docstring.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..data.panel import CONTROLS
from ..data.paper import printed
from ..data.samples import adoption_order, keep_groups, pilot_groups
from ..estimators import did
from ..report.evidence import evidence_table, headline, with_paper
from ..report.glue import NOT_COMPUTED, covers, glue_number, glue_text, glue_truth, number_text, p_text
from ..simulation.generator import simulate_panel
from ..simulation.specification import load_spec

SEEDS = range(20)
"""The simulated panels behind every "over seeds" column of the chapter."""

NO_TRUTH = "(no truth: real data)"

# ----------------------------------------------------------------------------------------------
# Groups, samples and truths shared by the tables
# ----------------------------------------------------------------------------------------------


def city_groups(book) -> pd.Series:
    """Each city's pilot group (dual, innovation only, smart only, none), indexed by city code."""
    cities = book.cities.set_index("adcode")
    return pilot_groups(cities["innovation_year"], cities["smart_year"])


def city_orders(book) -> pd.Series:
    """Each dual-pilot city's adoption order (innovation first, smart first, same year), by city code."""
    cities = book.cities.set_index("adcode")
    return adoption_order(cities["innovation_year"], cities["smart_year"])


def _estimand(truth, name: str, rows) -> float | None:
    return None if truth is None else truth.estimand(name, np.asarray(rows, dtype=bool))


def change_since_pre_average(truth, rows=None, name: str = "dual_vs_none") -> float | None:
    """The realised change of contrast ``name`` since the average of the city's years before its
    dual-pilot year, averaged over ``rows`` (default: the dual-pilot city-years): what an
    estimator whose counterfactual rests on all of a treated city's untreated years (imputation,
    and TWFE in its clean comparisons) compares. None on a real panel."""
    if truth is None:
        return None
    status = truth.status
    values = truth.contrast(name)
    pre_average = values[status["event_time"] < 0].groupby(status["city"]).mean()
    change = (values - status["city"].map(pre_average)).to_numpy(dtype=float)
    mask = (status["Dual_policy"].to_numpy() == 1) if rows is None else np.asarray(rows, dtype=bool)
    chosen = change[mask & ~np.isnan(change)]
    return float(chosen.mean()) if len(chosen) else math.nan


def change_since_year_before(truth, rows=None) -> float | None:
    """The realised change of dual vs none since the year before the dual-pilot year, averaged over
    ``rows`` (default: the dual-pilot city-years): what Callaway-Sant'Anna and Sun-Abraham with
    never-treated controls compare. None on a real panel."""
    return None if truth is None else truth.change_since("dual_vs_none", reference=-1, rows=rows)


def event_study_target(truth, first: int = 0, last: int = 8) -> float | None:
    """The realised path of dual vs none relative to event time -1, averaged over the event times
    ``first``..``last`` with the last one binning every later year (each event time weighted
    equally): the target of the equally weighted average of an event study's post-period
    coefficients (binned end points). None on a real panel."""
    if truth is None:
        return None
    relative = truth.relative_to_event_time("dual_vs_none", reference=-1)
    event_time = truth.status["event_time"].clip(upper=last)
    frame = pd.DataFrame({"event_time": event_time, "value": relative}).dropna()
    path = frame[frame["event_time"] >= first].groupby("event_time")["value"].mean()
    return float(path.loc[first:last].mean())


def realised_path(truth, rows=None, window: tuple[int, int] = (-8, 8)) -> pd.Series | None:
    """The realised path of dual vs none by event time, relative to event time -1, within ``window``
    (for the event-study figure); None on a real panel."""
    if truth is None:
        return None
    return truth.event_time_path("dual_vs_none", reference=-1, rows=rows).loc[window[0]:window[1]]


# ----------------------------------------------------------------------------------------------
# Table 2
# ----------------------------------------------------------------------------------------------

TABLE2_COLUMNS = {
    # label: (paper column, term, sample of groups or None for all cities, controls?, estimand)
    "(1) Dual_policy, no controls": (1, "Dual_policy", None, False, "dual_vs_none"),
    "(2) Dual_policy, controls": (2, "Dual_policy", None, True, "dual_vs_none"),
    "(3) Innovative City single pilot": (3, "Innova_policy", ("innovation only", "smart only", "none"), True,
                                         "innovation_single"),
    "(4) Smart City single pilot": (4, "Smart_policy", ("innovation only", "smart only", "none"), True,
                                    "smart_single"),
    "(5) dual vs non-pilot": (5, "Dual_policy", ("dual", "none"), True, "dual_vs_none"),
    "(6) dual vs single-pilot": (6, "Dual_policy", ("dual", "innovation only", "smart only"), True,
                                 "second_given_first"),
}
"""The paper's six columns. Their sample sizes say which cities each keeps (transcription notes,
item 9): all 218; the 181 that are not dual pilots (each single-pilot column keeps the other
program's single pilots among its controls); dual and non-pilot; dual and single-pilot."""


def table2_measure(book) -> dict:
    """Every column of Table 2 on one panel, with the realised truth it is read as.

    Columns 1, 2 and 5 are read as both pilots against none and column 6 as the second pilot
    given the first, over the dual-pilot city-years; columns 3 and 4 as the single pilot alone,
    over the pilot years of cities that only ever hold that pilot.
    """
    data, truth = book.data, book.truth
    groups = city_groups(book)
    group_of_row = data["city"].map(groups).to_numpy()
    out = {}
    for label, (_, term, sample_groups, with_controls, estimand) in TABLE2_COLUMNS.items():
        sample = data if sample_groups is None else keep_groups(data, groups, sample_groups)
        result = did.twfe(sample, "Safety", term, controls=CONTROLS if with_controls else ())
        rows = data[term].to_numpy() == 1
        if estimand == "innovation_single":
            rows &= group_of_row == "innovation only"
        elif estimand == "smart_single":
            rows &= group_of_row == "smart only"
        out[label] = headline(result, truth=None if truth is None else truth.estimand(estimand, rows))
    return out


def table2(book, seeds=SEEDS, n_jobs: int = 1) -> pd.DataFrame:
    """Table 2: the paper's column beside this book's, the realised truth, the null world (the
    column's own effect switched off) and the spread over ``seeds``."""
    null_worlds = {label: estimand for label, (*_, estimand) in TABLE2_COLUMNS.items()}
    table = evidence_table(table2_measure, book, null_worlds, seeds=seeds, n_jobs=n_jobs, seed_truth=True)
    paper = {label: printed(2, column, term) for label, (column, term, *_) in TABLE2_COLUMNS.items()}
    return with_paper(table, paper)


def sample_counts(book) -> dict:
    """The counts the chapter quotes: cities, city-years, years, cities by group and dual cohort."""
    groups = city_groups(book)
    orders = city_orders(book)
    data = book.data
    return {"cities": len(groups), "city_years": len(data), "years": int(data["year"].nunique()),
            "first_year": int(data["year"].min()), "last_year": int(data["year"].max()),
            "dual": int((groups == "dual").sum()), "none": int((groups == "none").sum()),
            "single": int(groups.isin(["innovation only", "smart only"]).sum()),
            "not_dual": int((groups != "dual").sum()),
            "innovation_first": int((orders == "innovation first").sum()),
            "smart_first": int((orders == "smart first").sum()),
            "same_year": int((orders == "same year").sum()),
            "dual_city_years": int(data["Dual_policy"].sum()),
            "cohorts": int(data.loc[data["Dual_policy"] == 1, "dual_year"].nunique())}


def columns_1_and_2(book) -> pd.DataFrame:
    """Why the paper's column 1 and column 2 differ: Dual_policy's coefficient and the R-squared
    with and without the six controls, with and without city and year effects (pooled OLS), on
    one panel. R-squared is reported overall and, with fixed effects, within (after the city and
    year effects). Standard errors clustered by city. The paper's printed cells beside columns 1
    and 2."""
    import pyfixest as pf

    data = book.data
    controls = " + ".join(CONTROLS)
    rows = {
        "pooled OLS, no controls": ("Safety ~ Dual_policy", None),
        "pooled OLS, six controls": (f"Safety ~ Dual_policy + {controls}", None),
        "city and year effects, no controls (column 1)": ("Safety ~ Dual_policy | city + year", 1),
        "city and year effects, six controls (column 2)": (f"Safety ~ Dual_policy + {controls} | city + year", 2),
    }
    records = {}
    for label, (formula, column) in rows.items():
        fit = pf.feols(formula, data=data, vcov={"CRV1": "city"}, fixef_rm="none")
        paper_estimate = printed(2, column, "Dual_policy")["raw_estimate"] if column else ""
        paper_r2 = printed(2, column, "R2")["raw_estimate"] if column else ""
        within = getattr(fit, "_r2_within", math.nan) if "|" in formula else math.nan
        records[label] = {("Paper", "estimate"): paper_estimate, ("Paper", "R2"): paper_r2,
                          ("This book", "estimate"): round(float(fit.coef()["Dual_policy"]), 3),
                          ("This book", "s.e."): round(float(fit.se()["Dual_policy"]), 3),
                          ("This book", "R2"): round(float(fit._r2), 3),
                          ("This book", "within R2"): (round(float(within), 3) if not math.isnan(within) else "")}
    table = pd.DataFrame.from_dict(records, orient="index")
    table.columns = pd.MultiIndex.from_tuples(table.columns)
    return table


# ----------------------------------------------------------------------------------------------
# Estimands and the synergy
# ----------------------------------------------------------------------------------------------

ESTIMANDS = {
    "both pilots against none": ("dual_vs_none", "Safety_both - Safety_none"),
    "the second pilot given the first": ("second_given_first", "Safety_both - Safety_first_only"),
    "the synergy (one plus one exceeds two)": (
        "synergy", "Safety_both - Safety_innovation_only - Safety_smart_only + Safety_none"),
    "the Innovative City pilot alone": ("innovation_single", "Safety_innovation_only - Safety_none"),
    "the Smart City pilot alone": ("smart_single", "Safety_smart_only - Safety_none"),
}


def estimands(book) -> pd.DataFrame:
    """The estimands of the chapter, each a contrast of potential outcomes, realised over the
    dual-pilot city-years (hundreds of deaths; empty on a real panel). The dual-pilot city-years
    of cities that joined both pilots in one year have no "first pilot only" outcome and are left
    out of the second pilot's row."""
    truth = book.truth
    dual = book.data["Dual_policy"].to_numpy() == 1
    records = {}
    for label, (name, contrast) in ESTIMANDS.items():
        value = None if truth is None else truth.estimand(name, dual)
        records[label] = {"contrast of potential outcomes": contrast,
                          "realised, dual-pilot city-years": "" if value is None else round(value, 3)}
    return pd.DataFrame.from_dict(records, orient="index")


SYNERGY_LABEL = "Dual_policy: the synergy"
SYNERGY_TERMS = {
    "Dual_policy: the synergy": ("Dual_policy", "synergy"),
    "Innova_policy: the Innovative City pilot": ("Innova_policy", "innovation_single"),
    "Smart_policy: the Smart City pilot": ("Smart_policy", "smart_single"),
}


def synergy_measure(book) -> dict:
    """The regression that can test "one plus one exceeds two": Safety on Dual_policy beside the
    two single-pilot dummies (city and year effects, six controls, clustered by city). With each
    pilot's own effect held by its dummy, Dual_policy is read as the interaction (the synergy,
    realised over the dual-pilot city-years), Innova_policy and Smart_policy as each pilot's own
    effect (realised over every city-year holding that pilot)."""
    data, truth = book.data, book.truth
    result = did.twfe(data, "Safety", "Dual_policy", controls=("Innova_policy", "Smart_policy", *CONTROLS))
    out = {}
    for label, (term, estimand) in SYNERGY_TERMS.items():
        rows = data[term].to_numpy() == 1
        out[label] = headline(result, term, truth=_estimand(truth, estimand, rows))
    return out


def synergy_table(book, seeds=SEEDS, n_jobs: int = 1) -> pd.DataFrame:
    """The synergy regression with the evidence columns; the synergy's null world switches off
    every part that acts only when a city holds both pilots."""
    return evidence_table(synergy_measure, book, {SYNERGY_LABEL: "synergy"}, seeds=seeds, n_jobs=n_jobs,
                          seed_truth=True)


def one_plus_one(book, table2_numbers: dict) -> dict:
    """The paper's own arithmetic of "one plus one": dual vs none (column 5) minus the two single
    pilots (columns 3 and 4), printed and in this book; and the realised synergy. A negative
    number would be a dual effect larger than the sum of the single ones."""
    paper = {column: float(printed(2, column, term)["estimate"])
             for column, term in ((3, "Innova_policy"), (4, "Smart_policy"), (5, "Dual_policy"))}
    book_values = {column: table2_numbers[label]["estimate"] for label, (column, *_) in TABLE2_COLUMNS.items()
                   if column in (3, 4, 5)}
    return {"paper_dual": paper[5], "paper_singles": paper[3] + paper[4], "paper_excess": paper[5] - paper[3] - paper[4],
            "book_dual": book_values[5], "book_singles": book_values[3] + book_values[4],
            "book_excess": book_values[5] - book_values[3] - book_values[4],
            "synergy": None if book.truth is None else book.truth.synergy()}


# ----------------------------------------------------------------------------------------------
# Table 3: the order of adoption
# ----------------------------------------------------------------------------------------------

TABLE3_PANELS = {
    # panel: (control groups, estimand, paper panel letter, first paper column)
    "A: vs non-pilot": (("none",), "dual_vs_none", "A", 1),
    "B: vs single-pilot": (("innovation only", "smart only"), "second_given_first", "B", 3),
}
SEQUENCES = ("innovation first", "smart first")
SEQUENCE_NULL_WORLD = {"effects.dual.sequence": {"innovation_first": 1.0, "smart_first": 1.0, "same_year": 1.0}}
"""The null world of the sequence claim: the synergy's multiplier no longer depends on which
pilot came first (every other effect as in the book's world)."""


def _difference_label(panel: str) -> str:
    return f"{panel}, innovation first minus smart first"


def table3_measure(book) -> dict:
    """Table 3's four cells and, per panel, the difference the paper calls significant.

    Each cell: TWFE (six controls) on the dual-pilot cities of one adoption order and the panel's
    control cities; read as both pilots against none (panel A) or as the second pilot given the
    first (panel B), realised over that order's dual-pilot city-years. The difference: one
    regression on both orders with ``Dual_policy x innovation first`` added, read as the realised
    difference between the two orders' truths.
    """
    data, truth = book.data, book.truth
    groups, orders = city_groups(book), city_orders(book)
    order_of_row = data["city"].map(orders)
    group_of_row = data["city"].map(groups)
    dual_rows = data["Dual_policy"].to_numpy() == 1
    out = {}
    for panel, (control_groups, estimand, _, _) in TABLE3_PANELS.items():
        truths = {}
        for sequence in SEQUENCES:
            in_sequence = order_of_row.eq(sequence).fillna(False).to_numpy(dtype=bool)
            sample = data[in_sequence | group_of_row.isin(control_groups).to_numpy()]
            result = did.twfe(sample, "Safety", "Dual_policy", controls=CONTROLS)
            truths[sequence] = _estimand(truth, estimand, dual_rows & in_sequence)
            out[f"{panel}, {sequence}"] = headline(result, truth=truths[sequence])
        ordered = order_of_row.isin(SEQUENCES).fillna(False).to_numpy(dtype=bool)
        both = data[ordered | group_of_row.isin(control_groups).to_numpy()].copy()
        innovation_first = both["city"].map(orders).eq("innovation first").fillna(False).astype(int)
        both["Dual_x_innovation_first"] = both["Dual_policy"] * innovation_first
        result = did.twfe(both, "Safety", "Dual_policy", controls=("Dual_x_innovation_first", *CONTROLS))
        difference = None if truth is None else truths["innovation first"] - truths["smart first"]
        out[_difference_label(panel)] = headline(result, "Dual_x_innovation_first", truth=difference)
    return out


def table3(book, seeds=SEEDS, n_jobs: int = 1) -> pd.DataFrame:
    """Table 3 with the evidence columns. Null worlds: a cell's own effect switched off (every
    own-pilot effect); the differences: the synergy no longer depends on the order
    (:data:`SEQUENCE_NULL_WORLD`)."""
    null_worlds, paper = {}, {}
    for panel, (_, estimand, letter, first_column) in TABLE3_PANELS.items():
        for position, sequence in enumerate(SEQUENCES):
            null_worlds[f"{panel}, {sequence}"] = estimand
            paper[f"{panel}, {sequence}"] = printed(3, first_column + position, "Dual_policy", panel=letter)
        null_worlds[_difference_label(panel)] = SEQUENCE_NULL_WORLD
    table = evidence_table(table3_measure, book, null_worlds, seeds=seeds, n_jobs=n_jobs, seed_truth=True)
    return with_paper(table, paper)


# ----------------------------------------------------------------------------------------------
# Like with like: TWFE and the heterogeneity-robust estimators on one sample
# ----------------------------------------------------------------------------------------------

ROBUST_ROWS = {
    # label: (estimator, covariates?, target)
    "TWFE, no controls": ("twfe", False, "pre-period average"),
    "TWFE, six controls (column 5)": ("twfe", True, "pre-period average"),
    "Callaway-Sant'Anna, no covariates": ("cs", False, "year before"),
    "Callaway-Sant'Anna, doubly robust, six covariates": ("cs", True, "year before"),
    "Sun-Abraham, no covariates": ("sa", False, "year before"),
    "Sun-Abraham, six covariates": ("sa", True, "year before"),
    "imputation, no covariates": ("imputation", False, "pre-period average"),
    "imputation, six covariates": ("imputation", True, "pre-period average"),
}
"""Every estimator on the paper's column 5 sample (dual-pilot and never-pilot cities), with and
without the six controls. Target: the realised change of dual vs none that the estimator's
comparison can at best recover on this design, since a dual city's years before its dual-pilot
year already carry its first pilot: since the year before the dual-pilot year (Callaway-Sant'Anna
and Sun-Abraham, base period g - 1) or since the average of its untreated years (imputation; TWFE
in its comparisons with never-pilot cities)."""


def robust_sample(book) -> pd.DataFrame:
    """The paper's column 5 sample: dual-pilot and never-pilot cities."""
    return keep_groups(book.data, city_groups(book), ["dual", "none"])


def fit_robust(sample: pd.DataFrame, estimator: str, with_covariates: bool) -> did.DidResult:
    """One row of :data:`ROBUST_ROWS` on ``sample`` (cohort: the dual-pilot year, never-pilot controls)."""
    covariates = list(CONTROLS) if with_covariates else None
    if estimator == "twfe":
        return did.twfe(sample, "Safety", "Dual_policy", controls=CONTROLS if with_covariates else ())
    if estimator == "cs":
        return did.att_gt(sample, "Safety", "city", "year", "dual_year", covariates=covariates).aggregate("simple")
    if estimator == "sa":
        return did.sun_abraham(sample, "Safety", "city", "year", "dual_year", covariates=covariates)
    if estimator == "imputation":
        return did.imputation(sample, "Safety", "city", "year", "dual_year", covariates=covariates)
    raise ValueError(f"unknown estimator {estimator!r}")


def robust_measure(book) -> dict:
    """Every row of :data:`ROBUST_ROWS` on the column 5 sample, each with its own realised target."""
    sample, truth = robust_sample(book), book.truth
    targets = {"year before": change_since_year_before(truth),
               "pre-period average": change_since_pre_average(truth)}
    return {label: headline(fit_robust(sample, estimator, covariates), truth=targets[target])
            for label, (estimator, covariates, target) in ROBUST_ROWS.items()}


def robust_table(book, seeds=SEEDS, n_jobs: int = 1) -> pd.DataFrame:
    """TWFE, Callaway-Sant'Anna, Sun-Abraham and imputation on one sample, with and without
    covariates, with the evidence columns (null world: every own-pilot effect off)."""
    table = evidence_table(robust_measure, book, {label: "dual_vs_none" for label in ROBUST_ROWS},
                           seeds=seeds, n_jobs=n_jobs, seed_truth=True)
    table.insert(0, ("Target", "change since"), [ROBUST_ROWS[label][2] for label in table.index])
    return table


def robust_targets(book) -> dict:
    """The three candidate truths of the column 5 sample (None on a real panel)."""
    truth = book.truth
    return {"dual_vs_none": None if truth is None else truth.dual_vs_none(),
            "year_before": change_since_year_before(truth), "pre_average": change_since_pre_average(truth)}


def imputation_cs_gap(numbers: dict, book) -> pd.DataFrame:
    """The gap between imputation and Callaway-Sant'Anna on the same sample, split in three:
    their targets differ (the realised pre-period-average change minus the year-before change);
    their exposure to trends that differ between dual-pilot and never-pilot cities (the same gap
    in the null world, same seed, where no pilot does anything); and what is left (sampling noise
    and the interaction of the two). ``numbers``: :func:`robust_table`'s ``attrs["numbers"]``."""
    targets = robust_targets(book)
    target_gap = (None if targets["pre_average"] is None else targets["pre_average"] - targets["year_before"])
    records = {}
    for covariates, (imputation_label, cs_label) in {
            "no covariates": ("imputation, no covariates", "Callaway-Sant'Anna, no covariates"),
            "six covariates": ("imputation, six covariates", "Callaway-Sant'Anna, doubly robust, six covariates"),
    }.items():
        gap = numbers[imputation_label]["estimate"] - numbers[cs_label]["estimate"]
        null_gap = numbers[imputation_label]["null_estimate"] - numbers[cs_label]["null_estimate"]
        rest = None if target_gap is None else gap - target_gap - null_gap
        records[covariates] = {"imputation - Callaway-Sant'Anna": gap,
                               "targets differ (realised)": target_gap,
                               "trends differ (null world)": null_gap,
                               "rest": rest}
    table = pd.DataFrame.from_dict(records, orient="index").astype(float)
    return table.round(3)


# ----------------------------------------------------------------------------------------------
# The event study (Figure 2)
# ----------------------------------------------------------------------------------------------

EVENT_WINDOW = (-8, 8)
EVENT_STUDY_HEADLINES = ("TWFE event study, average of event times 0 to 8",
                         "TWFE event study, joint test of the leads (F)")


def event_study_measure(book) -> dict:
    """The paper's event study (TWFE, all cities, six controls, end points binned at -8 and 8,
    reference -1): the equally weighted average of its post-period coefficients 0..8 (read as the
    realised path relative to -1 averaged the same way, :func:`event_study_target`), and the
    joint test of its leads (a test, no truth)."""
    dynamic = did.event_study(book.data, "Safety", cohort="dual_year", controls=CONTROLS, window=EVENT_WINDOW)
    post = range(0, EVENT_WINDOW[1] + 1)
    average = did.linear_combination(dynamic, {e: 1 / len(post) for e in post})
    pretrend = did.pretrend_test(dynamic)
    average_label, leads_label = EVENT_STUDY_HEADLINES
    return {average_label: headline(average, truth=event_study_target(book.truth)),
            leads_label: headline({"estimate": pretrend["statistic"], "p_value": pretrend["p_value"]})}


def event_study_table(book, seeds=SEEDS, n_jobs: int = 1) -> pd.DataFrame:
    """The event study's headlines with the evidence columns (null world: every own-pilot effect off,
    where the leads carry no first pilot)."""
    null_worlds = {label: "dual_vs_none" for label in EVENT_STUDY_HEADLINES}
    return evidence_table(event_study_measure, book, null_worlds, seeds=seeds, n_jobs=n_jobs, seed_truth=True)


def in_window(result: did.DidResult, window: tuple[int, int] = EVENT_WINDOW) -> did.DidResult:
    """``result``'s event-time rows within ``window`` (the overall row and other years left out)."""
    table = result.table[[not isinstance(e, str) and window[0] <= e <= window[1] for e in result.table.index]]
    return did.DidResult(result.estimator, table, result.n_obs, result.n_units, result.inference,
                         fitted=result.fitted, extra=dict(result.extra))


# ----------------------------------------------------------------------------------------------
# Teaching: the 2x2 building block, forbidden comparisons, negative weights
# ----------------------------------------------------------------------------------------------

def two_by_two_designs(book) -> dict:
    """Two 2x2 comparisons of the panel, as keyword arguments of :func:`citypilots.estimators.did.two_by_two`.

    ``"clean"``: the earliest dual-pilot cohort against the never-pilot cities, from the year
    before its dual-pilot year to three years after (or the last year). ``"forbidden"``: the
    next cohort against the earliest one, which is already treated, from the year before the
    next cohort's dual-pilot year to that year.
    """
    data = book.data
    cohort_of = data.groupby("city")["dual_year"].first()
    first_year, last_year = int(data["year"].min()), int(data["year"].max())
    cohorts = sorted(int(c) for c in cohort_of.dropna().unique() if int(c) > first_year)
    groups = city_groups(book)
    early = cohorts[0]
    designs = {"clean": {"treated": list(cohort_of.index[cohort_of == early]),
                         "control": list(groups.index[groups == "none"]),
                         "before": early - 1, "after": min(early + 3, last_year)}}
    if len(cohorts) > 1:
        later = cohorts[1]
        designs["forbidden"] = {"treated": list(cohort_of.index[cohort_of == later]),
                                "control": list(cohort_of.index[cohort_of == early]),
                                "before": later - 1, "after": later}
    return designs


def building_blocks(book) -> pd.DataFrame:
    """Each 2x2 of :func:`two_by_two_designs`: its estimate and, on a simulated panel, the realised
    change of dual vs none in the treated and in the control cities over the same two years. The
    2x2 recovers the difference of the two changes when untreated deaths trend in parallel: a
    control city whose own effect changes (an already-treated one) moves the estimate by minus
    that change."""
    data, truth = book.data, book.truth
    effects = None if truth is None else data[["city", "year"]].assign(effect=truth.contrast("dual_vs_none").to_numpy())
    records = {}
    for name, design in two_by_two_designs(book).items():
        table = did.two_by_two(data, "Safety", **design)
        controls = "never-pilot" if name == "clean" else "already-treated"
        label = (f"{name}: {table.attrs['n_treated']} cities of cohort {design['before'] + 1} vs "
                 f"{table.attrs['n_control']} {controls} cities, {design['before']} to {design['after']}")
        record = {"2x2 estimate": table.loc["treated - control", "change"]}
        if effects is not None:
            change = did.two_by_two(effects, "effect", **design)
            record.update({"treated cities' effect change": change.loc["treated", "change"],
                           "control cities' effect change": change.loc["control", "change"],
                           "difference of the changes": change.loc["treated - control", "change"]})
        records[label] = record
    return pd.DataFrame.from_dict(records, orient="index").round(3)


NEGATIVE_WEIGHT_SAMPLES = {
    "all cities (columns 1-2)": None,
    "dual-pilot and never-pilot cities (column 5)": ("dual", "none"),
    "dual-pilot cities only (not-yet-treated controls)": ("dual",),
}


def negative_weights(book) -> pd.DataFrame:
    """de Chaisemartin-D'Haultfoeuille weights of the TWFE coefficient of Dual_policy (no
    controls) on its treated city-years, in three samples: the TWFE coefficient, the number of
    treated city-years, how many get a negative weight and the sum of those weights."""
    groups = city_groups(book)
    records = {}
    for label, sample_groups in NEGATIVE_WEIGHT_SAMPLES.items():
        sample = book.data if sample_groups is None else keep_groups(book.data, groups, sample_groups)
        weights = did.twfe_weights(sample, "Safety", "Dual_policy")
        records[label] = {"TWFE estimate": round(weights.twfe, 3), "treated city-years": len(weights.table),
                          "negative weights": int((weights.table["weight"] < 0).sum()),
                          "sum of negative weights": round(weights.negative_sum, 3)}
    return pd.DataFrame.from_dict(records, orient="index")


# ----------------------------------------------------------------------------------------------
# One line under which TWFE is fine
# ----------------------------------------------------------------------------------------------

_ONES = {"innovation_first": 1.0, "smart_first": 1.0, "same_year": 1.0}
WORLDS = {
    # label: (what changes, overrides); each one change from the book's world
    "the book's world": ("nothing", {}),
    "synergy from the dual-pilot year": ("effects.dual.delay = 0", {"effects.dual.delay": 0}),
    "synergy at full level at once": ("effects.dual.ramp_years = 1", {"effects.dual.ramp_years": 1}),
    "same synergy share in every city": (
        "every multiplier of the synergy (order, resource type, size, region) = 1",
        {"effects.dual.sequence": _ONES, "effects.dual.resource_based": {True: 1.0, False: 1.0},
         "effects.dual.large_city": {True: 1.0, False: 1.0},
         "effects.dual.region": {"east": 1.0, "central": 1.0, "west": 1.0}}),
    "no moderation by SR": ("effects.dual.moderation_SR = 0", {"effects.dual.moderation_SR": 0.0}),
    "no other policies": ("every effect in effects.other_policies = 0",
                          {f"effects.other_policies.{name}": 0.0
                           for name in ("Broadband_China", "Low_Carbon_City", "Made_in_China_2025", "Supervision")}),
    "dual-pilot cities no larger than other pilots": ("covariates.size_dual_shift = 0",
                                                      {"covariates.size_dual_shift": 0.0}),
    "single pilots do nothing": ("effects.innovation_single = effects.smart_single = 0",
                                 {"effects.innovation_single": 0.0, "effects.smart_single": 0.0}),
    "constant effects in deaths": ("effects.homogeneous = true", {"effects.homogeneous": True}),
}
"""Worlds that each change one thing in the book's specification (one idea; some take several
keys). What else each change moves: dual-pilot cities no larger also gives them fewer deaths,
other covariate levels and (through the 2014 size classes) other synergy multipliers; constant
effects in deaths replace every pilot share by a constant number of deaths from adoption on, so
the synergy starts at once, with no ramp, no multipliers and no moderation, at the size of
``homogeneous_sizes``."""

def world_panel(label: str):
    """The simulated panel of one of :data:`WORLDS` at the book's seed (a ``SimulatedPanel``)."""
    return simulate_panel(overrides=WORLDS[label][1])


def twfe_worlds(seeds=SEEDS, n_jobs: int = 1) -> pd.DataFrame:
    """The synergy regression (:func:`synergy_measure`) in each of :data:`WORLDS`: on the world's
    panel at the book's seed, the estimate, its interval and the world's own realised synergy;
    over ``seeds``, the mean estimate, the mean realised synergy, their difference (bias), the
    SD and the coverage of the 95% interval. Always simulated, whatever panel the chapter runs on."""
    records = {}
    for label, (change, overrides) in WORLDS.items():
        spec = load_spec(overrides=overrides)
        table = evidence_table(synergy_measure, world_panel(label), {}, seeds=seeds, spec=spec, n_jobs=n_jobs)
        n = table.attrs["numbers"][SYNERGY_LABEL]
        records[label] = {
            ("", "what changes"): change,
            ("Book's seed", "estimate"): round(n["estimate"], 3),
            ("Book's seed", "95% interval"): f"[{n['ci_low']:.3f}, {n['ci_high']:.3f}]",
            ("Book's seed", "realised synergy"): round(n["truth"], 3),
            ("Book's seed", "covered"): "yes" if n["ci_low"] <= n["truth"] <= n["ci_high"] else "no",
            (f"Over {n['seeds']} seeds", "mean"): round(n["seed_mean"], 3),
            (f"Over {n['seeds']} seeds", "realised synergy"): round(n["seed_truth"], 3),
            (f"Over {n['seeds']} seeds", "bias"): round(n["seed_mean"] - n["seed_truth"], 3),
            (f"Over {n['seeds']} seeds", "SD"): round(n["seed_sd"], 3),
            (f"Over {n['seeds']} seeds", "coverage"): f"{n['coverage']:.0%}",
        }
    table = pd.DataFrame.from_dict(records, orient="index")
    table.columns = pd.MultiIndex.from_tuples(table.columns)
    return table


def synergy_diagnosis(book) -> pd.DataFrame:
    """Where the single-pilot dummies cannot fit: each pilot's realised own effect (hundreds of
    deaths) in the cities that hold only that pilot, against the same pilot's effect in the
    dual-pilot city-years, and the deaths those city-years would have had without any pilot.
    Empty on a real panel."""
    truth = book.truth
    columns = ["single-pilot city-years", "dual-pilot city-years"]
    if truth is None:
        return pd.DataFrame(columns=columns)
    data = book.data
    group = data["city"].map(city_groups(book)).to_numpy()
    dual = data["Dual_policy"].to_numpy() == 1
    innovation = (data["Innova_policy"].to_numpy() == 1) & (group == "innovation only")
    smart = (data["Smart_policy"].to_numpy() == 1) & (group == "smart only")
    none = truth.potential_outcomes["Safety_none"].to_numpy(dtype=float)
    rows = {
        "Innovative City pilot's own effect": (truth.innovation_single(innovation), truth.innovation_single(dual)),
        "Smart City pilot's own effect": (truth.smart_single(smart), truth.smart_single(dual)),
        "deaths without any pilot": (float(none[innovation | smart].mean()), float(none[dual].mean())),
    }
    return pd.DataFrame(rows, index=columns).T.round(3)


def synergy_by_event_time(book) -> pd.DataFrame:
    """The realised synergy by years since the dual-pilot year (rows) and dual-pilot cohort
    (columns), over the dual-pilot city-years: whether it changes with time since adoption and
    whether it differs across cohorts. Empty on a real panel."""
    truth = book.truth
    if truth is None:
        return pd.DataFrame()
    data = book.data
    frame = pd.DataFrame({"years since the dual-pilot year": truth.status["event_time"],
                          "cohort": data["dual_year"], "synergy": truth.contrast("synergy")})
    frame = frame[data["Dual_policy"].to_numpy() == 1].dropna()
    frame["years since the dual-pilot year"] = frame["years since the dual-pilot year"].astype(int)
    frame["cohort"] = frame["cohort"].astype(int)
    return frame.pivot_table(index="years since the dual-pilot year", columns="cohort", values="synergy",
                             aggfunc="mean").round(3)


# ----------------------------------------------------------------------------------------------
# Glue
# ----------------------------------------------------------------------------------------------

def glue_headline(key: str, numbers: dict) -> None:
    """Glue one headline's evidence under ``key_*``: est, se, ci, p, deaths (hundreds -> deaths),
    truth, truth_deaths, covers ('contains' / 'does not contain' the truth), null, mean, sd,
    seed_truth, coverage, rejects, null_rejects (shares as percentages)."""
    n = numbers
    glue_number(f"{key}_est", n["estimate"])
    glue_number(f"{key}_se", n["std_error"])
    glue_text(f"{key}_ci", "(no interval)" if math.isnan(n["ci_low"]) else f"[{n['ci_low']:.3f}, {n['ci_high']:.3f}]")
    glue_text(f"{key}_p", p_text(n["p_value"]) if not math.isnan(n["p_value"]) else "(no p-value)")
    glue_number(f"{key}_deaths", -100 * n["estimate"], "{:.0f}")
    glue_truth(f"{key}_truth", n["truth"])
    glue_truth(f"{key}_truth_deaths", None if math.isnan(n["truth"]) else -100 * n["truth"], "{:.0f}")
    glue_text(f"{key}_covers", covers((n["ci_low"], n["ci_high"]), n["truth"]))
    glue_number(f"{key}_null", n["null_estimate"])
    glue_number(f"{key}_mean", n["seed_mean"])
    glue_number(f"{key}_sd", n["seed_sd"])
    glue_number(f"{key}_seed_truth", n["seed_truth"])
    glue_number(f"{key}_coverage", n["coverage"], "{:.0%}")
    glue_number(f"{key}_rejects", n["rejection_rate"], "{:.0%}")
    glue_number(f"{key}_null_rejects", n["null_rejection_rate"], "{:.0%}")


def glue_values(values: dict, fmt: str = "{:.3f}") -> None:
    """Glue each value of ``values`` under its key: text as it is, integers with thousands
    separators, other numbers with ``fmt`` (None or NaN: there is no truth on a real panel)."""
    for key, value in values.items():
        if isinstance(value, str):
            glue_text(key, value)
        elif isinstance(value, (int, np.integer)) and not isinstance(value, bool):
            glue_text(key, f"{value:,}")
        else:
            glue_text(key, number_text(value, fmt, NO_TRUTH))


def glue_headlines(table: pd.DataFrame, keys: dict) -> None:
    """:func:`glue_headline` for every ``key: label`` of ``keys`` from an evidence table."""
    for key, label in keys.items():
        glue_headline(key, table.attrs["numbers"][label])
        p_value = table.attrs["numbers"][label]["p_value"]
        glue_text(f"{key}_signif", "(no test)" if math.isnan(p_value) else
                  "significant at the 5% level" if p_value < 0.05 else "not significant at the 5% level")


TABLE2_KEYS = {f"t2c{column}": label for label, (column, *_) in TABLE2_COLUMNS.items()}
SYNERGY_KEYS = {"syn": SYNERGY_LABEL, "syn_inn": "Innova_policy: the Innovative City pilot",
                "syn_smart": "Smart_policy: the Smart City pilot"}
TABLE3_KEYS = {f"t3{letter.lower()}_{short}": label
               for panel, (_, _, letter, _) in TABLE3_PANELS.items()
               for short, label in (("inn", f"{panel}, innovation first"), ("smart", f"{panel}, smart first"),
                                    ("diff", _difference_label(panel)))}
ROBUST_KEYS = dict(zip(("rb_twfe0", "rb_twfe6", "rb_cs0", "rb_cs6", "rb_sa0", "rb_sa6", "rb_im0", "rb_im6"),
                       ROBUST_ROWS))
EVENT_KEYS = dict(zip(("es_avg", "es_leads"), EVENT_STUDY_HEADLINES))
WORLD_KEYS = dict(zip(("book", "delay", "ramp", "share", "moderation", "other", "size", "single", "constant"),
                      WORLDS))


def glue_counts(book) -> None:
    """Glue the counts of :func:`sample_counts` as ``n_<name>`` (thousands separated; years plain)."""
    for key, value in sample_counts(book).items():
        glue_text(f"n_{key}", str(value) if key.endswith("_year") else f"{value:,}")
    design = design_numbers()
    glue_text("paper_c4_deaths", f"{design.pop('paper_c4_deaths'):.1f}")
    glue_values(design)
    glue_text("n_seeds", f"{len(SEEDS):,}")
    glue_text("n_controls", f"{len(CONTROLS):,}")
    glue_text("panel_kind", "the book's simulated panel (real cities and pilot calendars, simulated outcomes)"
              if book.truth is not None else "the reader's real panel")


def glue_worlds(table: pd.DataFrame) -> None:
    """Glue each world's row of :func:`twfe_worlds` as ``w_<key>_<column>`` (est, ci, truth,
    covered, mean, seed_truth, bias, sd, coverage), and ``w_best``, the world with the smallest
    absolute bias over seeds, with its bias."""
    seeds_group = [group for group in table.columns.get_level_values(0) if group.startswith("Over")][0]
    draw = "Book's seed"
    for key, label in WORLD_KEYS.items():
        row = table.loc[label]
        glue_text(f"w_{key}_est", f"{row[(draw, 'estimate')]:.3f}")
        glue_text(f"w_{key}_ci", row[(draw, "95% interval")])
        glue_text(f"w_{key}_truth", f"{row[(draw, 'realised synergy')]:.3f}")
        glue_text(f"w_{key}_covered", "contains" if row[(draw, "covered")] == "yes" else "does not contain")
        for column, name in (("mean", "mean"), ("realised synergy", "seed_truth"), ("bias", "bias"), ("SD", "sd")):
            glue_text(f"w_{key}_{name}", f"{row[(seeds_group, column)]:.3f}")
        glue_text(f"w_{key}_coverage", row[(seeds_group, "coverage")])
    bias = table[(seeds_group, "bias")].abs()
    glue_text("w_best", str(bias.idxmin()))
    glue_text("w_best_bias", f"{table.loc[bias.idxmin(), (seeds_group, 'bias')]:.3f}")


def teaching_numbers(book, table2_numbers: dict, robust: pd.DataFrame) -> dict:
    """Every number the teaching sections quote, by glue key (None where a real panel has no truth)."""
    out = {}
    columns = columns_1_and_2(book)
    for key, label in (("pooled0", "pooled OLS, no controls"), ("pooled6", "pooled OLS, six controls"),
                       ("fe0", "city and year effects, no controls (column 1)"),
                       ("fe6", "city and year effects, six controls (column 2)")):
        out[f"c12_{key}_est"] = float(columns.loc[label, ("This book", "estimate")])
        out[f"c12_{key}_r2"] = float(columns.loc[label, ("This book", "R2")])
        within = columns.loc[label, ("This book", "within R2")]
        if within != "":
            out[f"c12_{key}_within"] = float(within)
    out.update({f"opo_{key}": value for key, value in one_plus_one(book, table2_numbers).items()})
    truth = book.truth
    dual = book.data["Dual_policy"].to_numpy() == 1
    for key, (name, _) in zip(("dvn", "second", "synergy", "innovation", "smart"), ESTIMANDS.values()):
        out[f"est_{key}"] = None if truth is None else truth.estimand(name, dual)
    out.update({f"target_{key}": value for key, value in robust_targets(book).items()})
    gap = imputation_cs_gap(robust.attrs["numbers"], book)
    for row, prefix in (("no covariates", "gap0"), ("six covariates", "gap6")):
        for column, name in zip(gap.columns, ("total", "targets", "trends", "rest")):
            value = gap.loc[row, column]
            out[f"{prefix}_{name}"] = None if pd.isna(value) else float(value)
    blocks = building_blocks(book)
    rows = dict(zip(("bb_clean", "bb_forbidden"), blocks.index))
    for prefix in ("bb_clean", "bb_forbidden"):
        for column, name in (("2x2 estimate", "est"), ("treated cities' effect change", "treated"),
                             ("control cities' effect change", "control"), ("difference of the changes", "difference")):
            present = prefix in rows and column in blocks.columns
            out[f"{prefix}_{name}"] = float(blocks.loc[rows[prefix], column]) if present else None
    weights = negative_weights(book)
    for row, prefix in zip(weights.index, ("nw_all", "nw_col5", "nw_dual")):
        out[f"{prefix}_twfe"] = float(weights.loc[row, "TWFE estimate"])
        out[f"{prefix}_treated"] = int(weights.loc[row, "treated city-years"])
        out[f"{prefix}_negative"] = int(weights.loc[row, "negative weights"])
        out[f"{prefix}_sum"] = float(weights.loc[row, "sum of negative weights"])
    diagnosis = synergy_diagnosis(book)
    for row, prefix in zip(("Innovative City pilot's own effect", "Smart City pilot's own effect",
                            "deaths without any pilot"), ("diag_inn", "diag_smart", "diag_deaths")):
        for column, name in (("single-pilot city-years", "single"), ("dual-pilot city-years", "dual")):
            out[f"{prefix}_{name}"] = (float(diagnosis.loc[row, column]) if row in diagnosis.index else None)
    out.update(propensity_diagnostics(book))
    return out


def propensity_diagnostics(book) -> dict:
    """How well the doubly robust Callaway-Sant'Anna estimator's propensity scores are identified
    on the column 5 sample with the six covariates: group-time cells fitted (``ps_cells``), cells
    with fewer than ``diff_diff``'s threshold of events per covariate (``ps_low_cells``, the
    threshold ``ps_epv_threshold``), the smallest events per covariate (``ps_min_epv``), and
    whether ``diff_diff`` warned of (near) separation (``ps_separation``, 1 or 0)."""
    result = did.att_gt(robust_sample(book), "Safety", "city", "year", "dual_year", covariates=list(CONTROLS))
    cells = result.fitted.epv_diagnostics or {}
    values = [cell["epv"] for cell in cells.values()]
    return {"ps_cells": len(values), "ps_low_cells": int(sum(cell["is_low"] for cell in cells.values())),
            "ps_epv_threshold": f"{result.fitted.epv_threshold:g}",
            "ps_min_epv": f"{min(values):.1f}" if values else NOT_COMPUTED,
            "ps_separation": int(any("separation" in message for message in result.warnings))}


def glue_teaching(book, table2_numbers: dict, robust: pd.DataFrame) -> None:
    """Glue :func:`teaching_numbers` (three decimals; counts as integers)."""
    glue_values(teaching_numbers(book, table2_numbers, robust))


def bacon_numbers(bacon) -> dict:
    """The Goodman-Bacon decomposition's numbers the chapter quotes: the TWFE estimate, and each
    comparison type's total weight and weighted average (0 and NaN for a type that is absent)."""
    by_type = bacon.by_type()
    out = {"bacon_twfe": float(bacon.twfe), "bacon_comparisons": len(bacon.table)}
    for key, kind in (("clean", "treated vs never treated"), ("earlier", "earlier vs later treated"),
                      ("forbidden", "later vs earlier treated")):
        present = kind in by_type.index
        out[f"bacon_{key}_weight"] = float(by_type.loc[kind, "weight"]) if present else 0.0
        out[f"bacon_{key}_estimate"] = float(by_type.loc[kind, "estimate"]) if present else math.nan
    return out


def glue_figure(key: str, figure) -> None:
    """Glue a matplotlib figure (for a ``glue:figure`` with a caption that glues the data's
    description) and close it, so that it is shown once, where the text places it."""
    import matplotlib.pyplot as plt
    from myst_nb import glue

    glue(key, figure, display=False)
    plt.close(figure)


def design_numbers() -> dict:
    """Numbers of the paper and of the design the text quotes: the paper's printed columns 1, 2
    and 4 of Table 2 (estimate and R-squared), the synergy's delay and ramp in the book's
    specification, and the event-study window."""
    spec = load_spec()
    out = {f"paper_c{column}_est": float(printed(2, column, term)["estimate"])
           for column, term in ((1, "Dual_policy"), (2, "Dual_policy"), (4, "Smart_policy"))}
    out.update({f"paper_c{column}_r2": float(printed(2, column, "R2")["estimate"]) for column in (1, 2)})
    out["paper_c4_deaths"] = -100 * out["paper_c4_est"]
    out.update(syn_delay=int(spec["effects"]["dual"]["delay"]), syn_ramp=int(spec["effects"]["dual"]["ramp_years"]),
               es_window=int(EVENT_WINDOW[1]))
    return out


# ----------------------------------------------------------------------------------------------
# Two staggered treatments done right: the synergy from clean comparisons, contamination weights
# ----------------------------------------------------------------------------------------------

SYNERGY_ESTIMATORS = {
    "clean comparisons, single effects carried over as shares": "relative",
    "clean comparisons, single effects carried over in deaths": "level",
}
"""The synergy estimator (:func:`citypilots.estimators.synergy.synergy`) with each way of carrying
the single pilots' effects from single-pilot cities to dual-pilot ones."""
SYNERGY_BOOTSTRAP = 199
SYNERGY_SEEDS = range(100)
"""The simulated panels behind the synergy estimator's "over seeds" columns: more than the
chapter's 20, since the estimator is cheap and 20 panels cannot tell 95% coverage from 100%."""


def synergy_estimate(book, scale: str = "relative", n_boot: int = SYNERGY_BOOTSTRAP):
    """The synergy of the two pilots from clean 2x2 comparisons, the six controls partialled out."""
    from ..estimators.synergy import synergy

    return synergy(book.data, "Safety", "city", "year", "innovative_year", "smart_year", controls=CONTROLS,
                   scale=scale, n_boot=n_boot, seed=0)


def synergy_estimator_measure(book) -> dict:
    """The synergy estimator with both transports, read as the realised synergy (the four-cell
    interaction over the dual-pilot city-years); the TWFE interaction beside them."""
    truth = book.truth
    realised = None if truth is None else truth.synergy()
    out = {label: headline(synergy_estimate(book, scale), truth=realised)
           for label, scale in SYNERGY_ESTIMATORS.items()}
    out[SYNERGY_LABEL] = synergy_measure(book)[SYNERGY_LABEL]
    return out


def synergy_estimator_table(book, seeds=SYNERGY_SEEDS, n_jobs: int = 1) -> pd.DataFrame:
    """The synergy estimator and the TWFE interaction with their evidence columns; the null world
    switches off every part that acts only when a city holds both pilots."""
    null_worlds = {label: "synergy" for label in [*SYNERGY_ESTIMATORS, SYNERGY_LABEL]}
    return evidence_table(synergy_estimator_measure, book, null_worlds, seeds=seeds, n_jobs=n_jobs, seed_truth=True)


def synergy_profile(book) -> tuple:
    """The synergy estimator's profile by years since the dual-pilot year, and the realised synergy
    at each event time (None on a real panel), for the event-study figure."""
    result = synergy_estimate(book)
    profile = did.DidResult(result.estimator, result.table.drop(index="synergy"), result.n_obs, result.n_units,
                            result.inference)
    truth = None if book.truth is None else book.truth.event_time_path("synergy", reference=None)
    if truth is not None:
        truth = truth.loc[truth.index.isin(profile.table.index)]
    return profile, truth


def synergy_cells(book) -> pd.DataFrame:
    """How many dual-pilot cities and city-years identify each kind of cell of the synergy, and from
    which comparison: the second pilot added to holders of the first, against holders of the first
    not yet given the second, minus the second pilot alone in single-pilot cities."""
    result = synergy_estimate(book, n_boot=2)
    cells = result.cells
    first_cohort = cells.groupby("type")["first_cohort"].nunique()
    dual_cohort = cells.groupby("type")["dual_cohort"].nunique()
    cities = cells.drop_duplicates(["type", "first_cohort", "dual_cohort"]).groupby("type")["n_dual"].sum()
    unit_years = cells.groupby("type")["n_dual"].sum()
    comparison = {"A first": "Smart City added to Innovative City holders, minus Smart City alone",
                  "B first": "Innovative City added to Smart City holders, minus Innovative City alone",
                  "same year": "both pilots against neither, minus each pilot alone"}
    table = pd.DataFrame({"dual-pilot cities": cities, "dual-pilot city-years": unit_years,
                          "first-pilot cohorts": first_cohort, "dual-pilot cohorts": dual_cohort})
    table.index = [f"{'innovation first' if kind == 'A first' else 'smart first' if kind == 'B first' else kind}"
                   for kind in table.index]
    table.insert(0, "comparison", [comparison[kind] for kind in cities.index])
    table.index.name = "order of adoption"
    return table


def contamination(book) -> dict:
    """The weights behind the three-dummy TWFE (Goldsmith-Pinkham, Hull and Kolesar 2024): each
    coefficient split into its own effect, the other treatments' effects and the untreated
    outcome (with the realised effects of the simulated panel; weights only on a real panel)."""
    from ..estimators.contamination import contamination_weights

    data, truth = book.data, book.truth
    treatments = ["Innova_policy", "Smart_policy", "Dual_policy"]
    effects = None
    if truth is not None:
        po = truth.potential_outcomes
        effects = pd.DataFrame({"Innova_policy": po["Safety_innovation_only"] - po["Safety_none"],
                                "Smart_policy": po["Safety_smart_only"] - po["Safety_none"],
                                "Dual_policy": truth.contrast("synergy")})
    result = contamination_weights(data, "Safety", treatments, controls=CONTROLS, effects=effects)
    return {"summary": result.summary, "decomposition": result.decomposition}


# ----------------------------------------------------------------------------------------------
# Contamination in Table 2 (columns 3-4) and Table 3, and contamination-free estimates
# ----------------------------------------------------------------------------------------------

CONTAMINATED_CELLS = {
    # label: (kind, pilot or adoption order, estimand the cell is read as)
    "Table 2 (3): Innovative City single pilot": ("single", "innovation", "innovation_single"),
    "Table 2 (4): Smart City single pilot": ("single", "smart", "smart_single"),
    "Table 3 A: innovation first vs non-pilot": ("vs none", "innovation first", "dual_vs_none"),
    "Table 3 A: smart first vs non-pilot": ("vs none", "smart first", "dual_vs_none"),
    "Table 3 B: innovation first vs single-pilot": ("vs single", "innovation first", "second_given_first"),
    "Table 3 B: smart first vs single-pilot": ("vs single", "smart first", "second_given_first"),
}
"""The paper's one-dummy regressions whose samples hold city-years treated by something the dummy
leaves out: the other program's single pilots (Table 2, columns 3-4), the dual-pilot cities'
years with their first pilot only (Table 3 A), every pilot holder's first pilot (Table 3 B)."""
_FIRST_PILOT = {"innovation first": "innovation", "smart first": "smart"}
_ONLY_GROUP = {"innovation": "innovation only", "smart": "smart only"}


def _row_labels(book) -> tuple[np.ndarray, np.ndarray]:
    """Each row's pilot group and (dual-pilot cities) adoption order, as plain strings."""
    data = book.data
    group = data["city"].map(city_groups(book)).astype(object).fillna("").to_numpy()
    order = data["city"].map(city_orders(book)).astype(object).fillna("").to_numpy()
    return group, order


def first_pilot_effect(book) -> np.ndarray:
    """Each row's realised effect of the pilot its city joined first (of its only pilot for a
    single-pilot city), against neither: ``Safety_<that pilot>_only - Safety_none``; 0 elsewhere."""
    po = book.truth.potential_outcomes
    group, order = _row_labels(book)
    innovation = (group == "innovation only") | (order == "innovation first")
    smart = (group == "smart only") | (order == "smart first")
    effect = np.zeros(len(book.data))
    effect[innovation] = (po["Safety_innovation_only"] - po["Safety_none"]).to_numpy()[innovation]
    effect[smart] = (po["Safety_smart_only"] - po["Safety_none"]).to_numpy()[smart]
    return effect


def cell_samples(book, label: str) -> dict:
    """The samples of one contaminated cell: ``paper`` (the paper's regression: its sample with the
    regressed dummy ``term``, the ``omitted`` dummy added as a column, and ``effects``: each row's
    realised effect of both, None on a real panel), ``clean`` (the contamination-free sample and its
    adoption-date column) and ``rows`` (the panel's rows the cell's truth averages over).

    Contamination-free: a city-year enters the untreated comparison only if it is untreated in the
    sense the estimand needs. Single pilot: that pilot's single-pilot cities and the non-pilot
    cities. Table 3 A: the order's dual-pilot cities without their years with the first pilot only,
    and the non-pilot cities. Table 3 B: the order's dual-pilot cities and the single-pilot cities
    of the same first pilot, from each city's first pilot on, so the untreated state is "first
    pilot only".
    """
    data = book.data
    kind, which, _ = CONTAMINATED_CELLS[label]
    group, order = _row_labels(book)
    innova, smart, dual = (data[c].to_numpy() == 1 for c in ("Innova_policy", "Smart_policy", "Dual_policy"))
    frame = data.assign(first_pilot_only=((innova | smart) & ~dual).astype(int),
                        holds_a_pilot=(innova | smart).astype(int))
    if kind == "single":
        term, other = ("Innova_policy", "Smart_policy") if which == "innovation" else ("Smart_policy", "Innova_policy")
        in_paper = np.isin(group, ["innovation only", "smart only", "none"])
        in_clean = np.isin(group, [_ONLY_GROUP[which], "none"])
        cohort = "innovative_year" if which == "innovation" else "smart_year"
        rows = (frame[term].to_numpy() == 1) & (group == _ONLY_GROUP[which])
        omitted, own_effect, omitted_effect = other, None, None
        if book.truth is not None:
            po = book.truth.potential_outcomes
            own_effect = (po[f"Safety_{which}_only"] - po["Safety_none"]).to_numpy()
            other_pilot = "smart" if which == "innovation" else "innovation"
            omitted_effect = (po[f"Safety_{other_pilot}_only"] - po["Safety_none"]).to_numpy()
    else:
        term, cohort = "Dual_policy", "dual_year"
        in_order = order == which
        rows = dual & in_order
        if kind == "vs none":
            in_paper = in_order | (group == "none")
            in_clean = in_paper & (frame["first_pilot_only"].to_numpy() == 0)
            omitted = "first_pilot_only"
        else:
            in_paper = in_order | np.isin(group, ["innovation only", "smart only"])
            in_clean = (in_order | (group == _ONLY_GROUP[_FIRST_PILOT[which]])) & (innova | smart)
            omitted = "holds_a_pilot"
        own_effect = omitted_effect = None
        if book.truth is not None:
            po = book.truth.potential_outcomes
            omitted_effect = first_pilot_effect(book)
            own_effect = ((po["Safety_both"] - po["Safety_none"]).to_numpy() if kind == "vs none"
                          else (po["Safety_both"] - po["Safety_first_only"]).to_numpy())
    effects = None
    if own_effect is not None:
        effects = pd.DataFrame({term: np.nan_to_num(own_effect), omitted: omitted_effect})[in_paper].reset_index(drop=True)
    return {"paper": frame[in_paper].reset_index(drop=True), "term": term, "omitted": omitted, "effects": effects,
            "clean": frame[in_clean].reset_index(drop=True), "cohort": cohort, "rows": rows}


def contamination_by_cell(book) -> pd.DataFrame:
    """Each contaminated cell's TWFE coefficient (the paper's sample, six controls) split into its
    own effect, the contamination by the pilot the dummy leaves out and the untreated outcome
    (Goldsmith-Pinkham, Hull and Kolesar 2024; with the realised effects of the simulated panel),
    and the sum of the left-out pilot's weights; on a real panel, the coefficient and the weights."""
    from ..estimators.contamination import contamination_weights

    records = {}
    for label, (kind, which, estimand) in CONTAMINATED_CELLS.items():
        cell = cell_samples(book, label)
        result = contamination_weights(cell["paper"], "Safety", [cell["term"]], controls=CONTROLS,
                                       effects=cell["effects"], omitted=[cell["omitted"]])
        term, omitted = cell["term"], cell["omitted"]
        record = {"TWFE coefficient": result.summary.loc[term, "coefficient"],
                  "weight on the left-out pilot": float(result.weights[(term, omitted)].sum())}
        if result.decomposition is not None:
            parts = result.decomposition.loc[term]
            record.update({"own effect": parts["own effect"],
                           "left-out pilot's effects": parts[f"contamination by {omitted}"],
                           "untreated outcome": parts["untreated outcome"],
                           "realised truth": book.truth.estimand(estimand, cell["rows"])})
        records[label] = record
    table = pd.DataFrame.from_dict(records, orient="index")
    table.index.name = "cell"
    return table


def contamination_free_measure(book) -> dict:
    """Each contaminated cell estimated without contamination: the imputation estimator
    (Borusyak, Jaravel and Spiess 2024; six covariates) on the cell's clean sample
    (:func:`cell_samples`), read as the realised estimand of the cell over its treated city-years.
    A city treated in every year of its clean sample has no untreated year to impute from and drops
    out (the estimator's warning is silenced here; the one-dummy TWFE learns nothing from it either)."""
    import warnings

    out = {}
    for label, (_, _, estimand) in CONTAMINATED_CELLS.items():
        cell = cell_samples(book, label)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*treated in every period.*")
            result = did.imputation(cell["clean"], "Safety", "city", "year", cell["cohort"],
                                    covariates=list(CONTROLS))
        truth = None if book.truth is None else book.truth.estimand(estimand, cell["rows"])
        out[label] = headline(result, truth=truth)
    return out


def contamination_free_table(book, seeds=SEEDS, n_jobs: int = 1) -> pd.DataFrame:
    """The contamination-free estimates with their evidence columns (null world: the cell's own
    effect switched off), beside the paper's printed coefficients."""
    null_worlds = {label: estimand for label, (*_, estimand) in CONTAMINATED_CELLS.items()}
    table = evidence_table(contamination_free_measure, book, null_worlds, seeds=seeds, n_jobs=n_jobs,
                           seed_truth=True)
    paper = {"Table 2 (3): Innovative City single pilot": printed(2, 3, "Innova_policy"),
             "Table 2 (4): Smart City single pilot": printed(2, 4, "Smart_policy")}
    for label, (kind, which, _) in CONTAMINATED_CELLS.items():
        if kind != "single":
            letter, first_column = ("A", 1) if kind == "vs none" else ("B", 3)
            paper[label] = printed(3, first_column + SEQUENCES.index(which), "Dual_policy", panel=letter)
    return with_paper(table, paper)


CLEAN_KEYS = dict(zip(("cf_c3", "cf_c4", "cf_a_inn", "cf_a_smart", "cf_b_inn", "cf_b_smart"), CONTAMINATED_CELLS))
_PAPER_REGRESSION = dict(zip(CONTAMINATED_CELLS, ("(3) Innovative City single pilot", "(4) Smart City single pilot",
                                                  "A: vs non-pilot, innovation first", "A: vs non-pilot, smart first",
                                                  "B: vs single-pilot, innovation first",
                                                  "B: vs single-pilot, smart first")))
"""Each contaminated cell's row in :func:`table2` or :func:`table3` (the paper's regression)."""


def clean_against_paper(clean: dict, table2_numbers: dict, table3_numbers: dict) -> pd.DataFrame:
    """Over the seeds, per cell: the mean bias (mean estimate minus mean realised truth) and SD of
    the paper's regression and of the contamination-free estimate."""
    records = {}
    for label, regression in _PAPER_REGRESSION.items():
        paper = table2_numbers.get(regression) or table3_numbers[regression]
        records[label] = {"paper's regression, bias": paper["seed_mean"] - paper["seed_truth"],
                          "paper's regression, SD": paper["seed_sd"],
                          "contamination-free, bias": clean[label]["seed_mean"] - clean[label]["seed_truth"],
                          "contamination-free, SD": clean[label]["seed_sd"]}
    return pd.DataFrame.from_dict(records, orient="index")


def glue_contamination_free(by_cell: pd.DataFrame, table: pd.DataFrame, table2_numbers: dict,
                            table3_numbers: dict) -> None:
    """Glue the cells' decompositions (``<key>_twfe``, ``_own``, ``_leftout``, ``_untreated``,
    ``_leftout_weight``), the contamination-free evidence (:func:`glue_headlines`), and how often
    over the seeds the contamination-free estimate has the smaller bias (``cf_closer``) and the
    larger SD (``cf_wider``) than the paper's regression."""
    glue_headlines(table, CLEAN_KEYS)
    for key, label in CLEAN_KEYS.items():
        row = by_cell.loc[label]
        glue_number(f"{key}_twfe", row["TWFE coefficient"])
        glue_number(f"{key}_leftout_weight", row["weight on the left-out pilot"])
        for column, name in (("own effect", "own"), ("left-out pilot's effects", "leftout"),
                             ("untreated outcome", "untreated")):
            glue_truth(f"{key}_{name}", row.get(column))
    compared = clean_against_paper(table.attrs["numbers"], table2_numbers, table3_numbers)
    closer = int((compared["contamination-free, bias"].abs() < compared["paper's regression, bias"].abs()).sum())
    wider = int((compared["contamination-free, SD"] > compared["paper's regression, SD"]).sum())
    glue_text("cf_closer", f"{closer:,} of the {len(compared):,}")
    glue_text("cf_wider", f"{wider:,} of the {len(compared):,}")


def glue_two_treatments(book, table: pd.DataFrame, weights: dict) -> None:
    """Glue the section's numbers: the estimators' evidence, the cells' counts, the contamination."""
    keys = {"cln": list(SYNERGY_ESTIMATORS)[0], "cln_level": list(SYNERGY_ESTIMATORS)[1]}
    glue_headlines(table, keys)
    glue_text("syn_boot", f"{SYNERGY_BOOTSTRAP:,}")
    glue_text("syn_n_seeds", f"{len(SYNERGY_SEEDS):,}")
    parts = weights["decomposition"]
    if parts is None:
        for key in ("dual_own", "dual_contam_inn", "dual_contam_smart", "dual_untreated", "inn_contam_dual"):
            glue_truth(f"cb_{key}", None)
    else:
        glue_truth("cb_dual_own", parts.loc["Dual_policy", "own effect"])
        glue_truth("cb_dual_contam_inn", parts.loc["Dual_policy", "contamination by Innova_policy"])
        glue_truth("cb_dual_contam_smart", parts.loc["Dual_policy", "contamination by Smart_policy"])
        glue_truth("cb_dual_untreated", parts.loc["Dual_policy", "untreated outcome"])
        glue_truth("cb_inn_contam_dual", parts.loc["Innova_policy", "contamination by Dual_policy"])
    summary = weights["summary"]
    glue_number("cb_dual_coef", summary.loc["Dual_policy", "coefficient"])
    glue_number("cb_inn_negative", summary.loc["Innova_policy", "own weights, share negative"], "{:.0%}")
    glue_number("cb_smart_negative", summary.loc["Smart_policy", "own weights, share negative"], "{:.0%}")
