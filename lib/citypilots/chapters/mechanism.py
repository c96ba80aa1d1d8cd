"""The mechanism chapter's tables and figures: the paper's Table 6 and what the field asks beyond it.

Each function takes the chapter's panel (``book``: anything with ``.data``, ``.cities`` and
``.truth``, which is None on a reader's real panel) and returns what the chapter shows, with the
sentences' numbers ready to glue in ``.texts`` (or ``attrs["texts"]`` of a table): every number
formatted here, so that the chapter's hidden cells hold only glue calls, and every sentence still
reads on a real panel (a truth becomes a note that there is none).

- :func:`table6`: Table 6 (stepwise mediation through TI and IU, the SR moderation) with the
  realised truth, the null world and the spread over seeds of every row; :func:`channels_jointly`
  sets the path b fitted one channel at a time beside b fitted with both channels at once.
- :func:`identity_check`: the identity c = c' + a b, on this panel and on the paper's numbers.
- :func:`indirect_effects`: a b with pairs cluster bootstrap intervals, one channel at a time
  and jointly, with its evidence columns.
- :func:`mediator_event_studies`: the mediator (and moderator) equations as event studies, the
  parallel-trends check a mediator equation needs.
- :func:`confounder_drift` and :func:`sensitivity`: what sequential ignorability means, with a
  planted confounder and with the Imai-Keele-Yamamoto sensitivity analysis.
- :func:`moderation_evidence`: the SR interaction, centred and not, whether the pilots move SR,
  the binned (Hainmueller-Mummolo-Xu) estimates beside the line, and the treated city-years' SR.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..data.panel import CONTROLS
from ..data.paper import load_descriptives, printed
from ..estimators import did, mechanism
from ..report.evidence import evidence_table, headline, with_paper
from ..report.glue import NO_TRUTH, covers, glue_text, number_text, p_text
from ..simulation.generator import simulate_panel
from ..simulation.montecarlo import replicate

MEDIATORS = ("TI", "IU")
OUTCOME, TREATMENT, MODERATOR = "Safety", "Dual_policy", "SR"
BOOTSTRAP_SEED = 2013

WORLDS = {f"no_b_{m}": {f"effects.mediators.{m}.b": 0.0} for m in MEDIATORS}
"""Null worlds that :func:`citypilots.simulation.specification.null_world` does not name: the
mediator does not move deaths (its path b is zero; the pilots still move it)."""

NO_CONTRAST = "none: SR is not a treatment"


def glue_all(texts: dict) -> None:
    """Glue every ``key: text`` of ``texts`` (as text, not displayed)."""
    for key, text in texts.items():
        glue_text(key, text)


def _truth(book, name: str, rows=None):
    return None if book.truth is None else book.truth.estimand(name, rows)


def realised_path(book, mediator: str, path: str):
    """The realised path of a channel: ``a`` = how far both pilots move the mediator
    (``mediator_shift_M``); ``b`` = the mediated effect per unit of the mediator the pilots moved
    (``mediated_M / mediator_shift_M``; NaN where the pilots do not move the mediator). None on a
    real panel."""
    if book.truth is None:
        return None
    shift = book.truth.estimand(f"mediator_shift_{mediator}")
    if path == "a":
        return shift
    return book.truth.estimand(f"mediated_{mediator}") / shift if shift != 0 else math.nan


def realised_effect_at(book, value: float):
    """The realised effect of both pilots against none at SR = ``value``: ``dual_vs_none`` moved
    along the realised moderation slope (``moderation_SR``) from the dual-pilot city-years' mean
    SR to ``value`` (the least-squares line of the moderation on SR passes through their means).
    None on a real panel."""
    if book.truth is None:
        return None
    dual = book.data[TREATMENT].to_numpy() == 1
    mean_sr = float(book.data.loc[dual, MODERATOR].mean())
    return book.truth.dual_vs_none() + book.truth.moderation_SR() * (value - mean_sr)


# ----------------------------------------------------------------------------------------------
# Table 6
# ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Row:
    """One row of Table 6: the paper's (column, term), the model and term that fit it here, the
    truth it is read as and the null world that tests it."""

    column: int | None
    paper_term: str | None
    model: str
    term: str
    truth: str | None
    null: str | None


TABLE6_ROWS = {
    "(1) TI: Dual_policy (a)": Row(1, TREATMENT, "TI", "a", "a_TI", "mediated_TI"),
    "(2) Safety: Dual_policy (direct c')": Row(2, TREATMENT, "TI", "direct", "direct_TI", "dual_vs_none"),
    "(2) Safety: TI (b)": Row(2, "TI", "TI", "b", "b_TI", "no_b_TI"),
    "(3) IU: Dual_policy (a)": Row(3, TREATMENT, "IU", "a", "a_IU", "mediated_IU"),
    "(4) Safety: Dual_policy (direct c')": Row(4, TREATMENT, "IU", "direct", "direct_IU", "dual_vs_none"),
    "(4) Safety: IU (b)": Row(4, "IU", "IU", "b", "b_IU", "no_b_IU"),
    "(5) Safety: Dual_policy": Row(5, TREATMENT, "sr_added", TREATMENT, "dual_vs_none", "dual_vs_none"),
    "(5) Safety: SR": Row(5, MODERATOR, "sr_added", MODERATOR, None, None),
    "(6) Safety: Dual_policy (at mean SR)": Row(6, TREATMENT, "moderated", TREATMENT, "effect_at_mean_sr",
                                                "dual_vs_none"),
    "(6) Safety: SR": Row(6, MODERATOR, "moderated", MODERATOR, None, None),
    "(6) Safety: Dual_policy x SR": Row(6, "Dual_policy x SR", "moderated", "Dual_policy x SR", "moderation_SR",
                                        "moderation_SR"),
}
"""The paper's Table 6, row by row. SR's own rows have no truth: SR is not a treatment the
simulation switches, so no contrast of potential outcomes belongs to them."""

JOINT_ROWS = {
    "(2+4 jointly) Safety: TI (b)": Row(None, None, "joint", "b_TI", "b_TI", "no_b_TI"),
    "(2+4 jointly) Safety: IU (b)": Row(None, None, "joint", "b_IU", "b_IU", "no_b_IU"),
    "(2+4 jointly) Safety: Dual_policy (direct c')": Row(None, None, "joint", "direct", "direct_joint",
                                                         "dual_vs_none"),
}
"""The same outcome equation with both channels at once (not in the paper)."""


def _table6_models(data: pd.DataFrame) -> dict:
    channels = {m: mechanism.mediation(data, OUTCOME, TREATMENT, m, controls=CONTROLS) for m in MEDIATORS}
    joint_outcome = did.twfe(data, OUTCOME, TREATMENT, (*MEDIATORS, *CONTROLS))
    return {**channels, "joint": joint_outcome,
            "sr_added": did.twfe(data, OUTCOME, TREATMENT, (MODERATOR, *CONTROLS)),
            "moderated": mechanism.moderation(data, OUTCOME, TREATMENT, MODERATOR, controls=CONTROLS,
                                              center="mean")}


def _row_headline(models: dict, row: Row, truth) -> dict:
    model = models[row.model]
    if isinstance(model, mechanism.MediationResult):
        fit, term = {"a": (model.mediator_model, TREATMENT), "b": (model.outcome_model, model.mediator),
                     "direct": (model.outcome_model, TREATMENT)}[row.term]
    elif row.model == "joint":
        fit, term = model, {"b_TI": "TI", "b_IU": "IU", "direct": TREATMENT}[row.term]
    else:
        fit, term = model, row.term
    return headline(fit, term, truth=truth)


def _row_truth(book, name: str | None, centre: float):
    if book.truth is None or name is None:
        return None
    if name in ("a_TI", "a_IU", "b_TI", "b_IU"):
        return realised_path(book, name[2:], name[0])
    if name in ("direct_TI", "direct_IU"):
        return book.truth.dual_vs_none() - book.truth.estimand(f"mediated_{name[-2:]}")
    if name == "direct_joint":
        return book.truth.dual_vs_none() - sum(book.truth.estimand(f"mediated_{m}") for m in MEDIATORS)
    if name == "effect_at_mean_sr":
        return realised_effect_at(book, centre)
    return book.truth.estimand(name)


def table6_measure(book) -> dict:
    """Every row of Table 6 (and the joint fit's rows) on one panel, with the realised truth each
    is read as: path a as ``mediator_shift_M``; path b as ``mediated_M / mediator_shift_M``; the
    direct effect as ``dual_vs_none`` less the mediated part(s); ``Dual_policy`` as
    ``dual_vs_none`` (column 6: at the mean SR); the interaction as ``moderation_SR``."""
    models = _table6_models(book.data)
    centre = models["moderated"].extra["center"]
    return {label: _row_headline(models, row, _row_truth(book, row.truth, centre))
            for label, row in {**TABLE6_ROWS, **JOINT_ROWS}.items()}


def table6(book, seeds=range(20), n_jobs: int = 1, progress: bool = False) -> pd.DataFrame:
    """Table 6: the paper's column beside this book's estimate, the realised truth, the estimate in
    the null world (that row's effect switched off: the pilots do not move the mediator for path a,
    the mediator does not move deaths for path b, no own-pilot effect for the rows of Dual_policy,
    no moderation for the interaction) and the spread over ``seeds``.

    The joint fit's rows are computed too and kept in ``attrs["joint"]`` (for
    :func:`channels_jointly`); ``attrs["numbers"]`` holds every unrounded number and
    ``attrs["texts"]`` the chapter's glue texts."""
    seeds = list(seeds)
    rows = {**TABLE6_ROWS, **JOINT_ROWS}
    evidence = evidence_table(table6_measure, book, {label: row.null for label, row in rows.items()},
                              seeds=seeds, n_jobs=n_jobs, progress=progress, decimals=4, worlds=WORLDS)
    paper = {label: printed(6, row.column, row.paper_term) for label, row in TABLE6_ROWS.items()}
    table = with_paper(evidence.loc[list(TABLE6_ROWS)], paper)
    n_seeds = len(seeds)
    for label, row in TABLE6_ROWS.items():
        if row.truth is None:  # no truth, so no coverage either (evidence_table would count 0%)
            table.loc[label, ("Truth", "realised")] = NO_CONTRAST
            table.loc[label, (f"Over {n_seeds} seeds", "coverage")] = ""
    table.attrs = {"numbers": evidence.attrs["numbers"], "joint": evidence.loc[list(JOINT_ROWS)],
                   "texts": _table6_texts(book, evidence.attrs["numbers"], n_seeds)}
    return table


