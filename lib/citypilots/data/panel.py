"""Loading and validating a real city-year panel.

A reader who has the panel of Li, Han & Xu (218 prefecture-level cities x 2008-2023,
work-safety deaths) loads it with ``load_panel(path)`` and every chapter runs on it.
The file is read as text (``dtype=str``, ``keep_default_na=False``) and checked before
anything is converted, so nothing is silently dropped or coerced. Every problem is
collected and reported at once, each naming the file, the row as a spreadsheet shows it
(header = row 1, first record = row 2) and the column:

1. required columns are present (if one is missing, nothing else is checked);
0. the file is a non-empty UTF-8 CSV with commas, a header that names no column twice, the
   book's English column names, and at least one record (an Excel workbook, a semicolon- or
   tab-separated file, Chinese headers, an empty or GBK file each get their own message);
1b. an unknown column whose name is close to a known one is reported (a misspelt optional
   column would otherwise be ignored);
2. every cell reads as what its column holds: a six-digit city code, an integer year,
   a finite decimal number (no ``nan``, ``inf``, thousands commas or padding spaces),
   a dummy that is exactly ``0`` or ``1``; required cells are not empty; Safety,
   death_rate and universities are not negative, population and urban_population are positive;
3. years lie in the panel window (2008-2023 by default);
4. city codes are in ``data/cities.csv`` (a former code of ``data/admin_changes.csv`` is refused
   with the current code to use: the chapters join the city table by code);
5. no city-year appears twice, and the panel is balanced (every city in every year the panel has);
6. each policy dummy is absorbing within a city (once 1, 1 in every later year), and
   ``Dual_policy`` equals ``Innova_policy`` times ``Smart_policy`` in every row;
7. adoption-year columns, when given, agree with the dummies;
8. the first year of ``Innova_policy`` / ``Smart_policy`` agrees, within a tolerance, with
   the *sourced* (not imputed) years of the pilot calendars in ``data/pilots/``.

Checks 6-8 follow a city through its years. They use only the rows whose city, year and
dummy cells read cleanly, and skip a city whose years repeat or whose dummy has an
unreadable cell, so one typo is reported once and not again as a broken sequence.

Why not pandera: pandera reports failures by dataframe index after its own type
coercion. The promise here is file, spreadsheet row and column on the raw text, with
nothing coerced before it has been checked.
"""

from __future__ import annotations

import csv
import difflib
import io
import math
from pathlib import Path

import numpy as np
import pandas as pd

from .cities import load_admin_changes, load_cities
from ..errors import PanelError, Problem, file_label
from .pilots import adoption_years, pilots_dir

CONTROLS = ("lnGDP", "PF", "TR", "FA", "UL", "ER")
POLICY_DUMMIES = ("Dual_policy", "Innova_policy", "Smart_policy")
MEDIATORS_AND_MODERATOR = ("TI", "IU", "SR")
REQUIRED_COLUMNS = ("city", "year", "Safety", *POLICY_DUMMIES, *CONTROLS, *MEDIATORS_AND_MODERATOR)

ADOPTION_YEAR_COLUMNS = {"Innova_policy": "innovative_year", "Smart_policy": "smart_year",
                         "Dual_policy": "dual_year"}
OTHER_PROGRAM_DUMMIES = ("Broadband_China", "Made_in_China_2025", "Supervision", "Low_Carbon_City")
OPTIONAL_COLUMNS = (
    "innovative_year", "smart_year", "dual_year", *OTHER_PROGRAM_DUMMIES,
    "universities", "death_rate", "population", "urban_population",
)
# The pilot calendar each single-pilot dummy is checked against.
CALENDAR_OF_DUMMY = {"Innova_policy": "innovative_city", "Smart_policy": "smart_city"}

# What each known column holds. Required columns may not have empty cells; optional ones may.
COLUMN_KINDS = {
    "city": "city_code",
    "year": "integer",
    "Safety": "non_negative_number",
    **{name: "dummy" for name in POLICY_DUMMIES},
    **{name: "number" for name in CONTROLS + MEDIATORS_AND_MODERATOR},
    "innovative_year": "integer",
    "smart_year": "integer",
    "dual_year": "integer",
    **{name: "dummy" for name in OTHER_PROGRAM_DUMMIES},
    "universities": "count",
    "death_rate": "non_negative_number",
    "population": "positive_number",
    "urban_population": "positive_number",
}
INTEGER_KINDS = ("city_code", "integer", "dummy", "count")

