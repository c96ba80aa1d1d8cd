"""Tables that set the paper's printed numbers beside this book's.

Every table of the book has up to three column groups: what the paper printed, what this book
computes from its panel, and (for estimates) the value planted in the simulation.
"""

from __future__ import annotations

import pandas as pd

from ..data.cities import load_cities
from ..data.paper import load_descriptives
from ..data.pilots import adoption_years, load_calendar, program_label

STATISTICS = ("mean", "sd", "min", "max")


def descriptives_table(data: pd.DataFrame, variables: list[str] | None = None) -> pd.DataFrame:
    """Table 1 rebuilt: the paper's mean, SD, min and max beside the same statistics of ``data``.

    Columns are a two-level index: ("Paper", stat) and ("This book", stat); rows are variables.
    """
    paper = load_descriptives()
    variables = list(paper.index) if variables is None else variables
    missing = [v for v in variables if v not in data.columns]
    if missing:
        raise KeyError(f"the panel has no column {', '.join(missing)}")
    book = pd.DataFrame({
        "mean": data[variables].mean(), "sd": data[variables].std(),
        "min": data[variables].min(), "max": data[variables].max(),
    })
    table = pd.concat({"Paper": paper.loc[variables, list(STATISTICS)], "This book": book}, axis=1)
    table.index.name = "variable"
    return table


def calendar_counts(programs: list[str]) -> pd.DataFrame:
    """Pilot prefecture-level units of each program by first year: sourced, imputed, total, and
    how many of them are not prefecture-level cities of the city table.

    A unit counts once, at its first pilot year (:func:`citypilots.data.pilots.adoption_years`);
    it is "imputed" when that year comes from an imputed row. Units that are not prefecture-level
    cities (autonomous prefectures, leagues, regions, and county-level units without a
    prefecture) are counted in ``not a city``.
    """
    city_codes = set(load_cities()["adcode"])
    frames = []
    for program in programs:
        first = adoption_years(load_calendar(program))
        counts = first.groupby(["year", "imputed"]).size().unstack(fill_value=0)
        counts = counts.reindex(columns=[False, True], fill_value=0)
        counts.columns = ["sourced", "imputed"]
        counts["total"] = counts.sum(axis=1)
        not_city = pd.Series(~first.index.isin(list(city_codes)), index=first.index)
        counts["not a city"] = not_city.groupby(first["year"]).sum().reindex(counts.index, fill_value=0).astype(int)
        counts.index = pd.MultiIndex.from_product([[program_label(program)], counts.index], names=["program", "year"])
        frames.append(counts)
    table = pd.concat(frames)
    return table


def sample_composition(cities: pd.DataFrame, sample_spec: dict) -> pd.DataFrame:
    """The sample's cities by pilot group and by each margin, beside the counts the paper implies.

    ``cities``: one row per city with ``group`` and the margin columns (``region``,
    ``resource_based``). ``sample_spec``: the ``sample`` section of a simulation specification,
    whose ``groups`` and ``margins`` hold the paper's counts (Table 2 and Table 8 sample sizes / 16).
    """
    targets = {"group": sample_spec["groups"], **sample_spec["margins"]}
    rows = []
    for split, quota in targets.items():
        counts = cities[split].astype(str).str.lower().value_counts()
        for category, paper_count in quota.items():
            rows.append((split, str(category).lower(), paper_count, int(counts.get(str(category).lower(), 0))))
    table = pd.DataFrame(rows, columns=["split", "category", "Paper (cities)", "This book (cities)"])
    return table.set_index(["split", "category"])


def stars(p_value: float) -> str:
    """Significance stars as the paper prints them: *** p < 0.01, ** p < 0.05, * p < 0.1."""
    if p_value != p_value:  # NaN
        return ""
    return "***" if p_value < 0.01 else "**" if p_value < 0.05 else "*" if p_value < 0.1 else ""


def paper_book_truth(rows: list[dict], decimals: int = 3) -> pd.DataFrame:
    """One row per estimate: the paper's printed number, this book's estimate, the planted truth.

    Each item of ``rows`` is a dict with ``label`` (the row's name), ``paper`` (a row of
    :func:`citypilots.data.paper.printed`, or None where the paper prints nothing), ``book`` (a
    :class:`citypilots.estimators.did.DidResult`, or a ``(estimate, std_error, p_value, n_obs)`` tuple),
    optional ``term`` (which term of ``book``; default its main term) and ``truth`` (a number,
    or None for real data). The paper's cells are shown exactly as printed; this book's
    estimates carry stars by the same rule; standard errors are in parentheses. Columns: ("Paper", ...), ("This book", ...), ("Truth", "planted").
    """
    records = []
    for row in rows:
        paper, book = row.get("paper"), row["book"]
        if isinstance(book, tuple):
            estimate, std_error, p_value, n_obs = book
        else:
            term = row.get("term", book.main_term)
            estimate, std_error = book.estimate(term), book.std_error(term)
            p_value, n_obs = float(book.table.loc[term, "p_value"]), book.n_obs
        truth = row.get("truth")
        records.append({
            ("Paper", "estimate"): "" if paper is None else paper["raw_estimate"],
            ("Paper", "s.e."): "" if paper is None else paper["raw_se"],
            ("This book", "estimate"): f"{estimate:.{decimals}f}{stars(p_value)}",
            ("This book", "s.e."): f"({std_error:.{decimals}f})",
            ("This book", "N"): f"{int(n_obs):,}",
            ("Truth", "planted"): "" if truth is None else f"{truth:.{decimals}f}",
        })
    table = pd.DataFrame(records, index=pd.Index([row["label"] for row in rows], name=None))
    table.columns = pd.MultiIndex.from_tuples(table.columns)
    return table