def _share(value: float) -> str:
    return number_text(value, "{:.0%}")


def _table6_texts(book, numbers: dict, n_seeds: int) -> dict:
    n = numbers
    texts = {"seeds": str(n_seeds), "city_years": f"{len(book.data):,}"}
    keys = {"(1) TI: Dual_policy (a)": "a_TI", "(2) Safety: TI (b)": "b_TI", "(3) IU: Dual_policy (a)": "a_IU",
            "(4) Safety: IU (b)": "b_IU", "(2) Safety: Dual_policy (direct c')": "direct_TI",
            "(4) Safety: Dual_policy (direct c')": "direct_IU", "(5) Safety: Dual_policy": "dual5",
            "(6) Safety: Dual_policy (at mean SR)": "dual6", "(6) Safety: Dual_policy x SR": "phi",
            "(2+4 jointly) Safety: TI (b)": "b_TI_joint", "(2+4 jointly) Safety: IU (b)": "b_IU_joint",
            "(2+4 jointly) Safety: Dual_policy (direct c')": "direct_joint"}
    for label, key in keys.items():
        values = n[label]
        fmt = "{:.1f}" if key == "phi" else ("{:.4f}" if key.startswith("a_IU") else "{:.3f}")
        texts[f"{key}_book"] = number_text(values["estimate"], fmt)
        texts[f"{key}_se"] = number_text(values["std_error"], fmt)
        texts[f"{key}_truth"] = number_text(values["truth"], fmt, NO_TRUTH)
        texts[f"{key}_covers"] = covers((values["ci_low"], values["ci_high"]), values["truth"])
        texts[f"{key}_null"] = number_text(values["null_estimate"], fmt)
        texts[f"{key}_seed_mean"] = number_text(values["seed_mean"], fmt)
        texts[f"{key}_seed_sd"] = number_text(values["seed_sd"], fmt)
        texts[f"{key}_seed_truth"] = number_text(values["seed_truth"], fmt)
        texts[f"{key}_coverage"] = _share(values["coverage"])
        texts[f"{key}_rejects"] = _share(values["rejection_rate"])
        texts[f"{key}_null_rejects"] = _share(values["null_rejection_rate"])
        texts[f"{key}_p"] = p_text(values["p_value"])
    return texts