CITY_CODE_PATTERN = r"[0-9]{6}"
INTEGER_PATTERN = r"-?[0-9]+"
DECIMAL_PATTERN = r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"


# ----------------------------------------------------------------------------------------
# Reading and writing


EXCEL_SIGNATURES = {b"PK\x03\x04": "an Excel workbook (.xlsx)", b"\xd0\xcf\x11\xe0": "an Excel workbook (.xls)"}


def _header_problems(path: str | Path, file: str) -> list[Problem]:
    """Problems visible before the file is parsed: not a text file, empty, a header that names a
    column twice, a separator other than the comma, column names that are not the book's."""
    head = Path(path).read_bytes()
    for signature, what in EXCEL_SIGNATURES.items():
        if head.startswith(signature):
            return [Problem(file, None, None, f"is {what}, not a CSV file: open it and save it as \"CSV UTF-8\"")]
    try:
        text = head.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        return [Problem(file, None, None, f"is not UTF-8 text ({error.reason} at byte {error.start}); "
                        "save it as CSV UTF-8 (a spreadsheet may have saved it as GBK)")]
    if not text.strip():
        return [Problem(file, None, None, "is empty: it has neither a header nor records")]
    header = next(csv.reader(io.StringIO(text.splitlines()[0])))
    problems = []
    if len(header) == 1:
        for separator, name in ((";", "semicolons"), ("\t", "tabs")):
            if separator in header[0]:
                problems.append(Problem(file, 1, None, f"its header is separated by {name}, not commas: save it as "
                                        "CSV with commas (or read it and write it with pandas' to_csv)"))
    seen: dict[str, int] = {}
    for position, name in enumerate(header, start=1):
        if name in seen:
            problems.append(Problem(file, 1, name, f"the column name appears twice (columns {seen[name]} and "
                                    f"{position}): rename one"))
        seen.setdefault(name, position)
    chinese = [name for name in header if any("\u4e00" <= character <= "\u9fff" for character in name)]
    if chinese and not set(REQUIRED_COLUMNS) <= set(header):
        problems.append(Problem(file, 1, None, f"column names must be the book's English names (data/README.md: "
                                f"city, year, Safety, Dual_policy, ...); found Chinese names such as "
                                f"{', '.join(repr(n) for n in chinese[:3])}"))
    return problems


def read_panel_text(path: str | Path) -> pd.DataFrame:
    """The file as a frame of strings, one row per spreadsheet row (blank lines kept)."""
    file = file_label(path)
    problems = _header_problems(path, file)
    if problems:
        raise PanelError(problems)
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False, na_filter=False,
                          skip_blank_lines=False, index_col=False, encoding="utf-8-sig")
    except UnicodeDecodeError as error:
        raise PanelError([Problem(file, None, None,
                                  f"is not UTF-8 text ({error.reason} at byte {error.start}); "
                                  "save it as CSV UTF-8 (a spreadsheet may have saved it as GBK)")]) from None
    except pd.errors.ParserError as error:
        raise PanelError([Problem(file, None, None, f"cannot be read as CSV: {error}")]) from None
    if raw.empty:
        raise PanelError([Problem(file, None, None, "has a header but no records")])
    return raw


def load_panel(
    path: str | Path,
    first_year: int = 2008,
    last_year: int = 2023,
    check_calendars: bool = True,
    adoption_year_tolerance: int = 1,
) -> pd.DataFrame:
    """Read, validate and type a city-year panel; raises :class:`PanelError` listing every problem.

    Returns one row per record of the file, sorted by city and year: int64 for city, year
    and the policy dummies, float64 for numbers (NaN for an empty optional cell), "Int64"
    for the optional integer columns, text for unknown columns. The adoption-year columns
    ``innovative_year``, ``smart_year`` and ``dual_year`` (first year the dummy is 1, empty
    if never) are added when the file lacks them.
    """
    raw = read_panel_text(path)
    problems = validate_panel(raw, file_label(path), first_year=first_year, last_year=last_year,
                              check_calendars=check_calendars,
                              adoption_year_tolerance=adoption_year_tolerance)
    if problems:
        raise PanelError(problems)
    panel = pd.DataFrame(index=raw.index)
    for column in raw.columns:
        kind = COLUMN_KINDS.get(column)
        if kind is None:
            panel[column] = raw[column]
        elif column in REQUIRED_COLUMNS and kind in INTEGER_KINDS:
            panel[column] = np.array([int(text) for text in raw[column]], dtype="int64")
        elif kind in INTEGER_KINDS:
            panel[column] = pd.array([int(text) if text != "" else None for text in raw[column]],
                                     dtype="Int64")
        else:
            panel[column] = parse_numbers(raw[column])
    panel = panel.sort_values(["city", "year"], kind="stable").reset_index(drop=True)
    for dummy, year_column in ADOPTION_YEAR_COLUMNS.items():
        if year_column not in panel.columns:
            panel[year_column] = first_year_on(panel, dummy)
    return panel


