"""Completing incomplete pilot calendars with a deterministic, documented rule.

Why this exists: the published unit lists of the Smart City pilot (MOHURD, 2013-2015) and the
approval years of many Innovative City pilots could not be obtained (``data/README.md``). The
simulation still needs a complete calendar that reproduces the published counts, so the
missing pieces are filled by rules that are (a) deterministic, the same on every machine,
(b) neutral, using no outcome or covariate, and (c) visible: every row they add has
``status = imputed`` and names its rule in ``imputation_rule``. Sourced rows are never changed.

The order in which candidate cities are taken is the *hash order*: cities sorted by the
SHA-256 digest of ``"<rule name>:<adcode>"``. It is an arbitrary but fixed shuffle that does not
depend on anything about a city, which is the point: imputed pilots carry no information.
No library does this (it is bookkeeping specific to incomplete administrative lists), so it is
written here, and tested against the published counts in ``tests/test_pilots.py``.

Three rules, parameterised in ``data/pilots/completion.yml``:

``years_within_range``
    A sourced unit whose year is unknown but bounded (``year_min``..``year_max``) gets the years
    of the listed batches in turn, in hash order.
``add_units``
    A batch known only by its size gets cities (not yet pilots of the program, and eligible)
    in hash order until the program counts ``target_total`` pilot cities.
``add_units_with_overlap``
    A program whose whole list is missing gets cities so that, against another program, the
    published numbers of joint pilots that joined the other program first, this program
    first, or both in the same year are met exactly, and each batch has its published size.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

import pandas as pd

from .pilots import COLUMNS, TREATING_LEVEL_NOTES, adoption_years


def hash_order(adcodes: Iterable[int], rule: str) -> list[int]:
    """``adcodes`` sorted by SHA-256 of ``f"{rule}:{adcode}"`` (a fixed, content-free shuffle)."""
    return sorted(adcodes, key=lambda code: hashlib.sha256(f"{rule}:{code}".encode()).hexdigest())


def _imputed_row(adcode: int, name_zh: str, year: int, batch: str, rule: str, note: str) -> dict:
    row = {column: "" for column in COLUMNS}
    row.update(adcode=adcode, name_zh=name_zh, year=year, batch=batch, level_note="whole_city",
               unit_name_zh=name_zh, status="imputed", imputation_rule=rule, confidence="low",
               year_min=year, year_max=year, note=note)
    return row


def years_within_range(calendar: pd.DataFrame, rule: str, years: Sequence[int]) -> pd.DataFrame:
    """Rows giving each bounded-but-unknown-year treating unit a year from ``years`` in turn."""
    unknown = calendar[calendar["year"].isna() & calendar["level_note"].isin(TREATING_LEVEL_NOTES)]
    by_code = unknown.drop_duplicates("adcode").set_index("adcode")
    rows = []
    for position, adcode in enumerate(hash_order(by_code.index, rule)):
        source = by_code.loc[adcode]
        year = years[position % len(years)]
        if not source["year_min"] <= year <= source["year_max"]:
            raise ValueError(f"rule {rule}: year {year} is outside the sourced range of {adcode}")
        row = _imputed_row(adcode, source["name_zh"], year, source["batch"], rule,
                           "membership sourced; year imputed within the sourced range")
        row.update(year_min=source["year_min"], year_max=source["year_max"],
                   unit_name_zh=source["unit_name_zh"])
        rows.append(row)
    return pd.DataFrame(rows, columns=list(COLUMNS))


def add_units(calendar: pd.DataFrame, rule: str, year: int, batch: str, target_total: int,
              candidates: pd.DataFrame) -> pd.DataFrame:
    """Rows adding candidate cities (hash order) until ``target_total`` cities are pilots."""
    pilots = set(adoption_years(calendar).index)
    needed = target_total - len(pilots)
    if needed < 0:
        raise ValueError(f"rule {rule}: {len(pilots)} pilot cities already exceed the target {target_total}")
    pool = candidates[~candidates["adcode"].isin(pilots)].set_index("adcode")
    chosen = hash_order(pool.index, rule)[:needed]
    if len(chosen) < needed:
        raise ValueError(f"rule {rule}: only {len(chosen)} candidates for {needed} missing units")
    rows = [_imputed_row(code, pool.loc[code, "name_zh"], year, batch, rule,
                         "unit imputed: the published list is missing") for code in chosen]
    return pd.DataFrame(rows, columns=list(COLUMNS))


def add_units_with_overlap(calendar: pd.DataFrame, other: pd.DataFrame, rule: str,
                           batches: Sequence[dict], joint: dict, candidates: pd.DataFrame) -> pd.DataFrame:
    """Rows completing a program so its batch sizes and its overlap with ``other`` are met.

    ``batches``: ``[{"batch": label, "year": y, "count": n}, ...]`` (sourced units included).
    ``joint``: ``{"other_first": a, "this_first": b, "same_year": c}`` joint pilot cities by
    which program came first.
    """
    this_years = adoption_years(calendar)
    other_years = adoption_years(other)["year"]
    batch_years = sorted({b["year"] for b in batches})
    capacity = {b["batch"]: b["count"] for b in batches}
    for batch in this_years["batch"]:
        if batch in capacity:
            capacity[batch] -= 1

    def order(this_year: int, other_year: int) -> str:
        if other_year < this_year:
            return "other_first"
        return "this_first" if this_year < other_year else "same_year"

    remaining = dict(joint)
    for adcode, year in this_years["year"].items():
        if adcode in other_years.index:
            remaining[order(year, other_years[adcode])] -= 1
    total = sum(b["count"] for b in batches)
    remaining["this_only"] = total - len(this_years) - sum(remaining.values())
    if min(remaining.values()) < 0:
        raise ValueError(f"rule {rule}: sourced units already exceed a target: {remaining}")

    eligible = candidates[~candidates["adcode"].isin(this_years.index)].set_index("adcode")
    joint_pool = other_years[other_years.index.isin(eligible.index)]
    pools = {
        "same_year": joint_pool[joint_pool.isin(batch_years)],
        "other_first": joint_pool[joint_pool < batch_years[0]],
        "this_first": joint_pool[joint_pool > batch_years[-1]],
        "this_only": eligible.index[~eligible.index.isin(other_years.index)],
    }
    chosen: dict[str, list[int]] = {}
    for kind, pool in pools.items():
        codes = pool.index if isinstance(pool, pd.Series) else pool
        chosen[kind] = hash_order(codes, f"{rule}:{kind}")[: remaining[kind]]
        if len(chosen[kind]) < remaining[kind]:
            raise ValueError(f"rule {rule}: only {len(chosen[kind])} candidates for {remaining[kind]} {kind} units")

    # Same-year joint pilots take the first batch of the other program's year; then every
    # other chosen city, in hash order, fills the batches in calendar order.
    assignment: dict[int, str] = {}
    for adcode in chosen["same_year"]:
        batch = next(b["batch"] for b in batches if b["year"] == other_years[adcode] and capacity[b["batch"]] > 0)
        assignment[adcode] = batch
        capacity[batch] -= 1
    rest = hash_order(chosen["other_first"] + chosen["this_first"] + chosen["this_only"], f"{rule}:year")
    for adcode in rest:
        batch = next(b["batch"] for b in batches if capacity[b["batch"]] > 0)
        assignment[adcode] = batch
        capacity[batch] -= 1
    year_of = {b["batch"]: b["year"] for b in batches}
    rows = [_imputed_row(code, eligible.loc[code, "name_zh"], year_of[batch], batch, rule,
                         "unit and year imputed: the published list is missing")
            for code, batch in sorted(assignment.items())]
    return pd.DataFrame(rows, columns=list(COLUMNS))


def complete_calendars(calendars: dict[str, pd.DataFrame], plan: dict,
                       candidates: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Apply the steps of ``plan`` (``data/pilots/completion.yml``) in order.

    Returns each program's sourced rows followed by its imputed rows. Sourced rows pass
    through unchanged; a sourced row marked imputed on input is an error.
    """
    completed = {}
    for program, calendar in calendars.items():
        if (calendar["status"] != "sourced").any():
            raise ValueError(f"{program}: pass only sourced rows to complete_calendars")
        completed[program] = calendar.copy()
    for step in plan["steps"]:
        program, kind = step["program"], step["kind"]
        calendar = completed[program]
        if kind == "years_within_range":
            added = years_within_range(calendar, step["rule"], step["years"])
        elif kind == "add_units":
            added = add_units(calendar, step["rule"], step["year"], step["batch"], step["target_total"], candidates)
        elif kind == "add_units_with_overlap":
            added = add_units_with_overlap(calendar, completed[step["other_program"]], step["rule"],
                                           step["batches"], step["joint"], candidates)
        else:
            raise ValueError(f"unknown completion step kind {kind!r}")
        completed[program] = pd.concat([calendar, added.astype(calendar.dtypes.to_dict())], ignore_index=True)
    return completed