def channels_jointly(table: pd.DataFrame) -> pd.DataFrame:
    """Path b fitted one channel at a time (Table 6, columns 2 and 4) beside b fitted with both
    channels in one outcome equation, from :func:`table6`'s numbers: this book's estimate, the
    realised truth, and over the seeds the mean, SD and coverage, with the null world's rejection
    rate (b switched off)."""
    numbers = table.attrs["numbers"]
    pairs = {("TI", "one channel at a time"): "(2) Safety: TI (b)",
             ("TI", "both channels jointly"): "(2+4 jointly) Safety: TI (b)",
             ("IU", "one channel at a time"): "(4) Safety: IU (b)",
             ("IU", "both channels jointly"): "(2+4 jointly) Safety: IU (b)"}
    n_seeds = next(iter(numbers.values()))["seeds"]
    records = {}
    for key, label in pairs.items():
        n = numbers[label]
        records[key] = {("This book", "b"): number_text(n["estimate"]),
                        ("This book", "s.e."): f"({number_text(n['std_error'])})",
                        ("Truth", "realised b"): number_text(n["truth"], "{:.3f}", ""),
                        (f"Over {n_seeds} seeds", "mean"): number_text(n["seed_mean"]),
                        (f"Over {n_seeds} seeds", "SD"): number_text(n["seed_sd"]),
                        (f"Over {n_seeds} seeds", "mean truth"): number_text(n["seed_truth"]),
                        (f"Over {n_seeds} seeds", "coverage"): _share(n["coverage"]),
                        (f"Null world (b = 0) over {n_seeds} seeds", "rejects 0"): _share(n["null_rejection_rate"])}
    out = pd.DataFrame.from_dict(records, orient="index")
    out.columns = pd.MultiIndex.from_tuples(out.columns)
    out.index = pd.MultiIndex.from_tuples(out.index, names=["channel", "path b fitted"])
    return out


# ----------------------------------------------------------------------------------------------
# The identity c = c' + a b
# ----------------------------------------------------------------------------------------------

def identity_check(book) -> pd.DataFrame:
    """The decomposition c = c' + a b per channel, from the paper's printed numbers (total from
    Table 2, column 2) and from this book's regressions; ``attrs["texts"]`` for the prose."""
    paper_total = float(printed(2, 2, TREATMENT)["estimate"])
    texts, records = {"paper_total": f"{paper_total:.3f}"}, {}
    for column, mediator in ((1, "TI"), (3, "IU")):
        a = printed(6, column, TREATMENT)["estimate"]
        b = printed(6, column + 1, mediator)["estimate"]
        direct = float(printed(6, column + 1, TREATMENT)["estimate"])
        paper = mechanism.mediation_identity(paper_total, direct, a, b)
        book_check = mechanism.mediation(book.data, OUTCOME, TREATMENT, mediator, controls=CONTROLS).identity()
        gap = "below 1e-12" if abs(book_check["gap"]) < 1e-12 else f"{book_check['gap']:.1e}"
        records[mediator] = {
            ("Paper (from printed numbers)", "total c"): f"{paper_total:.3f}",
            ("Paper (from printed numbers)", "a x b"): f"{paper['indirect']:.3f}",
            ("Paper (from printed numbers)", "direct c'"): f"{direct:.3f}",
            ("Paper (from printed numbers)", "c - c' - a x b"): f"{paper['gap']:.3f}",
            ("This book", "total c"): f"{book_check['total']:.3f}",
            ("This book", "a x b"): f"{book_check['indirect']:.3f}",
            ("This book", "direct c'"): f"{book_check['direct']:.3f}",
            ("This book", "c - c' - a x b"): gap,
        }
        texts.update({f"paper_indirect_{mediator}": f"{paper['indirect']:.3f}",
                      f"paper_implied_direct_{mediator}": f"{paper['implied_direct']:.3f}",
                      f"paper_printed_direct_{mediator}": f"{direct:.3f}",
                      f"paper_implied_total_{mediator}": f"{paper['implied_total']:.3f}",
                      f"paper_gap_{mediator}": f"{paper['gap']:.3f}", f"book_gap_{mediator}": gap})
    table = pd.DataFrame.from_dict(records, orient="index")
    table.columns = pd.MultiIndex.from_tuples(table.columns)
    table.attrs["texts"] = texts
    return table


# ----------------------------------------------------------------------------------------------
# The indirect effects, with bootstrap intervals
# ----------------------------------------------------------------------------------------------

INDIRECT_ROWS = {
    "TI, one channel at a time (as the paper)": ("TI", False),
    "IU, one channel at a time (as the paper)": ("IU", False),
    "TI, both channels jointly": ("TI", True),
    "IU, both channels jointly": ("IU", True),
}