def first_year_on(panel: pd.DataFrame, dummy: str) -> pd.Series:
    """For every row, the first year its city has ``dummy == 1`` ("Int64", empty if never)."""
    first = panel["year"].where(panel[dummy] == 1).groupby(panel["city"]).transform("min")
    return first.astype("Int64")


def to_csv(panel: pd.DataFrame, path: str | Path) -> None:
    """Write a panel (as returned by :func:`load_panel`) so that ``load_panel`` reads it back identically.

    Floats are written with the shortest text that reads back to the same number, empty
    cells as empty text.
    """
    panel.to_csv(path, index=False, lineterminator="\n", encoding="utf-8")


def parse_numbers(text: pd.Series) -> np.ndarray:
    """Decimal text to float64 with Python's exact ``float``; empty text becomes NaN."""
    return np.array([float(value) if value != "" else math.nan for value in text], dtype="float64")


# ----------------------------------------------------------------------------------------
# Validation


def validate_panel(
    raw: pd.DataFrame,
    file: str,
    first_year: int = 2008,
    last_year: int = 2023,
    check_calendars: bool = True,
    adoption_year_tolerance: int = 1,
) -> list[Problem]:
    """Check a panel read as text; returns every problem found (empty when clean), in row order."""
    problems = missing_column_problems(raw, file)
    if problems:
        return problems
    raw = raw.reset_index(drop=True).fillna("").astype(str)  # absent fields of a short record are empty
    rows = pd.Series(raw.index + 2, index=raw.index)  # spreadsheet row numbers

    empty_row = (raw == "").all(axis=1)
    for index in raw.index[empty_row]:
        problems.append(Problem(file, int(rows[index]), None, "the row is empty (delete it or fill it in)"))

    readable = {}  # column -> boolean Series: cell is filled and reads as its kind
    for column in raw.columns:
        if column in COLUMN_KINDS:
            column_problems, readable[column] = cell_problems(raw[column], column, file, rows, ~empty_row)
            problems += column_problems

    problems += misspelt_column_problems(raw, file)
    city = parse_numbers(raw["city"].where(readable["city"], ""))
    year = parse_numbers(raw["year"].where(readable["year"], ""))
    keyed = readable["city"] & readable["year"]
    window = window_problems(year, readable["year"], file, rows, first_year, last_year)
    problems += window
    unknown = unknown_city_problems(city, readable["city"], file, rows)
    problems += unknown
    repeated_city_years = duplicate_problems(city, year, keyed, file, rows)
    problems += repeated_city_years

    # Cities whose sequence of years cannot be followed reliably: a repeated year, or a row
    # of the city with an unreadable year.
    repeated_cities = {int(city[p.row - 2]) for p in repeated_city_years}
    unreadable_year_cities = set(city[readable["city"] & ~readable["year"] & ~empty_row].astype(int))
    skip_cities = repeated_cities | unreadable_year_cities
    # Balance, judged once every row's city and year read cleanly (a typo in a code or a year, a
    # repeated or out-of-window year or an unknown code is reported once, not again as a year
    # missing from some city).
    if not ((~keyed & ~empty_row).any() or window or unknown or repeated_city_years):
        problems += balance_problems(city, year, keyed, file, rows)

    first_on = {}  # dummy -> Series (city -> first year the dummy is 1, NaN if never)
    sequences = {}
    for dummy in POLICY_DUMMIES:
        sequence = city_sequence(raw, dummy, city, year, rows, keyed, readable[dummy], skip_cities)
        sequences[dummy] = sequence
        problems += absorbing_problems(sequence, dummy, file)
        first_on[dummy] = sequence["year"].where(sequence["value"] == 1).groupby(sequence["city"]).min()

    problems += dual_problems(raw, file, rows)

    for dummy, year_column in ADOPTION_YEAR_COLUMNS.items():
        if year_column in raw.columns:
            problems += adoption_year_problems(raw, sequences[dummy], first_on[dummy], dummy, year_column,
                                               readable[year_column], file)

    if check_calendars:
        for dummy, program in CALENDAR_OF_DUMMY.items():
            problems += calendar_problems(sequences[dummy], first_on[dummy], dummy, program,
                                          adoption_year_tolerance, file)

    return sorted(problems, key=lambda problem: problem.row if problem.row is not None else 0)


