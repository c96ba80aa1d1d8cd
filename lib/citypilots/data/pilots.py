"""Pilot-program calendars: one CSV per program in ``data/pilots/``, one schema.

Each row is one pilot unit in one batch of one program. ``adcode`` is the prefecture-level
city the unit belongs to; ``level_note`` says whether the whole city is the pilot
(``whole_city``) or only a district, a county, a city group member or a province-wide pilot.
``status`` is ``sourced`` (a published list names the unit) or ``imputed`` (added by the
documented completion rule named in ``imputation_rule``; see :mod:`citypilots.data.calendar_completion`).
A sourced row whose year is not known keeps its empty ``year``; the imputed year for it
stands in a separate ``imputed`` row, so sourced rows are never overwritten.

Adding a program is adding one file with these columns; :func:`programs` lists the files.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from .._paths import data_dir
from ..errors import PilotFileError, Problem
from .cities import load_cities

COLUMNS = (
    "adcode", "name_zh", "year", "batch", "level_note", "unit_name_zh", "unit_adcode",
    "year_min", "year_max", "status", "imputation_rule", "source", "confidence", "note",
)
LEVEL_NOTES = (
    "whole_city", "district_or_county_only", "city_group_member", "via_province",
    "county_level_unit_no_prefecture_parent",
)
STATUSES = ("sourced", "imputed")
CONFIDENCES = ("high", "medium", "low")
# Which rows make a prefecture-level city a pilot, unless a chapter says otherwise: a pilot
# district does not treat its whole city, a province-wide pilot does.
TREATING_LEVEL_NOTES = ("whole_city", "city_group_member", "via_province")


def pilots_dir() -> Path:
    return data_dir() / "pilots"


def programs() -> list[str]:
    """The programs with a calendar file, e.g. ``['broadband_china', 'innovative_city', ...]``."""
    return sorted(path.stem for path in pilots_dir().glob("*.csv"))


def program_label(program: str) -> str:
    """A readable name: ``'innovative_city'`` -> ``'Innovative City'``."""
    return program.replace("_", " ").title()


def load_calendar(program: str) -> pd.DataFrame:
    """All rows of one program's calendar, validated (raises :class:`PilotFileError`)."""
    path = pilots_dir() / f"{program}.csv"
    if not path.is_file():
        raise FileNotFoundError(f"no calendar for program {program!r}; known programs: {programs()}")
    return read_calendar_file(path)


def read_calendar_file(path: str | Path) -> pd.DataFrame:
    """Read and validate a calendar file; every problem is reported at once."""
    path = Path(path)
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except pd.errors.EmptyDataError:
        raise PilotFileError([Problem(str(path), None, None, "is empty: it has neither a header nor rows")]) from None
    except UnicodeDecodeError as error:
        raise PilotFileError([Problem(str(path), None, None,
                                      f"is not UTF-8 text ({error.reason} at byte {error.start}); save it as "
                                      "CSV UTF-8 (a spreadsheet may have saved it as GBK)")]) from None
    except pd.errors.ParserError as error:
        raise PilotFileError([Problem(str(path), None, None, f"cannot be read as CSV: {error}")]) from None
    if raw.empty:
        raise PilotFileError([Problem(str(path), None, None, "has a header but no rows")])
    problems = validate_calendar(raw, str(path))
    if problems:
        raise PilotFileError(problems)
    calendar = raw.loc[:, list(COLUMNS)].copy()
    for column in ("adcode", "year", "year_min", "year_max"):
        calendar[column] = pd.array(
            [int(v) if v != "" else None for v in calendar[column]], dtype="Int64"
        )
    return calendar


def _is_int(text: str) -> bool:
    return re.fullmatch(r"-?[0-9]+", text) is not None