def _bootstraps(data: pd.DataFrame, n_boot: int) -> dict:
    separate = {m: mechanism.bootstrap_mediation(data, OUTCOME, TREATMENT, m, controls=CONTROLS, n_boot=n_boot,
                                                 seed=BOOTSTRAP_SEED, progress=False) for m in MEDIATORS}
    joint = mechanism.bootstrap_joint_mediation(data, OUTCOME, TREATMENT, MEDIATORS, controls=CONTROLS,
                                                n_boot=n_boot, seed=BOOTSTRAP_SEED, progress=False)
    return {"separate": separate, "joint": joint}


def _indirect_headlines(book, fits: dict) -> dict:
    out = {}
    for label, (mediator, jointly) in INDIRECT_ROWS.items():
        result = fits["joint"] if jointly else fits["separate"][mediator]
        term = f"indirect_{mediator}" if jointly else "indirect"
        out[label] = headline(result, term, truth=_truth(book, f"mediated_{mediator}"))
    return out


def indirect_measure(book, n_boot: int = 199) -> dict:
    """The indirect effect a b of each channel (fitted one at a time and jointly) with its pairs
    cluster bootstrap interval (``n_boot`` resamples of cities), read as the realised mediated
    effect ``mediated_M`` (both pilots against both pilots with the mediator held at its value
    without them)."""
    return _indirect_headlines(book, _bootstraps(book.data, n_boot))


@dataclass
class IndirectEffects:
    """The indirect-effect table and what the chapter says about it."""

    table: pd.DataFrame
    fits: dict
    texts: dict = field(default_factory=dict)


def indirect_effects(book, seeds=range(20), n_jobs: int = 1, n_boot: int = 999, seed_n_boot: int = 199,
                     progress: bool = False) -> IndirectEffects:
    """The indirect effects with their evidence columns.

    This book's columns come from ``n_boot`` resamples of cities; the null world (the pilots do not
    move that mediator) and the seeds from ``seed_n_boot`` resamples each (the seed runs refit the
    bootstrap on every simulated panel, so they use fewer draws). The paper column is a b from the
    printed a and b (the paper prints no indirect effect)."""
    null_worlds = {label: f"mediated_{mediator}" for label, (mediator, _) in INDIRECT_ROWS.items()}
    evidence = evidence_table(functools.partial(indirect_measure, n_boot=seed_n_boot), book, null_worlds,
                              seeds=seeds, n_jobs=n_jobs, progress=progress, decimals=4)
    fits = _bootstraps(book.data, n_boot)
    on_book = _indirect_headlines(book, fits)
    for label, values in on_book.items():
        evidence.loc[label, ("This book", "estimate")] = f"{values['estimate']:.4f}"
        evidence.loc[label, ("This book", "s.e.")] = f"({values['std_error']:.4f})"
        evidence.loc[label, ("This book", "95% interval")] = f"[{values['ci_low']:.4f}, {values['ci_high']:.4f}]"
        evidence.attrs["numbers"][label].update(values)
    paper = {}
    for label, (mediator, jointly) in INDIRECT_ROWS.items():
        column = 1 if mediator == "TI" else 3
        product = printed(6, column, TREATMENT)["estimate"] * printed(6, column + 1, mediator)["estimate"]
        paper[label] = None if jointly else {"raw_estimate": f"{product:.4f}", "raw_se": ""}
    table = with_paper(evidence, paper)
    table = table.rename(columns={"estimate": "a x b"}, level=1)
    texts = _indirect_texts(book, fits, evidence.attrs["numbers"], n_boot, seed_n_boot)
    return IndirectEffects(table=table, fits=fits, texts=texts)


def _indirect_texts(book, fits: dict, numbers: dict, n_boot: int, seed_n_boot: int) -> dict:
    texts = {"bootstrap_draws": f"{n_boot:,}", "seed_bootstrap_draws": f"{seed_n_boot:,}",
             "bootstrap_floor": f"{2 / (n_boot + 1):.4f}"}
    total = fits["separate"]["TI"].estimate("total")
    dual_vs_none = _truth(book, "dual_vs_none")
    texts["twfe_total"] = f"{total:.3f}"
    texts["dual_vs_none_truth"] = number_text(dual_vs_none, "{:.3f}", NO_TRUTH)
    for label, (mediator, jointly) in INDIRECT_ROWS.items():
        key = f"indirect_{mediator}" + ("_joint" if jointly else "")
        n = numbers[label]
        result = fits["joint"] if jointly else fits["separate"][mediator]
        term = f"indirect_{mediator}" if jointly else "indirect"
        texts[f"{key}_book"] = f"{n['estimate']:.4f}"
        texts[f"{key}_interval"] = f"{n['ci_low']:.4f} to {n['ci_high']:.4f}"
        texts[f"{key}_p"] = p_text(result.table.loc[term, "p_value"], draws=n_boot)
        texts[f"{key}_covers"] = covers((n["ci_low"], n["ci_high"]), n["truth"])
        texts[f"{key}_covers_zero"] = "excludes" if not n["ci_low"] <= 0 <= n["ci_high"] else "includes"
        texts[f"{key}_truth"] = number_text(n["truth"], "{:.4f}", NO_TRUTH)
        texts[f"{key}_share_of_twfe"] = f"{n['estimate'] / total:.1%}"
        mediated = _truth(book, f"mediated_{mediator}")
        texts[f"{key}_share_realised"] = (NO_TRUTH if mediated is None
                                          else f"{mediated / dual_vs_none:.1%}")
        texts[f"{key}_seed_mean"] = number_text(n["seed_mean"], "{:.4f}")
        texts[f"{key}_seed_truth"] = number_text(n["seed_truth"], "{:.4f}")
        texts[f"{key}_coverage"] = _share(n["coverage"])
        texts[f"{key}_rejects"] = _share(n["rejection_rate"])
        texts[f"{key}_null"] = number_text(n["null_estimate"], "{:.4f}")
        texts[f"{key}_null_rejects"] = _share(n["null_rejection_rate"])
    gap = max(fits["separate"][m].extra["identity_gap"] for m in MEDIATORS)
    texts["bootstrap_identity_gap"] = "below 1e-12" if gap < 1e-12 else f"{gap:.1e}"
    return texts