def estimates_against_truths(estimates: dict, truths: dict, decimals: int = 3) -> pd.DataFrame:
    """Several estimators beside several candidate estimands: which truth does each land on?

    ``estimates``: label -> :class:`citypilots.estimators.did.DidResult` (its main term is used).
    ``truths``: label -> planted value (an estimand computed from the simulation's truth).
    Rows are estimators; columns the estimate, its 95% interval, and each truth.
    """
    rows = {}
    for label, result in estimates.items():
        low, high = result.conf_int()
        row = {("This book", "estimate"): round(result.estimate(), decimals),
               ("This book", "95% interval"): f"[{low:.{decimals}f}, {high:.{decimals}f}]"}
        row.update({("Truth", name): round(value, decimals) for name, value in truths.items()})
        rows[label] = row
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.columns = pd.MultiIndex.from_tuples(table.columns)
    return table


def spatial_durbin_table(columns: dict, of: str, paper_table: int | None = None, decimals: int = 3) -> pd.DataFrame:
    """A spatial Durbin table: the paper's printed numbers, this book's, the planted truth.

    For each weight matrix, rows for the coefficient on ``of``, on ``W x of``, the direct,
    indirect and total effects of ``of`` (LeSage-Pace), rho and sigma2. ``columns``: label ->
    dict with ``result`` (a :class:`citypilots.estimators.spatial.SpatialDurbinResult`), ``paper_column``
    (its column in the paper's ``paper_table``, or None) and ``truth`` (row label -> planted
    value; None or missing where nothing is planted). Row labels: ``of``, ``"W × <of>"``,
    ``"direct effect"``, ``"indirect effect"``, ``"total effect"``, ``"rho"``, ``"sigma2"``.
    Returns a table with a (label, row) index and the columns of :func:`paper_book_truth`.
    """
    from scipy import stats

    from ..data.paper import printed

    blocks = {}
    for label, spec in columns.items():
        result, truth = spec["result"], spec.get("truth") or {}
        impacts = result.impacts.loc[of]
        entries = [(of, of, result), (f"W × {of}", f"W x {of}", (result, f"W_{of}")), ("rho", "Rho", (result, "rho"))]
        entries[2:2] = [(f"{kind} effect", kind.capitalize(),
                         (float(impacts[kind]), float(impacts[f"{kind}_se"]), float(impacts[f"{kind}_p"]), result.n_obs))
                        for kind in ("direct", "indirect", "total")]
        sigma2_p = 2 * float(stats.norm.sf(abs(result.sigma2 / result.sigma2_se)))
        entries.append(("sigma2", "Sigma2_e", (result.sigma2, result.sigma2_se, sigma2_p, result.n_obs)))
        rows = []
        for row_label, paper_term, book in entries:
            try:
                paper = None if spec.get("paper_column") is None else printed(paper_table, spec["paper_column"], paper_term)
            except KeyError:
                paper = None
            row = {"label": row_label, "paper": paper, "truth": truth.get(row_label)}
            if isinstance(book, tuple) and len(book) == 2:
                row.update(book=book[0], term=book[1])
            elif isinstance(book, tuple):
                row["book"] = book
            else:
                row.update(book=book, term=of)
            rows.append(row)
        blocks[label] = paper_book_truth(rows, decimals=decimals)
    return pd.concat(blocks, names=["weights", "row"])


def statistic_rows(rows: list[dict], decimals: int = 3) -> pd.DataFrame:
    """Rows of test statistics (first-stage F, Kleibergen-Paap statistics, ...) in the columns of
    :func:`paper_book_truth`, so that the two can be stacked under one table.

    Each item of ``rows``: ``label``, ``paper`` (a row of :func:`citypilots.data.paper.printed`, or None),
    ``value`` (this book's statistic, or None where it cannot be computed), optional ``p_value``
    (adds stars by the paper's rule) and ``n_obs``. Statistics have no standard error and no
    planted truth.
    """
    records = []
    for row in rows:
        paper, value, p_value = row.get("paper"), row.get("value"), row.get("p_value")
        book = "" if value is None else f"{value:.{decimals}f}{'' if p_value is None else stars(p_value)}"
        records.append({
            ("Paper", "estimate"): "" if paper is None else paper["raw_estimate"],
            ("Paper", "s.e."): "" if paper is None else paper["raw_se"],
            ("This book", "estimate"): book,
            ("This book", "s.e."): "",
            ("This book", "N"): "" if row.get("n_obs") is None else f"{int(row['n_obs']):,}",
            ("Truth", "planted"): "",
        })
    table = pd.DataFrame(records, index=pd.Index([row["label"] for row in rows], name=None))
    table.columns = pd.MultiIndex.from_tuples(table.columns)
    return table