def missing_column_problems(raw: pd.DataFrame, file: str) -> list[Problem]:
    """One problem per missing required column, with a hint when a near spelling is present."""
    problems = []
    for column in REQUIRED_COLUMNS:
        if column in raw.columns:
            continue
        near = [name for name in raw.columns if str(name).strip().lower() == column.lower()]
        hint = f" (found {near[0]!r}; names are case- and space-sensitive)" if near else ""
        problems.append(Problem(file, None, column, f"required column is missing{hint}"))
    return problems


def cell_problems(text: pd.Series, column: str, file: str, rows: pd.Series,
                  to_check: pd.Series) -> tuple[list[Problem], pd.Series]:
    """Problems of the cells of one column, and which cells are filled and readable."""
    kind = COLUMN_KINDS[column]
    empty = text == ""
    if kind == "city_code":
        wellformed = text.str.fullmatch(CITY_CODE_PATTERN)
        complaint = "is not a six-digit city code (GB/T 2260 adcode)"
    elif kind in ("integer", "count"):
        wellformed = text.str.fullmatch(INTEGER_PATTERN)
        complaint = "is not an integer"
    elif kind == "dummy":
        wellformed = text.isin(["0", "1"])
        complaint = "is not 0 or 1"
    else:
        wellformed = text.str.fullmatch(DECIMAL_PATTERN)
        complaint = "is not a number (write plain decimals: no spaces, thousands commas, nan or inf)"

    problems = []
    if column in REQUIRED_COLUMNS:
        for index in text.index[empty & to_check]:
            problems.append(Problem(file, int(rows[index]), column, "missing value"))
    for index in text.index[~empty & ~wellformed & to_check]:
        problems.append(Problem(file, int(rows[index]), column, f"{text[index]!r} {complaint}"))

    readable = ~empty & wellformed & to_check
    value = parse_numbers(text.where(readable, ""))
    too_low = None
    if kind in ("non_negative_number", "count"):
        too_low, rule = value < 0, "is negative"
    elif kind == "positive_number":
        too_low, rule = value <= 0, "is not positive"
    not_finite = readable & ~np.isfinite(value)
    for index in text.index[not_finite]:
        problems.append(Problem(file, int(rows[index]), column, f"{text[index]!r} is not a finite number"))
    if too_low is not None:
        for index in text.index[readable & too_low]:
            problems.append(Problem(file, int(rows[index]), column, f"{text[index]!r} {rule}"))
        readable = readable & ~too_low
    return problems, readable & ~not_finite


def window_problems(year: np.ndarray, readable: pd.Series, file: str, rows: pd.Series,
                    first_year: int, last_year: int) -> list[Problem]:
    outside = readable & ((year < first_year) | (year > last_year))
    return [Problem(file, int(rows[index]), "year",
                    f"{int(year[index])} is outside the panel window {first_year}-{last_year}")
            for index in rows.index[outside]]


def former_city_codes() -> dict[int, str]:
    """Former codes of ``admin_changes.csv`` that are not codes of the city table, with the change
    that retired each (what a reader must do about a row that uses one)."""
    current = set(load_cities()["adcode"].astype(int))
    former = {}
    for change in load_admin_changes().itertuples(index=False):
        new_codes = [code.strip() for code in change.new_adcode.split(" / ") if code.strip()]
        for code in (code.strip() for code in change.old_adcode.split(" / ")):
            if not code.isdigit() or int(code) in current:
                continue
            if len(new_codes) == 1:
                former[int(code)] = (f"{code} is a former code ({change.old_name_zh}, changed {change.date_effective}); "
                                     f"the city table has it as {new_codes[0]} ({change.new_name_zh}): use that code")
            else:
                former[int(code)] = (f"{code} is a former code ({change.old_name_zh}, {change.change} "
                                     f"{change.date_effective} into {change.new_name_zh}): its rows match no one "
                                     "current city; drop them or assign them to one")
    return former