# ----------------------------------------------------------------------------------------------
# The mediator equations are difference-in-differences too: their pre-trends
# ----------------------------------------------------------------------------------------------

def dual_pilot_year(data: pd.DataFrame) -> pd.Series:
    """Each row's city's dual-pilot year (the first year with ``Dual_policy == 1``; NA for a city
    that never holds both pilots), from the dummies alone, so it works on any panel."""
    first = data.loc[data[TREATMENT] == 1].groupby("city")["year"].min()
    return data["city"].map(first).astype("Float64").rename("dual_pilot_year")


@dataclass
class EventStudies:
    """Event studies of the mediators and the moderator on the dual pilot."""

    results: dict
    tests: dict
    truths: dict
    texts: dict = field(default_factory=dict)


def pretrend_measure(panel, variables=("TI", "IU", "SR"), window=(-5, 5)) -> dict:
    """The p-value of the leads' joint test of each variable's event study on one panel."""
    data = panel.data.assign(dual_pilot_year=dual_pilot_year(panel.data))
    return {variable: did.pretrend_test(did.event_study(data, variable, "dual_pilot_year", controls=CONTROLS,
                                                        window=window))["p_value"] for variable in variables}


def mediator_event_studies(book, variables=("TI", "IU", "SR"), window=(-5, 5), seeds=range(20),
                           n_jobs: int = 1, progress: bool = False) -> EventStudies:
    """The dual pilot's effect on each of ``variables`` by years since the dual-pilot year.

    A TWFE event study (:func:`citypilots.estimators.did.event_study`, binned end points, the
    six controls, city and year effects, CRV1 by city) of each mediator and of the moderator, the
    leads' joint test (:func:`citypilots.estimators.did.pretrend_test`), and on a simulated panel
    the realised path of the mediators (``mediator_shift_M`` by event time; the generator draws SR
    without reference to the pilots, so its path is zero by construction). Over ``seeds`` simulated
    panels, the share in which each leads' test rejects at 5% (``texts["pretrend_<v>_rejects"]``)."""
    data = book.data.assign(dual_pilot_year=dual_pilot_year(book.data))
    results, tests, truths, texts = {}, {}, {}, {}
    for variable in variables:
        result = did.event_study(data, variable, "dual_pilot_year", controls=CONTROLS, window=window)
        results[variable] = result
        tests[variable] = did.pretrend_test(result)
        texts[f"pretrend_{variable}_p"] = p_text(tests[variable]["p_value"])
        texts[f"pretrend_{variable}_leads"] = str(len(tests[variable]["leads"]))
        leads = result.table.loc[[e for e in result.table.index if e < -1], "estimate"]
        texts[f"largest_lead_{variable}"] = f"{leads.abs().max():.4f}"
        lags = result.table.loc[[e for e in result.table.index if e >= 0], "estimate"]
        texts[f"average_lag_{variable}"] = f"{lags.mean():.4f}"
        if book.truth is not None and variable in MEDIATORS:
            path = book.truth.event_time_path(f"mediator_shift_{variable}", reference=-1)
            truths[variable] = path.loc[window[0]:window[1]]
    texts["window_first"], texts["window_last"] = str(window[0]), str(window[1])
    spread = replicate(functools.partial(pretrend_measure, variables=tuple(variables), window=tuple(window)),
                       seeds=seeds, n_jobs=n_jobs, progress=progress)
    for variable in variables:
        texts[f"pretrend_{variable}_rejects"] = _share(float((spread[variable] < 0.05).mean()))
    texts["pretrend_seeds"] = str(len(spread))
    cohorts = data.loc[data[TREATMENT] == 1].groupby("city")["dual_pilot_year"].first()
    texts["dual_cities"] = str(len(cohorts))
    texts["dual_cohorts"] = str(cohorts.nunique())
    return EventStudies(results=results, tests=tests, truths=truths, texts=texts)


# ----------------------------------------------------------------------------------------------
# What the stepwise design cannot identify: a planted confounder and a sensitivity analysis
# ----------------------------------------------------------------------------------------------

CONFOUNDER_STRENGTHS = (-0.15, -0.10, -0.05, 0.0, 0.05, 0.10, 0.15)


@dataclass
class ConfounderDrift:
    """The indirect effect through a mediator as a planted mediator-outcome confounder grows."""

    drift: pd.DataFrame
    confounded: pd.DataFrame
    reference: float
    texts: dict = field(default_factory=dict)


