"""The evidence behind a headline number: its realised truth, its null world, its spread over seeds.

One draw proves nothing. Each headline estimate of a chapter (a paper table's key coefficient,
an indirect effect, a slope) is shown with five groups of columns: the paper's printed number,
this book's estimate on the chapter's panel, the realised truth it is read as (an estimand of
:class:`citypilots.simulation.truth.Truth`), the estimate in the null world (the same
specification and seed with that one effect switched off,
:func:`citypilots.simulation.specification.null_world`), and its behaviour over many simulated
panels: mean, SD, coverage of the 95% interval of each panel's own realised truth, the rate at
which it rejects zero (power), and that rate in the null world (size).

A chapter writes one *measure* per table: a module-level function ``measure(panel) -> {label:
headline(...)}`` that fits every headline of the table on a panel (anything with ``.data``,
``.cities`` and ``.truth``: the chapter's :class:`~citypilots.report.datasource.ChapterData` or a
:class:`~citypilots.simulation.generator.SimulatedPanel`). :func:`evidence_table` runs it on the
chapter's panel, in each null world and over seeds (:func:`citypilots.simulation.montecarlo.replicate`,
cached), and assembles the table. On a reader's real panel the truth column is empty; the
null-world and seed columns still describe what the estimator does on panels simulated like
the book's.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterable, Mapping

import pandas as pd

from ..estimators.estimates import DidResult
from ..simulation.montecarlo import replicate, summarise
from ..simulation.specification import load_spec, null_world

HEADLINE_KEYS = ("estimate", "std_error", "ci_low", "ci_high", "p_value", "truth")


def headline(result: DidResult | Mapping, term=None, truth: float | None = None) -> dict:
    """One headline number: ``result``'s estimate of ``term`` (default: its main term), with its
    standard error, 95% interval and p-value, and the realised ``truth`` it is read as (None on a
    real panel). ``result`` may also be a dict with those keys (for statistics that are not a
    :class:`DidResult` row)."""
    if isinstance(result, DidResult):
        row = result.table.loc[result.main_term if term is None else term]
        values = {key: float(row[key]) for key in ("estimate", "std_error", "ci_low", "ci_high", "p_value")}
    else:
        values = {key: float(result.get(key, math.nan)) for key in ("estimate", "std_error", "ci_low", "ci_high",
                                                                     "p_value")}
    values["truth"] = math.nan if truth is None else float(truth)
    return values


def _flat(measure: Callable, labels: tuple[str, ...] | None, panel) -> dict:
    """``measure`` as :func:`replicate` needs it: one flat dict of numbers, ``label|key``."""
    out = {}
    for label, values in measure(panel).items():
        if labels is None or label in labels:
            out.update({f"{label}|{key}": values[key] for key in HEADLINE_KEYS})
    return out


def _unflat(row: Mapping, label: str) -> dict:
    return {key: row[f"{label}|{key}"] for key in HEADLINE_KEYS}


def evidence_table(measure: Callable, book, null_worlds: Mapping[str, str | None] | None = None,
                   seeds: Iterable[int] = range(20), spec=None, n_jobs: int = 1, scheduler=None,
                   progress: bool = False, decimals: int = 3, seed_truth: bool = False,
                   worlds: Mapping[str, dict] | None = None) -> pd.DataFrame:
    """The evidence table of the headlines ``measure`` fits (see the module docstring).

    ``book``: the chapter's panel. ``null_worlds``: label -> the effect whose null world tests it
    (a name for :func:`~citypilots.simulation.specification.null_world` or for an entry of
    ``worlds`` (name -> overrides), a dict of overrides for a null world that no name covers,
    or None for no null world); labels left out have none. Labels whose null worlds have the
    same overrides share one run. ``seeds``: the simulated panels of the spread (the book's
    own seed is not among them by default). ``spec``: the specification (default: the main
    paper's). ``n_jobs`` / ``scheduler``: as in :func:`replicate`.

    Returns one row per headline with the columns ("This book", "estimate" / "s.e." / "95%
    interval"), ("Truth", "realised"), ("Null world", "estimate"), ("Over N seeds", "mean" / "SD" /
    "coverage" / "rejects 0"), ("Null world over N seeds", "rejects 0"); numbers rounded to
    ``decimals``; with ``seed_truth``, also ("Over N seeds", "truth"), the mean realised truth the
    mean estimate is read against. The unrounded numbers are in ``table.attrs["numbers"]`` (label
    -> dict), for glueing into the text; they also hold the realised truth in the null world
    (``null_truth`` on the book's seed, ``null_seed_truth`` averaged over the seeds), for null
    worlds in which the truth is not zero, and the estimate's mean over the null world's seeds
    (``null_seed_mean``).
    """
    seeds = list(seeds)
    null_worlds = dict(null_worlds or {})
    on_book = measure(book)
    labels = tuple(on_book)
    spread = replicate(functools.partial(_flat, measure, None), spec=spec, seeds=seeds, n_jobs=n_jobs,
                       scheduler=scheduler, progress=progress)
    own_seed = load_spec(spec)["seed"]
    overrides_of = {label: _null_overrides(effect, spec, worlds) for label, effect in null_worlds.items() if effect}
    null_rows: dict[str, pd.DataFrame] = {}
    for key in sorted({_overrides_key(overrides) for overrides in overrides_of.values()}):
        members = tuple(label for label in labels
                        if label in overrides_of and _overrides_key(overrides_of[label]) == key)
        if not members:
            continue
        null_rows[key] = replicate(functools.partial(_flat, measure, members), spec=spec,
                                   seeds=[own_seed, *[s for s in seeds if s != own_seed]],
                                   overrides=overrides_of[members[0]], n_jobs=n_jobs, scheduler=scheduler,
                                   progress=progress)
    numbers, records = {}, {}
    for label in labels:
        here = on_book[label]
        over = summarise(spread, f"{label}|estimate", truth=f"{label}|truth", ci_low=f"{label}|ci_low",
                         ci_high=f"{label}|ci_high", p_value=f"{label}|p_value")
        effect = null_worlds.get(label)
        null_here, null_rejection, null_truth, null_seed_truth, null_mean = (math.nan,) * 5
        if effect and label in overrides_of:
            rows = null_rows[_overrides_key(overrides_of[label])]
            null_here = _unflat(rows.iloc[0], label)["estimate"]
            null_rejection = float((rows.iloc[1:][f"{label}|p_value"] < 0.05).mean())
            null_truth = _unflat(rows.iloc[0], label)["truth"]
            null_seed_truth = float(rows.iloc[1:][f"{label}|truth"].mean())
            null_mean = float(rows.iloc[1:][f"{label}|estimate"].mean())
        numbers[label] = {**here, "null_estimate": null_here, "null_effect": effect, "seeds": len(seeds),
                          "seed_mean": over["mean"], "seed_sd": over["sd"], "seed_truth": over["truth"],
                          "coverage": over["coverage"], "rejection_rate": over["rejection_rate"],
                          "null_rejection_rate": null_rejection, "null_truth": null_truth,
                          "null_seed_truth": null_seed_truth, "null_seed_mean": null_mean}
        records[label] = _record(numbers[label], len(seeds), decimals, seed_truth)
    table = pd.DataFrame.from_dict(records, orient="index")
    table.columns = pd.MultiIndex.from_tuples(table.columns)
    table.attrs["numbers"] = numbers
    return table


def _null_overrides(effect: str | Mapping, spec, worlds: Mapping[str, dict] | None = None) -> dict:
    """The overrides of a null world: given as a dict, named in ``worlds``, or named by
    :func:`null_world`."""
    if isinstance(effect, Mapping):
        return dict(effect)
    if worlds and effect in worlds:
        return dict(worlds[effect])
    return null_world(effect, spec)


def _overrides_key(overrides: Mapping) -> str:
    return repr(sorted((key, repr(value)) for key, value in overrides.items()))


def _record(n: dict, n_seeds: int, decimals: int, seed_truth: bool = False) -> dict:
    def number(value, fmt=f"{{:.{decimals}f}}"):
        return "" if value is None or (isinstance(value, float) and math.isnan(value)) else fmt.format(value)

    share = "{:.0%}"
    truth_mean = {(f"Over {n_seeds} seeds", "truth"): number(n["seed_truth"])} if seed_truth else {}
    return {
        ("This book", "estimate"): number(n["estimate"]),
        ("This book", "s.e."): f"({number(n['std_error'])})" if not math.isnan(n["std_error"]) else "",
        ("This book", "95% interval"): ("" if math.isnan(n["ci_low"]) else
                                        f"[{number(n['ci_low'])}, {number(n['ci_high'])}]"),
        ("Truth", "realised"): number(n["truth"]),
        ("Null world", "estimate"): number(n["null_estimate"]),
        (f"Over {n_seeds} seeds", "mean"): number(n["seed_mean"]),
        **truth_mean,
        (f"Over {n_seeds} seeds", "SD"): number(n["seed_sd"]),
        (f"Over {n_seeds} seeds", "coverage"): number(n["coverage"], share),
        (f"Over {n_seeds} seeds", "rejects 0"): number(n["rejection_rate"], share),
        (f"Null world over {n_seeds} seeds", "rejects 0"): number(n["null_rejection_rate"], share),
    }


def with_paper(table: pd.DataFrame, paper_cells: Mapping[str, dict | None]) -> pd.DataFrame:
    """``table`` (from :func:`evidence_table`) with the paper's printed estimate and s.e. in front.

    ``paper_cells``: label -> a row of :func:`citypilots.data.paper.printed` (or None)."""
    paper = pd.DataFrame({("Paper", "estimate"): [("" if paper_cells.get(label) is None
                                                    else paper_cells[label]["raw_estimate"]) for label in table.index],
                          ("Paper", "s.e."): [("" if paper_cells.get(label) is None
                                               else paper_cells[label]["raw_se"]) for label in table.index]},
                         index=table.index)
    paper.columns = pd.MultiIndex.from_tuples(paper.columns)
    combined = pd.concat([paper, table], axis=1)
    combined.attrs = dict(table.attrs)
    return combined