def unknown_city_problems(city: np.ndarray, readable: pd.Series, file: str, rows: pd.Series) -> list[Problem]:
    """One problem per unknown or former code, at its first row (former codes: the chapters join the
    city table by code, so a row under a retired code would match no city)."""
    known = set(load_cities()["adcode"].astype(int))
    former = former_city_codes()
    codes = pd.Series(city, index=rows.index)[readable].astype(int)
    unknown = codes[~codes.isin(known)]
    problems = []
    for code, indexes in unknown.groupby(unknown, sort=False).groups.items():
        count = f" ({len(indexes)} rows)" if len(indexes) > 1 else ""
        message = former.get(int(code), f"{code:06d} is neither a city code in cities.csv nor a former code "
                                        "in admin_changes.csv")
        problems.append(Problem(file, int(rows[indexes[0]]), "city", message + count))
    return problems


def balance_problems(city: np.ndarray, year: np.ndarray, usable: pd.Series, file: str, rows: pd.Series) -> list[Problem]:
    """One problem per city that lacks a year the panel has for other cities: every chapter needs a
    balanced panel (several estimators, the spatial models and the Goodman-Bacon decomposition
    are defined only for one). ``usable``: rows whose city and year are clean and unrepeated."""
    keys = pd.DataFrame({"city": city, "year": year, "row": rows})[usable]
    if keys.empty:
        return []
    all_years = set(keys["year"])
    problems = []
    for code, group in keys.groupby("city", sort=False):
        missing = sorted(all_years - set(group["year"]))
        if missing:
            shown = ", ".join(str(int(y)) for y in missing[:8]) + (" ..." if len(missing) > 8 else "")
            problems.append(Problem(file, int(group["row"].min()), "year",
                                    f"city {int(code):06d} has no row for {shown}, years other cities have: the "
                                    "chapters need a balanced panel (every city in every year)"))
    return problems


def misspelt_column_problems(raw: pd.DataFrame, file: str) -> list[Problem]:
    """Unknown columns whose name is close to a column the book knows (a misspelt optional column
    would otherwise be ignored in silence)."""
    problems = []
    for name in raw.columns:
        if name in COLUMN_KINDS:
            continue
        close = difflib.get_close_matches(str(name), list(COLUMN_KINDS), n=1, cutoff=0.8)
        if close:
            problems.append(Problem(file, 1, str(name), f"is not a column the book knows; did you mean "
                                    f"{close[0]!r}? (rename it, or it is kept as text and never used)"))
    return problems


def duplicate_problems(city: np.ndarray, year: np.ndarray, keyed: pd.Series, file: str,
                       rows: pd.Series) -> list[Problem]:
    """One problem per row that repeats an earlier row's city and year."""
    keys = pd.DataFrame({"city": city, "year": year, "row": rows})[keyed]
    first_row = keys.groupby(["city", "year"])["row"].transform("min")
    repeats = keys[keys["row"] != first_row]
    return [Problem(file, int(record.row), "year",
                    f"city {int(record.city):06d}, year {int(record.year)} repeats row {int(first_row[index])}")
            for index, record in repeats.iterrows()]


def city_sequence(raw: pd.DataFrame, dummy: str, city: np.ndarray, year: np.ndarray, rows: pd.Series,
                  keyed: pd.Series, dummy_readable: pd.Series, skip_cities: set[int]) -> pd.DataFrame:
    """The readable (city, year, row, dummy value) records, sorted by city and year.

    Leaves out the cities in ``skip_cities`` and those with an unreadable cell of ``dummy``.
    """
    records = pd.DataFrame({"city": city, "year": year, "row": rows,
                            "value": parse_numbers(raw[dummy].where(dummy_readable, ""))})
    unreadable_dummy = set(records.loc[keyed & ~dummy_readable, "city"].astype(int))
    records = records[keyed & dummy_readable]
    records = records[~records["city"].isin(skip_cities | unreadable_dummy)]
    records = records.astype({"city": "int64", "year": "int64", "value": "int64"})
    return records.sort_values(["city", "year"], kind="stable").reset_index(drop=True)