def confounder_drift(book, mediator: str = "TI", on_mediator: float = 0.3, on_outcome: float = 0.1,
                     strengths=CONFOUNDER_STRENGTHS, n_boot: int = 199, seed: int = 7) -> ConfounderDrift:
    """Add an unobserved U that raises the mediator by ``on_mediator`` and deaths by each of
    ``strengths`` (per SD of U; :func:`citypilots.estimators.mechanism.add_mediator_confounder`)
    and bootstrap the stepwise indirect effect on each confounded panel (``n_boot`` resamples).

    The mediator's own effect on deaths stays its realised b (on a real panel: the estimate). The
    reference the drift is measured from is the realised mediated effect (real panel: the
    unconfounded estimate). ``confounded`` is the panel with ``on_outcome``, U kept as column
    ``U`` for the exercise that controls for it."""
    unconfounded = mechanism.mediation(book.data, OUTCOME, TREATMENT, mediator, controls=CONTROLS)
    b = unconfounded.b if book.truth is None else realised_path(book, mediator, "b")
    reference = unconfounded.indirect if book.truth is None else book.truth.estimand(f"mediated_{mediator}")
    rows, texts = {}, {}
    for strength in strengths:
        data = mechanism.add_mediator_confounder(book.data, mediator, OUTCOME, on_mediator=on_mediator,
                                                 on_outcome=strength, mediator_effect=b, seed=seed)
        result = mechanism.bootstrap_mediation(data, OUTCOME, TREATMENT, mediator, controls=CONTROLS,
                                               n_boot=n_boot, seed=BOOTSTRAP_SEED, progress=False)
        rows[strength] = result.table.loc["indirect", ["estimate", "ci_low", "ci_high"]]
        if strength == on_outcome:
            texts.update({"confounded_b": f"{result.estimate('b'):.3f}", "confounded_a": f"{result.estimate('a'):.3f}",
                          "confounded_indirect": f"{result.estimate('indirect'):.4f}",
                          "confounded_total": f"{result.estimate('total'):.3f}",
                          "confounded_covers": covers(result.conf_int("indirect"), reference)})
    drift = pd.DataFrame(rows).T.rename_axis("on_outcome")
    confounded = mechanism.add_mediator_confounder(book.data, mediator, OUTCOME, on_mediator=on_mediator,
                                                   on_outcome=on_outcome, mediator_effect=b, seed=seed, keep_as="U")
    texts.update({"unconfounded_total": f"{unconfounded.total:.3f}", "unconfounded_a": f"{unconfounded.a:.3f}",
                  "unconfounded_b": f"{unconfounded.b:.3f}",
                  "reference_indirect": "the realised" if book.truth is not None else "the unconfounded estimate,",
                  "indirect_reference": f"{reference:.4f}", "on_mediator": f"{on_mediator:.1f}",
                  "on_outcome": f"{on_outcome:.1f}", "on_outcome_deaths": f"{100 * on_outcome:.0f}",
                  "confounder_resamples": f"{n_boot:,}",
                  "drift_caption_data": ("simulated panel with an added confounder" if book.truth is not None
                                         else "the real panel with an added simulated confounder"),
                  "drift_caption_line": ("the mediated effect realised in the simulation, which the confounder "
                                         "does not change" if book.truth is not None
                                         else "the indirect effect estimated without the confounder")})
    return ConfounderDrift(drift=drift, confounded=confounded, reference=float(reference), texts=texts)


@dataclass
class Sensitivity:
    """The Imai-Keele-Yamamoto sensitivity curve of each channel, with what the simulation knows."""

    curves: dict
    truths: dict
    realised_rho: dict
    texts: dict = field(default_factory=dict)


SENSITIVITY_GRID = tuple(np.round(np.arange(-0.5, 0.5001, 0.01), 10))
"""The error correlations the chapter's sensitivity curves are drawn over."""


def sensitivity(book, n_boot: int = 499, seed: int = BOOTSTRAP_SEED, rho=SENSITIVITY_GRID) -> Sensitivity:
    """The indirect effect of each channel (fitted one at a time, as the paper) as a function of
    the correlation rho of the errors of its mediator and outcome equations
    (:func:`citypilots.estimators.mechanism.mediation_sensitivity`, with a ``n_boot`` pairs
    cluster bootstrap band), its breakdown point, and on a simulated panel the realised mediated
    effect and the rho at which the outcome equation's b equals the realised b (the error
    correlation the simulation actually produced)."""
    curves, truths, realised_rho = {}, {}, {}
    texts = {"sensitivity_resamples": f"{n_boot:,}"}
    for mediator in MEDIATORS:
        curve = mechanism.mediation_sensitivity(book.data, OUTCOME, TREATMENT, mediator, controls=CONTROLS,
                                                rho=rho, n_boot=n_boot, seed=seed)
        curves[mediator] = curve
        truths[mediator] = _truth(book, f"mediated_{mediator}")
        produced = None if book.truth is None else curve.rho_for_b(realised_path(book, mediator, "b"))
        realised_rho[mediator] = produced
        low, high = curve.breakdown_interval
        texts.update({
            f"breakdown_rho_{mediator}": f"{curve.breakdown_rho:.2f}",
            f"breakdown_interval_{mediator}": f"{low:.2f} to {high:.2f}",
            f"breakdown_share_{mediator}": f"{abs(curve.breakdown_rho):.0%}",
            f"realised_rho_{mediator}": number_text(produced, "{:.3f}", NO_TRUTH),
            f"indirect_at_realised_rho_{mediator}": number_text(
                None if produced is None else curve.indirect_at(produced), "{:.4f}", NO_TRUTH),
            f"a_times_realised_b_{mediator}": number_text(
                None if produced is None else curve.a * realised_path(book, mediator, "b"), "{:.4f}", NO_TRUTH),
        })
    texts["sensitivity_caption_truth"] = ("The dashed line is the mediated effect realised in the simulation; the "
                                          "dotted vertical line marks the error correlation the simulation produced."
                                          if book.truth is not None else "")
    return Sensitivity(curves=curves, truths=truths, realised_rho=realised_rho, texts=texts)


# ----------------------------------------------------------------------------------------------
# Moderation by SR
# ----------------------------------------------------------------------------------------------

@dataclass
class ModerationEvidence:
    """The SR interaction: the linear marginal effects, the binned estimates, the truth line."""

    linear: pd.DataFrame
    binned: pd.DataFrame
    truth_line: pd.Series | None
    treated_moderator: pd.Series
    texts: dict = field(default_factory=dict)