def validate_calendar(raw: pd.DataFrame, file: str) -> list[Problem]:
    """Check a calendar read as text; returns the list of problems (empty when clean)."""
    problems: list[Problem] = []
    missing = [c for c in COLUMNS if c not in raw.columns]
    for column in missing:
        problems.append(Problem(file, None, column, "required column is missing"))
    if missing:
        return problems
    provinces = {str(code)[:2] for code in load_cities()["adcode"]}
    for index, record in raw.iterrows():
        row = int(index) + 2
        adcode = record["adcode"]
        if not (_is_int(adcode) and len(adcode) == 6):
            problems.append(Problem(file, row, "adcode", f"{adcode!r} is not a six-digit code"))
        elif adcode[:2] not in provinces:
            problems.append(Problem(file, row, "adcode", f"{adcode} starts with {adcode[:2]}, which is no "
                                    "province's code: it cannot be a city"))
        elif not adcode.endswith("00") and record["level_note"] != "county_level_unit_no_prefecture_parent":
            problems.append(Problem(file, row, "adcode", f"{adcode} is a district or county code (it does not end "
                                    "in 00): adcode holds the prefecture-level city; put the district's code in "
                                    "unit_adcode and set level_note to district_or_county_only"))
        for column in ("year", "year_min", "year_max"):
            value = record[column]
            if value != "" and not (_is_int(value) and 1990 <= int(value) <= 2035):
                problems.append(Problem(file, row, column, f"{value!r} is not a year between 1990 and 2035"))
        if record["level_note"] not in LEVEL_NOTES:
            problems.append(Problem(file, row, "level_note",
                                    f"{record['level_note']!r} is not one of {', '.join(LEVEL_NOTES)}"))
        if record["status"] not in STATUSES:
            problems.append(Problem(file, row, "status", f"{record['status']!r} is not 'sourced' or 'imputed'"))
        if record["confidence"] not in CONFIDENCES:
            problems.append(Problem(file, row, "confidence",
                                    f"{record['confidence']!r} is not one of {', '.join(CONFIDENCES)}"))
        if record["status"] == "imputed":
            if record["imputation_rule"] == "":
                problems.append(Problem(file, row, "imputation_rule", "an imputed row must name its rule"))
            if record["year"] == "":
                problems.append(Problem(file, row, "year", "an imputed row must carry a year"))
        if record["status"] == "sourced" and record["imputation_rule"] != "":
            problems.append(Problem(file, row, "imputation_rule", "a sourced row names no imputation rule"))
        if record["status"] == "sourced" and record["source"] == "":
            problems.append(Problem(file, row, "source", "a sourced row must name its source"))
        year, low, high = record["year"], record["year_min"], record["year_max"]
        if all(_is_int(v) for v in (year, low, high)) and not int(low) <= int(year) <= int(high):
            problems.append(Problem(file, row, "year", f"{year} lies outside year_min {low} .. year_max {high}"))
    duplicated = raw.duplicated(["adcode", "batch", "unit_name_zh", "status"], keep="first")
    for index in raw.index[duplicated]:
        problems.append(Problem(file, int(index) + 2, None,
                                "repeats an earlier row (same adcode, batch, unit_name_zh and status)"))
    return problems


def adoption_years(
    program: str | pd.DataFrame,
    level_notes: Iterable[str] = TREATING_LEVEL_NOTES,
    include_imputed: bool = True,
) -> pd.DataFrame:
    """First pilot year of each prefecture-level city in a program.

    Takes ``min(year)`` over the rows whose ``level_note`` is in ``level_notes``. Returns a
    frame indexed by ``adcode`` with ``year``, ``batch`` and ``imputed`` (True when the
    first year comes from an imputed row, i.e. is not a sourced fact).
    """
    calendar = load_calendar(program) if isinstance(program, str) else program
    rows = calendar[calendar["level_note"].isin(list(level_notes)) & calendar["year"].notna()]
    if not include_imputed:
        rows = rows[rows["status"] == "sourced"]
    # Sourced before imputed at the same year, so a sourced fact is never shown as imputed.
    rows = rows.assign(_imputed=rows["status"] == "imputed").sort_values(["adcode", "year", "_imputed"])
    first = rows.groupby("adcode", sort=True).head(1).set_index("adcode")
    return pd.DataFrame({
        "year": first["year"].astype(int),
        "batch": first["batch"],
        "imputed": first["_imputed"].astype(bool),
    })


def program_on(data: pd.DataFrame, program: str, unit: str = "city", time: str = "year") -> pd.DataFrame:
    """A program's adoption year and absorbing dummy for every row of a city-year panel.

    Returns a frame aligned with ``data`` with ``<program>_year`` (the city's first pilot year,
    :func:`adoption_years`; missing for a city that never joined) and ``<program>`` (1 from that
    year on, else 0): what a chapter needs to put a new program into a regression.
    """
    first = adoption_years(program)["year"]
    year = data[unit].map(first).astype("Int64")
    on = (data[time] >= year).fillna(False).astype("int64")
    return pd.DataFrame({f"{program}_year": year, program: on}, index=data.index)