def completion_candidates(cities: pd.DataFrame, calendars: dict[str, pd.DataFrame],
                          first_year: int, programs: Sequence[str]) -> pd.DataFrame:
    """Cities an imputed pilot may be drawn from.

    A candidate was a prefecture-level city under its present code from ``first_year`` on and is
    not a partly treated city (only a district or county is a pilot) in any of ``programs``.
    """
    since = cities["city_since"].fillna(first_year).astype(int)
    partly_treated = set()
    for program in programs:
        calendar = calendars[program]
        partly_treated |= set(calendar.loc[calendar["level_note"] == "district_or_county_only", "adcode"])
    keep = (since <= first_year) & ~cities["adcode"].isin(partly_treated)
    return cities.loc[keep, ["adcode", "name_zh"]].reset_index(drop=True)


def complete_calendar_files(pilots_folder, cities: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The completed calendars for the files in ``pilots_folder``, from their sourced rows.

    Reads ``completion.yml`` there, keeps each file's sourced rows and re-applies the plan.
    ``data/build.py`` writes the result; the tests check the committed files equal it.
    """
    from pathlib import Path

    import yaml

    from .pilots import read_calendar_file

    folder = Path(pilots_folder)
    plan = yaml.safe_load((folder / "completion.yml").read_text(encoding="utf-8"))
    sourced = {}
    for path in sorted(folder.glob("*.csv")):
        calendar = read_calendar_file(path)
        sourced[path.stem] = calendar[calendar["status"] == "sourced"].reset_index(drop=True)
    candidates = completion_candidates(cities, sourced, plan["first_year"], plan["partly_treated_programs"])
    return complete_calendars(sourced, plan, candidates)