def moderation_evidence(book, bins: int = 3, grid_points: int = 60) -> ModerationEvidence:
    """Column 6 read across SR: the linear interaction's effect of the dual pilot at SR from the
    treated city-years' 1st to 99th percentile (delta-method band), the binning estimator in
    terciles of the treated city-years' SR (Hainmueller, Mummolo and Xu 2019), the realised effect
    at each SR (simulated panel) and whether the pilots move SR (TWFE of SR on the dual pilot)."""
    data = book.data
    treated = data[TREATMENT].to_numpy() == 1
    treated_sr = data.loc[treated, MODERATOR]
    centred = mechanism.moderation(data, OUTCOME, TREATMENT, MODERATOR, controls=CONTROLS, center="mean")
    uncentred = mechanism.moderation(data, OUTCOME, TREATMENT, MODERATOR, controls=CONTROLS, center=None)
    grid = np.quantile(treated_sr, np.linspace(0.01, 0.99, grid_points))
    linear = mechanism.marginal_effects(centred, at=grid)
    binned = mechanism.binned_marginal_effects(data, OUTCOME, TREATMENT, MODERATOR, controls=CONTROLS, bins=bins)
    binned["linear"] = mechanism.marginal_effects(centred, at=binned["at"])["estimate"].to_numpy()
    truth_line = None
    if book.truth is not None:
        truth_line = pd.Series([realised_effect_at(book, z) for z in grid], index=grid)
        binned["truth"] = [realised_effect_at(book, z) for z in binned["at"]]
    moved = did.twfe(data, MODERATOR, TREATMENT, CONTROLS)
    sr_sd = float(data[MODERATOR].std())
    interaction = "Dual_policy x SR"
    paper_mean_sr = float(load_descriptives().loc[MODERATOR, "mean"])
    paper_phi = float(printed(6, 6, interaction)["estimate"])
    paper_beta6, paper_beta5 = (float(printed(6, column, TREATMENT)["estimate"]) for column in (6, 5))
    texts = {
        "beta_centred": f"{centred.estimate(TREATMENT):.3f}", "beta_uncentred": f"{uncentred.estimate(TREATMENT):.3f}",
        "phi_centred": f"{centred.estimate(interaction):.1f}", "phi_uncentred": f"{uncentred.estimate(interaction):.1f}",
        "phi_centred_se": f"{centred.std_error(interaction):.1f}",
        "phi_centred_p": p_text(centred.table.loc[interaction, "p_value"]),
        "sr_mean": f"{centred.extra['center']:.4f}", "sr_sd": f"{sr_sd:.4f}",
        "phi_per_sd": f"{centred.estimate(interaction) * sr_sd:.3f}",
        "paper_phi": printed(6, 6, interaction)["raw_estimate"], "paper_mean_sr": f"{paper_mean_sr:.3f}",
        "paper_uncentred_shift": f"{-paper_phi * paper_mean_sr:.3f}",
        "paper_beta6_minus_beta5": f"{paper_beta6 - paper_beta5:.3f}",
        "sr_on_dual": f"{moved.estimate():.5f}", "sr_on_dual_se": f"{moved.std_error():.5f}",
        "sr_on_dual_p": p_text(moved.table.loc[TREATMENT, "p_value"]),
        "sr_on_dual_sd": f"{moved.estimate() / sr_sd:.2f}",
        "treated_city_years": f"{int(treated.sum()):,}", "bins": str(bins),
        "treated_sr_median": f"{treated_sr.median():.4f}", "all_sr_median": f"{data[MODERATOR].median():.4f}",
        "treated_sr_p99": f"{np.quantile(treated_sr, 0.99):.4f}",
        "treated_sr_above_p99_all": f"{(treated_sr > np.quantile(data[MODERATOR], 0.99)).mean():.1%}",
        "data_description": "simulated panel" if book.truth is not None else "the real panel",
        "moderation_caption_truth": ("The dashed line is the realised effect of both pilots at each SR (the "
                                     "effect at the dual-pilot city-years' mean SR, tilted by the realised "
                                     "moderation slope)." if book.truth is not None else ""),
    }
    contains = (binned["ci_low"] <= binned["linear"]) & (binned["linear"] <= binned["ci_high"])
    texts["bins_with_line"] = {0: "none", 1: "one", 2: "two", 3: "all three"}.get(int(contains.sum()),
                                                                                str(int(contains.sum())))
    for j, (name, row) in enumerate(binned.iterrows(), start=1):
        texts[f"bin{j}_estimate"] = f"{row['estimate']:.3f}"
        texts[f"bin{j}_interval"] = f"{row['ci_low']:.3f} to {row['ci_high']:.3f}"
        texts[f"bin{j}_at"] = f"{row['at']:.4f}"
        texts[f"bin{j}_linear"] = f"{row['linear']:.3f}"
        texts[f"bin{j}_truth"] = number_text(row.get("truth"), "{:.3f}", NO_TRUTH)
        texts[f"bin{j}_treated"] = f"{int(row['n_treated']):,}"
    return ModerationEvidence(linear=linear, binned=binned, truth_line=truth_line, treated_moderator=treated_sr,
                              texts=texts)


# ----------------------------------------------------------------------------------------------
# Exercises: each solution's claim, computed (tests/test_chapter_mechanism.py checks them)
# ----------------------------------------------------------------------------------------------

def exercise_channel_off(mediator: str = "TI", n_boot: int = 999) -> dict:
    """The simulation with the mediator's effect on deaths switched off (its b = 0): the
    bootstrap of the stepwise channel there, beside the path a on the default panel."""
    default = simulate_panel()
    off = simulate_panel(overrides={f"effects.mediators.{mediator}.b": 0.0})
    result = mechanism.bootstrap_mediation(off.data, OUTCOME, TREATMENT, mediator, controls=CONTROLS,
                                           n_boot=n_boot, seed=BOOTSTRAP_SEED, progress=False)
    a_default = mechanism.mediation(default.data, OUTCOME, TREATMENT, mediator, controls=CONTROLS).a
    low, high = result.conf_int("indirect")
    return {"ex_off_override": f"effects.mediators.{mediator}.b", "ex_off_a": f"{result.estimate('a'):.4f}",
            "ex_off_a_default": f"{a_default:.4f}", "ex_off_b": f"{result.estimate('b'):.3f}",
            "ex_off_b_interval": "{:.3f} to {:.3f}".format(*result.conf_int("b")),
            "ex_off_indirect": f"{result.estimate('indirect'):.4f}",
            "ex_off_interval": f"{low:.4f} to {high:.4f}",
            "ex_off_covers_zero": "includes" if low <= 0 <= high else "excludes",
            "ex_off_truth": f"{off.truth.estimand(f'mediated_{mediator}'):.4f}",
            "ex_off_a_same": "the same" if abs(result.estimate("a") - a_default) < 1e-12 else "not the same"}