def absorbing_problems(sequence: pd.DataFrame, dummy: str, file: str) -> list[Problem]:
    """One problem per city whose dummy goes back to 0 after being 1, at the first such year."""
    ever_on = sequence.groupby("city")["value"].cummax()
    was_on = ever_on.groupby(sequence["city"]).shift(fill_value=0)
    drops = sequence[(sequence["value"] == 0) & (was_on == 1)].groupby("city").head(1)
    first_on = sequence["year"].where(sequence["value"] == 1).groupby(sequence["city"]).min()
    return [Problem(file, int(record.row), dummy,
                    f"city {record.city:06d}: {dummy} is 0 in {record.year} after being 1 from "
                    f"{int(first_on[record.city])}; a pilot dummy stays 1 once switched on")
            for record in drops.itertuples()]


def dual_problems(raw: pd.DataFrame, file: str, rows: pd.Series) -> list[Problem]:
    """One problem per row where Dual_policy is not Innova_policy AND Smart_policy."""
    dual, innovative, smart = (raw[name] for name in POLICY_DUMMIES)
    readable = dual.isin(["0", "1"]) & innovative.isin(["0", "1"]) & smart.isin(["0", "1"])
    expected = ((innovative == "1") & (smart == "1")).map({True: "1", False: "0"})
    wrong = readable & (dual != expected)
    return [Problem(file, int(rows[index]), "Dual_policy",
                    f"Dual_policy is {dual[index]} but Innova_policy is {innovative[index]} and "
                    f"Smart_policy is {smart[index]}; Dual_policy must be 1 exactly when both are 1")
            for index in raw.index[wrong]]


def adoption_year_problems(raw: pd.DataFrame, sequence: pd.DataFrame, first_on: pd.Series, dummy: str,
                           year_column: str, readable: pd.Series, file: str) -> list[Problem]:
    """Per city, the first row whose adoption year is not the first year the dummy is 1."""
    text = raw[year_column]
    given_by_index = parse_numbers(text.where(readable, ""))  # NaN for an empty (or unreadable) cell
    usable_by_index = (readable | (text == "")).to_numpy()
    index = sequence["row"].to_numpy() - 2
    records = sequence[usable_by_index[index]]
    given = given_by_index[records["row"].to_numpy() - 2]
    expected = records["city"].map(first_on).to_numpy(dtype="float64")
    agree = (given == expected) | (np.isnan(given) & np.isnan(expected))
    problems = []
    for record in records[~agree].groupby("city").head(1).itertuples():
        shown = text[record.row - 2] or "empty"
        first = first_on[record.city]
        truth = f"the first year {dummy} is 1 is {int(first)}" if not np.isnan(first) else f"{dummy} is never 1"
        problems.append(Problem(file, int(record.row), year_column,
                                f"city {record.city:06d}: {year_column} is {shown} but {truth}"))
    return problems


def calendar_problems(sequence: pd.DataFrame, first_on: pd.Series, dummy: str, program: str,
                      tolerance: int, file: str) -> list[Problem]:
    """Cities whose first year of ``dummy`` is off the sourced calendar year by more than ``tolerance``."""
    calendar_file = pilots_dir() / f"{program}.csv"
    sourced = adoption_years(program, include_imputed=False)["year"]
    problems = []
    for city_code, city_records in sequence.groupby("city"):
        if city_code not in sourced.index:
            continue
        sourced_year = int(sourced[city_code])
        first_seen, last_seen = city_records["year"].min(), city_records["year"].max()
        first = first_on[city_code]
        if np.isnan(first):
            if sourced_year + tolerance <= last_seen:
                row = city_records.loc[city_records["year"] >= sourced_year, "row"].iloc[0]
                problems.append(Problem(file, int(row), dummy,
                                        f"city {city_code:06d}: {dummy} is never 1, but {calendar_file} "
                                        f"has the city as a pilot from {sourced_year} (sourced)"))
            continue
        first = int(first)
        left_censored = sourced_year < first_seen and first == first_seen
        if abs(first - sourced_year) <= tolerance or left_censored:
            continue
        row = city_records.loc[city_records["year"] == first, "row"].iloc[0]
        problems.append(Problem(file, int(row), dummy,
                                f"city {city_code:06d}: {dummy} is first 1 in {first}, but {calendar_file} "
                                f"gives the sourced year {sourced_year} (tolerance {tolerance} "
                                f"year{'s' if tolerance != 1 else ''})"))
    return problems