def exercise_confounder_controlled(drift: ConfounderDrift, book, mediator: str = "TI") -> dict:
    """The stepwise channel on the confounded panel, without and with the confounder U among the
    controls, beside the unconfounded estimate and the realised b."""
    without = mechanism.mediation(drift.confounded, OUTCOME, TREATMENT, mediator, controls=CONTROLS)
    with_u = mechanism.mediation(drift.confounded, OUTCOME, TREATMENT, mediator, controls=("U", *CONTROLS))
    plain = mechanism.mediation(book.data, OUTCOME, TREATMENT, mediator, controls=CONTROLS)
    return {"ex_u_b_without": f"{without.b:.3f}", "ex_u_b_with": f"{with_u.b:.3f}", "ex_u_b_plain": f"{plain.b:.3f}",
            "ex_u_indirect_with": f"{with_u.indirect:.4f}", "ex_u_indirect_plain": f"{plain.indirect:.4f}",
            "ex_u_direct_with": f"{with_u.direct:.3f}", "ex_u_direct_plain": f"{plain.direct:.3f}",
            "ex_u_b_truth": number_text(realised_path(book, mediator, "b"), "{:.3f}", NO_TRUTH)}


def exercise_no_moderation(table: pd.DataFrame | None = None) -> dict:
    """Column 6 on the simulation with the moderation switched off (``moderation_SR = 0``), and
    from :func:`table6`'s null-world column the rejection rate of the interaction over seeds."""
    panel = simulate_panel(overrides={"effects.dual.moderation_SR": 0.0})
    result = mechanism.moderation(panel.data, OUTCOME, TREATMENT, MODERATOR, controls=CONTROLS)
    interaction = "Dual_policy x SR"
    low, high = result.conf_int(interaction)
    treated_sr = panel.data.loc[panel.data[TREATMENT] == 1, MODERATOR]
    span = float(np.quantile(treated_sr, 0.99) - np.quantile(treated_sr, 0.01))
    texts = {"ex_nomod_phi": f"{result.estimate(interaction):.1f}", "ex_nomod_se": f"{result.std_error(interaction):.1f}",
             "ex_nomod_interval": f"{low:.1f} to {high:.1f}",
             "ex_nomod_covers_zero": "includes" if low <= 0 <= high else "excludes",
             "ex_nomod_truth": f"{panel.truth.moderation_SR():.1f}",
             "ex_nomod_rise": f"{result.estimate(interaction) * span:.3f}",
             "ex_nomod_beta_se": f"{result.std_error(TREATMENT):.3f}"}
    if table is not None:
        numbers = table.attrs["numbers"]["(6) Safety: Dual_policy x SR"]
        texts["ex_nomod_null_rejects"] = _share(numbers["null_rejection_rate"])
        texts["ex_nomod_seeds"] = str(numbers["seeds"])
    return texts


SHARES_OFF = {"effects.innovation_single": 0.0, "effects.smart_single": 0.0, "effects.dual.level": 0.0,
              "effects.dual.moderation_SR": 0.0, "effects.spillover.bands_km": [],
              "effects.other_policies.Broadband_China": 0.0, "effects.other_policies.Low_Carbon_City": 0.0,
              "effects.other_policies.Made_in_China_2025": 0.0, "effects.other_policies.Supervision": 0.0}
"""Every share of deaths a policy prevents switched off; the channels (a x b) stay."""


def path_b_measure(panel) -> dict:
    """Path b of each channel, fitted one channel at a time and jointly, with the realised b."""
    data = panel.data
    out = {}
    for mediator in MEDIATORS:
        out[f"{mediator}_alone"] = mechanism.mediation(data, OUTCOME, TREATMENT, mediator, controls=CONTROLS).b
        out[f"{mediator}_truth"] = realised_path(panel, mediator, "b")
    joint = did.twfe(data, OUTCOME, TREATMENT, (*MEDIATORS, *CONTROLS))
    out.update({f"{mediator}_joint": joint.estimate(mediator) for mediator in MEDIATORS})
    return out


def exercise_shares_off(seeds=range(1, 11), n_jobs: int = 1, progress: bool = False) -> dict:
    """Path b over ``seeds`` in the simulation whose policies prevent no share of deaths
    (:data:`SHARES_OFF`): the mediators' natural movements then move deaths by b everywhere."""
    rows = replicate(path_b_measure, seeds=seeds, overrides=SHARES_OFF, n_jobs=n_jobs, progress=progress)
    texts = {"ex_shares_seeds": str(len(rows))}
    for mediator in MEDIATORS:
        for kind in ("alone", "joint", "truth"):
            texts[f"ex_shares_{mediator}_{kind}"] = f"{rows[f'{mediator}_{kind}'].mean():.3f}"
    return texts


def exercise_sensitivity_confounded(drift: ConfounderDrift, book, mediator: str = "TI") -> dict:
    """The sensitivity analysis on the confounded panel: its breakdown point and, where the
    realised b is known, the error correlation the confounder produced and the indirect effect there."""
    curve = mechanism.mediation_sensitivity(drift.confounded, OUTCOME, TREATMENT, mediator, controls=CONTROLS)
    b = realised_path(book, mediator, "b")
    rho = None if b is None else curve.rho_for_b(b)
    return {"ex_sens_breakdown": f"{curve.breakdown_rho:.3f}", "ex_sens_stepwise": f"{curve.indirect_at(0.0):.4f}",
            "ex_sens_rho": number_text(rho, "{:.2f}", NO_TRUTH),
            "ex_sens_at_rho": number_text(None if rho is None else curve.indirect_at(rho), "{:.4f}", NO_TRUTH),
            "ex_sens_a_b": number_text(None if b is None else curve.a * b, "{:.4f}", NO_TRUTH)}
