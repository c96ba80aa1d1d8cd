"""Tests of citypilots.data.panel: a clean panel loads and round-trips; every bad input is
reported with its file, spreadsheet row and column; several problems come in one error."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from citypilots.data.cities import cities_present_throughout, load_admin_changes, load_cities
from citypilots.errors import PanelError
from citypilots.data.panel import (
    CONTROLS,
    OPTIONAL_COLUMNS,
    POLICY_DUMMIES,
    REQUIRED_COLUMNS,
    load_panel,
    read_panel_text,
    to_csv,
    validate_panel,
)
from citypilots.data.pilots import adoption_years

YEARS = list(range(2008, 2024))
SHENZHEN, JILIN = 440300, 220200
NUMBER_COLUMNS = ("Safety", *CONTROLS, "TI", "IU", "SR")


# ---------------------------------------------------------------------------------------
# A small valid panel: six real cities x 2008-2023


@pytest.fixture(scope="module")
def sourced():
    """Sourced (not imputed) first pilot years of the two calendars the loader checks."""
    return {
        "innovative": adoption_years("innovative_city", include_imputed=False)["year"],
        "smart": adoption_years("smart_city", include_imputed=False)["year"],
    }


@pytest.fixture(scope="module")
def chosen(sourced):
    """The six cities and their pilot years (None = never), chosen by reading the calendars."""
    innovative, smart = sourced["innovative"], sourced["smart"]
    assert innovative[SHENZHEN] == 2008 and SHENZHEN not in smart.index
    assert innovative[JILIN] == 2018 and JILIN not in smart.index
    smart_only = [code for code in smart.index if code not in innovative.index][0]
    without_sourced_year = [code for code in load_cities()["adcode"]
                            if code not in innovative.index and code not in smart.index][:3]
    plan = {code: (None, None) for code in without_sourced_year}
    plan[smart_only] = (None, int(smart[smart_only]))
    plan[JILIN] = (2018, None)
    plan[SHENZHEN] = (2008, 2013)  # no sourced smart-city year for Shenzhen: 2013 is free
    return dict(sorted(plan.items()))


def build_panel(plan: dict[int, tuple[int | None, int | None]], seed: int = 1) -> pd.DataFrame:
    """A typed panel, sorted by city and year, with dummies consistent with ``plan``."""
    rng = np.random.default_rng(seed)
    records = []
    for city, (innovative_from, smart_from) in plan.items():
        for year in YEARS:
            innovative = int(innovative_from is not None and year >= innovative_from)
            smart = int(smart_from is not None and year >= smart_from)
            record = {"city": city, "year": year, "Safety": rng.gamma(1.0, 1.4),
                      "Dual_policy": innovative * smart, "Innova_policy": innovative, "Smart_policy": smart}
            record.update({name: rng.normal() for name in NUMBER_COLUMNS if name != "Safety"})
            record["universities"] = int(rng.integers(0, 40))
            record["death_rate"] = rng.gamma(1.0, 0.2)
            record["source_note"] = "0012" if year == 2010 else ""
            records.append(record)
    panel = pd.DataFrame(records)
    panel["universities"] = panel["universities"].astype("Int64")
    panel.loc[3, "universities"] = pd.NA
    panel.loc[4, "death_rate"] = np.nan
    panel["source_note"] = panel["source_note"].astype("str")
    return panel


@pytest.fixture
def clean_path(tmp_path, chosen):
    """A valid panel file without adoption-year columns (so a planted dummy error stays one error)."""
    path = tmp_path / "panel.csv"
    to_csv(build_panel(chosen), path)
    return path


@pytest.fixture
def row_of(chosen):
    """Spreadsheet row of (city, year) in the clean file: header row 1, then cities in order x 16 years."""
    position = {city: index for index, city in enumerate(chosen)}
    return lambda city, year: 2 + position[city] * len(YEARS) + (year - YEARS[0])


def plant(path, edits: dict[tuple[int, str], str]) -> None:
    """Overwrite cells of the file as text: ``{(spreadsheet_row, column): text}``."""
    raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    for (row, column), text in edits.items():
        raw.loc[row - 2, column] = text
    raw.to_csv(path, index=False, lineterminator="\n")


def problems_of(path, **options):
    with pytest.raises(PanelError) as caught:
        load_panel(path, **options)
    return caught.value


def assert_one_problem(path, row, column, *fragments, **options):
    """The file fails with exactly one problem at (row, column) whose text contains ``fragments``."""
    error = problems_of(path, **options)
    assert len(error.problems) == 1, str(error)
    problem = error.problems[0]
    assert (problem.file, problem.row, problem.column) == (str(path), row, column), str(error)
    text = str(error)
    where = f"{path} row {row}" if row is not None else str(path)
    assert where + (f' (column "{column}")' if column else "") in text
    for fragment in fragments:
        assert fragment in problem.message, problem.message


# ---------------------------------------------------------------------------------------
# Clean files


def test_the_chosen_cities_and_row_numbers(chosen, row_of):
    assert list(chosen) == sorted(chosen) and len(chosen) == 6
    assert list(chosen)[-1] == SHENZHEN
    assert row_of(SHENZHEN, 2015) == 2 + 5 * 16 + 7 == 89


def test_clean_panel_loads_with_the_right_types(clean_path):
    panel = load_panel(clean_path)
    for column in ("city", "year", *POLICY_DUMMIES):
        assert panel[column].dtype == "int64", column
    for column in (*NUMBER_COLUMNS, "death_rate"):
        assert panel[column].dtype == "float64", column
    for column in ("universities", "innovative_year", "smart_year", "dual_year"):
        assert panel[column].dtype == "Int64", column
    assert pd.api.types.is_string_dtype(panel["source_note"])
    assert panel["universities"].isna().sum() == 1 and panel["death_rate"].isna().sum() == 1
    assert set(REQUIRED_COLUMNS) <= set(panel.columns)


def test_unknown_columns_are_kept_as_text_untouched(clean_path):
    panel = load_panel(clean_path)
    assert (panel.loc[panel["year"] == 2010, "source_note"] == "0012").all()
    assert (panel.loc[panel["year"] != 2010, "source_note"] == "").all()


def test_round_trip_is_identical(clean_path, tmp_path):
    first = load_panel(clean_path)
    again_path = tmp_path / "again.csv"
    to_csv(first, again_path)
    second = load_panel(again_path)
    pd.testing.assert_frame_equal(first, second)
    assert list(second.columns)[-3:] == ["innovative_year", "smart_year", "dual_year"]
    third_path = tmp_path / "third.csv"
    to_csv(second, third_path)
    assert third_path.read_text() == again_path.read_text()


def test_floats_read_back_exactly(clean_path, chosen):
    panel = load_panel(clean_path)
    original = build_panel(chosen)
    for column in (*NUMBER_COLUMNS, "death_rate"):
        np.testing.assert_array_equal(panel[column].to_numpy(), original[column].to_numpy())


def test_adoption_years_are_derived_from_the_dummies(clean_path, chosen):
    panel = load_panel(clean_path)
    for city, (innovative_from, smart_from) in chosen.items():
        rows = panel[panel["city"] == city]
        assert len(rows) == 16
        dual_from = max(innovative_from, smart_from) if innovative_from and smart_from else None
        for column, expected in (("innovative_year", innovative_from), ("smart_year", smart_from),
                                 ("dual_year", dual_from)):
            if expected is None:
                assert rows[column].isna().all(), (city, column)
            else:
                assert (rows[column] == expected).all(), (city, column)
    shenzhen = panel[panel["city"] == SHENZHEN].iloc[0]
    assert (shenzhen["innovative_year"], shenzhen["smart_year"], shenzhen["dual_year"]) == (2008, 2013, 2013)


def test_given_adoption_years_that_agree_are_accepted(clean_path, tmp_path):
    with_years = tmp_path / "with_years.csv"
    to_csv(load_panel(clean_path), with_years)
    assert "innovative_year" in read_panel_text(with_years).columns
    panel = load_panel(with_years)
    pd.testing.assert_frame_equal(panel, load_panel(clean_path))
    assert panel.loc[panel["dual_year"].notna(), "city"].unique().tolist() == [SHENZHEN]


def test_nothing_is_dropped_and_rows_come_out_sorted(clean_path, tmp_path):
    raw = read_panel_text(clean_path)
    shuffled = tmp_path / "shuffled.csv"
    raw.sample(frac=1, random_state=3).to_csv(shuffled, index=False)
    panel = load_panel(shuffled)
    records_in_file = len(shuffled.read_text().splitlines()) - 1
    assert len(panel) == records_in_file == 96
    assert panel[["city", "year"]].equals(panel[["city", "year"]].sort_values(["city", "year"]))
    pd.testing.assert_frame_equal(panel, load_panel(clean_path))


def test_validate_panel_on_a_clean_text_frame_finds_nothing(clean_path):
    assert validate_panel(read_panel_text(clean_path), "panel.csv") == []


def test_a_former_city_code_is_refused_with_the_current_code_to_use(clean_path, chosen, row_of):
    old_codes = [code for cell in load_admin_changes()["old_adcode"] for code in cell.split(" / ") if code]
    assert "522400" in old_codes  # 毕节地区, a prefecture until 2011
    city = list(chosen)[0]
    plant(clean_path, {(row_of(city, year), "city"): "522400" for year in YEARS})
    assert_one_problem(clean_path, row_of(city, 2008), "city", "522400 is a former code", "520500", "(16 rows)")


def test_public_column_lists():
    assert REQUIRED_COLUMNS[:6] == ("city", "year", "Safety", "Dual_policy", "Innova_policy", "Smart_policy")
    assert set(CONTROLS) | {"TI", "IU", "SR"} <= set(REQUIRED_COLUMNS)
    assert OPTIONAL_COLUMNS[:3] == ("innovative_year", "smart_year", "dual_year")


# ---------------------------------------------------------------------------------------
# One problem at a time: file, row and column named


def test_missing_required_column(clean_path):
    raw = read_panel_text(clean_path).drop(columns=["TR"])
    raw.to_csv(clean_path, index=False)
    assert_one_problem(clean_path, None, "TR", "required column is missing")


def test_missing_column_with_a_near_spelling_gets_a_hint(clean_path):
    raw = read_panel_text(clean_path).rename(columns={"year": "Year"})
    raw.to_csv(clean_path, index=False)
    assert_one_problem(clean_path, None, "year", "required column is missing", "'Year'")


@pytest.mark.parametrize(("column", "text", "fragment"), [
    ("year", "20O8", "'20O8' is not an integer"),
    ("year", "2008.0", "'2008.0' is not an integer"),
    ("city", "44030", "'44030' is not a six-digit city code"),
    ("Safety", "abc", "'abc' is not a number"),
    ("Safety", "-0.5", "'-0.5' is negative"),
    ("lnGDP", "nan", "'nan' is not a number"),
    ("PF", "inf", "'inf' is not a number"),
    ("TR", "1,234", "'1,234' is not a number"),
    ("FA", " 3", "' 3' is not a number"),
    ("UL", "1e999", "'1e999' is not a finite number"),
    ("Smart_policy", "2", "'2' is not 0 or 1"),
    ("Dual_policy", "1.0", "'1.0' is not 0 or 1"),
    ("ER", "", "missing value"),
    ("universities", "-3", "'-3' is negative"),
    ("universities", "2.5", "'2.5' is not an integer"),
    ("death_rate", "-0.1", "'-0.1' is negative"),
])
def test_bad_cell(clean_path, row_of, column, text, fragment):
    row = row_of(JILIN, 2012)
    plant(clean_path, {(row, column): text})
    assert_one_problem(clean_path, row, column, fragment)


def test_year_outside_the_window(clean_path, chosen, row_of):
    city = list(chosen)[1]
    plant(clean_path, {(row_of(city, 2023), "year"): "2024"})
    assert_one_problem(clean_path, row_of(city, 2023), "year", "2024 is outside the panel window 2008-2023")


def test_window_is_a_parameter(clean_path):
    error = problems_of(clean_path, first_year=2010, last_year=2023)
    assert len(error.problems) == 6 * 2  # 2008 and 2009 of each city
    assert {p.row for p in error.problems} == {2 + 16 * k + j for k in range(6) for j in (0, 1)}


def test_unknown_city_code(clean_path, chosen, row_of):
    city = list(chosen)[1]
    plant(clean_path, {(row_of(city, 2010), "city"): "999999"})
    assert_one_problem(clean_path, row_of(city, 2010), "city", "999999 is neither a city code in cities.csv")


def test_unknown_city_code_is_reported_once_at_its_first_row(clean_path, chosen, row_of):
    city = list(chosen)[2]
    plant(clean_path, {(row_of(city, year), "city"): "999999" for year in YEARS})
    assert_one_problem(clean_path, row_of(city, 2008), "city", "999999", "(16 rows)")


def test_duplicate_city_year(clean_path, chosen, row_of):
    city = list(chosen)[2]
    plant(clean_path, {(row_of(city, 2012), "year"): "2011"})
    assert_one_problem(clean_path, row_of(city, 2012), "year",
                       f"city {city}, year 2011 repeats row {row_of(city, 2011)}")


def test_a_repeated_city_year_is_not_reported_again_as_a_broken_sequence(clean_path, row_of):
    # Jilin's 2017 record (Innova_policy 0) relabelled 2019: sorted by year it would read 1, 0, 1.
    plant(clean_path, {(row_of(JILIN, 2017), "year"): "2019"})
    assert_one_problem(clean_path, row_of(JILIN, 2019), "year",
                       f"city 220200, year 2019 repeats row {row_of(JILIN, 2017)}")


def test_an_unreadable_dummy_is_not_reported_again_against_the_calendar(clean_path, row_of):
    # Without its 2018 record Jilin's Innova_policy would start in 2019, off the calendar by one.
    plant(clean_path, {(row_of(JILIN, 2018), "Innova_policy"): "yes"})
    assert_one_problem(clean_path, row_of(JILIN, 2018), "Innova_policy", "'yes' is not 0 or 1",
                       adoption_year_tolerance=0)


def test_dummy_that_switches_off(clean_path, row_of):
    plant(clean_path, {(row_of(JILIN, 2020), "Innova_policy"): "0"})
    assert_one_problem(clean_path, row_of(JILIN, 2020), "Innova_policy",
                       "city 220200: Innova_policy is 0 in 2020 after being 1 from 2018")


def test_only_the_first_switch_off_of_a_city_is_reported(clean_path, row_of):
    plant(clean_path, {(row_of(JILIN, 2020), "Innova_policy"): "0",
                       (row_of(JILIN, 2022), "Innova_policy"): "0"})
    assert_one_problem(clean_path, row_of(JILIN, 2020), "Innova_policy", "is 0 in 2020")


def test_dual_policy_inconsistent_with_the_single_dummies(clean_path, row_of):
    plant(clean_path, {(row_of(SHENZHEN, 2013), "Dual_policy"): "0"})
    assert_one_problem(clean_path, row_of(SHENZHEN, 2013), "Dual_policy",
                       "Dual_policy is 0 but Innova_policy is 1 and Smart_policy is 1")


def test_dual_policy_inconsistency_is_reported_in_every_row(clean_path, row_of):
    plant(clean_path, {(row_of(JILIN, 2022), "Dual_policy"): "1", (row_of(JILIN, 2023), "Dual_policy"): "1"})
    error = problems_of(clean_path)
    assert [(p.row, p.column) for p in error.problems] == [
        (row_of(JILIN, 2022), "Dual_policy"), (row_of(JILIN, 2023), "Dual_policy")]


def test_pilot_year_that_contradicts_the_sourced_calendar(clean_path, row_of):
    plant(clean_path, {(row_of(JILIN, year), "Innova_policy"): "0" for year in (2018, 2019)})
    assert_one_problem(clean_path, row_of(JILIN, 2020), "Innova_policy",
                       "city 220200: Innova_policy is first 1 in 2020", "innovative_city.csv",
                       "sourced year 2018")


def test_calendar_tolerance(clean_path, row_of):
    plant(clean_path, {(row_of(JILIN, 2018), "Innova_policy"): "0"})  # first 1 in 2019
    assert len(load_panel(clean_path)) == 96  # within one year: accepted by default
    assert_one_problem(clean_path, row_of(JILIN, 2019), "Innova_policy", "sourced year 2018",
                       adoption_year_tolerance=0)
    assert len(load_panel(clean_path, check_calendars=False, adoption_year_tolerance=0)) == 96


def test_a_pilot_from_before_the_window_is_on_from_the_first_year(clean_path):
    # Shenzhen's sourced year is 2008; in a 2011-2023 panel its dummy is 1 from 2011.
    raw = read_panel_text(clean_path)
    raw[raw["year"].astype(int) >= 2011].to_csv(clean_path, index=False)
    panel = load_panel(clean_path, first_year=2011, adoption_year_tolerance=1)
    assert len(panel) == 6 * 13
    assert (panel.loc[panel["city"] == SHENZHEN, "innovative_year"] == 2011).all()


def test_calendar_pilot_whose_dummy_never_switches_on(clean_path, chosen, row_of):
    smart_only = next(city for city, (innovative, smart) in chosen.items() if innovative is None and smart)
    sourced_year = chosen[smart_only][1]
    plant(clean_path, {(row_of(smart_only, year), "Smart_policy"): "0" for year in YEARS})
    assert_one_problem(clean_path, row_of(smart_only, sourced_year), "Smart_policy",
                       "Smart_policy is never 1", "smart_city.csv", f"from {sourced_year} (sourced)")


def test_calendar_is_not_checked_for_cities_without_a_sourced_year(clean_path, chosen, row_of):
    city = list(chosen)[0]
    plant(clean_path, {(row_of(city, year), "Innova_policy"): "1" for year in YEARS if year >= 2015})
    assert (load_panel(clean_path).query("city == @city")["innovative_year"] == 2015).all()


def test_given_adoption_year_that_disagrees_with_the_dummy(clean_path, tmp_path, chosen, row_of):
    path = tmp_path / "with_years.csv"
    to_csv(load_panel(clean_path), path)
    plant(path, {(row_of(JILIN, 2010), "innovative_year"): "2017"})
    assert_one_problem(path, row_of(JILIN, 2010), "innovative_year",
                       "city 220200: innovative_year is 2017 but the first year Innova_policy is 1 is 2018")


def test_given_adoption_year_for_a_dummy_that_is_never_1(clean_path, tmp_path, chosen, row_of):
    path = tmp_path / "with_years.csv"
    to_csv(load_panel(clean_path), path)
    city = list(chosen)[1]
    plant(path, {(row_of(city, year), "smart_year"): "2015" for year in YEARS})
    assert_one_problem(path, row_of(city, 2008), "smart_year", "smart_year is 2015 but Smart_policy is never 1")


def test_empty_adoption_year_for_a_pilot(clean_path, tmp_path, row_of):
    path = tmp_path / "with_years.csv"
    to_csv(load_panel(clean_path), path)
    plant(path, {(row_of(SHENZHEN, year), "dual_year"): "" for year in YEARS if year >= 2016})
    assert_one_problem(path, row_of(SHENZHEN, 2016), "dual_year",
                       "dual_year is empty but the first year Dual_policy is 1 is 2013")


def test_blank_line_is_reported_with_its_spreadsheet_row(clean_path):
    lines = clean_path.read_text().splitlines(keepends=True)
    clean_path.write_text("".join(lines[:9] + ["\n"] + lines[9:]))
    assert_one_problem(clean_path, 10, None, "the row is empty")


def test_file_that_is_not_utf8(clean_path):
    text = clean_path.read_text().replace("0012", "深圳", 1)
    clean_path.write_bytes(text.encode("gbk"))
    assert_one_problem(clean_path, None, None, "is not UTF-8 text")


def test_ragged_record(clean_path):
    lines = clean_path.read_text().splitlines(keepends=True)
    lines[5] = lines[5].rstrip("\n") + ",extra\n"
    clean_path.write_text("".join(lines))
    assert_one_problem(clean_path, None, None, "cannot be read as CSV", "line 6")


# ---------------------------------------------------------------------------------------
# Files a reader may have saved the wrong way, and panels the chapters cannot use


def test_an_empty_file(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("")
    assert_one_problem(path, None, None, "is empty")


def test_a_header_without_records(clean_path):
    clean_path.write_text(clean_path.read_text().splitlines()[0] + "\n")
    assert_one_problem(clean_path, None, None, "has a header but no records")


def test_an_excel_workbook(clean_path):
    clean_path.write_bytes(b"PK\x03\x04" + b"\x00" * 100)
    assert_one_problem(clean_path, None, None, "Excel workbook", "CSV UTF-8")


@pytest.mark.parametrize("separator, name", [(";", "semicolons"), ("\t", "tabs")])
def test_a_file_separated_by_something_else_than_commas(clean_path, separator, name):
    pd.read_csv(clean_path, dtype=str, keep_default_na=False).to_csv(clean_path, index=False, sep=separator)
    assert_one_problem(clean_path, 1, None, f"separated by {name}")


def test_two_columns_with_the_same_name(clean_path):
    lines = clean_path.read_text().splitlines()
    header = lines[0].split(",")
    header[header.index("source_note")] = "Safety"
    clean_path.write_text("\n".join([",".join(header), *lines[1:]]) + "\n")
    error = problems_of(clean_path)
    assert any(p.column == "Safety" and "appears twice" in p.message for p in error.problems), str(error)


def test_chinese_column_names(clean_path):
    text = clean_path.read_text()
    clean_path.write_text(text.replace("Safety", "安全生产死亡人数", 1))
    error = problems_of(clean_path)
    assert "English names" in str(error) and "安全生产死亡人数" in str(error)


def test_a_misspelt_optional_column(clean_path):
    text = clean_path.read_text()
    clean_path.write_text(text.replace("universities", "universites", 1))
    assert_one_problem(clean_path, 1, "universites", "did you mean 'universities'")


def test_an_unbalanced_panel(clean_path, chosen, row_of):
    lines = clean_path.read_text().splitlines(keepends=True)
    city = list(chosen)[1]
    drop = row_of(city, 2015) - 1  # line index of that record
    clean_path.write_text("".join(lines[:drop] + lines[drop + 1:]))
    assert_one_problem(clean_path, row_of(city, 2008), "year", "has no row for 2015", "balanced")


# ---------------------------------------------------------------------------------------
# Several problems at once


def test_every_problem_is_reported_in_one_error(clean_path, chosen, row_of):
    beijing, tianjin, third = list(chosen)[:3]
    smart_only = list(chosen)[3]
    planted = {
        (row_of(beijing, 2009), "year"): "20O9",
        (row_of(beijing, 2012), "Safety"): "abc",
        (row_of(tianjin, 2010), "TI"): "",
        (row_of(tianjin, 2011), "Smart_policy"): "2",
        (row_of(third, 2012), "year"): "2011",                      # duplicate of 2011
        (row_of(third, 2015), "city"): "999999",                    # unknown code
        (row_of(JILIN, 2020), "Innova_policy"): "0",                # switches off
        (row_of(SHENZHEN, 2013), "Dual_policy"): "0",               # Dual != Innova x Smart
        (row_of(SHENZHEN, 2020), "year"): "2030",                   # outside window
    }
    plant(clean_path, planted | {(row_of(smart_only, year), "Smart_policy"): "0" for year in YEARS})
    expected = set(planted)
    expected.add((row_of(smart_only, chosen[smart_only][1]), "Smart_policy"))  # never on despite calendar

    error = problems_of(clean_path)
    assert len(error.problems) == len(expected) == 10, str(error)
    assert {(p.row, p.column) for p in error.problems} == expected
    assert [p.row for p in error.problems] == sorted(p.row for p in error.problems)
    assert all(p.file == str(clean_path) for p in error.problems)
    assert str(error).startswith("10 problems found:")


# ---------------------------------------------------------------------------------------
# A panel of the real size (its validation time is a benchmark: bench/run.py validate_panel_seconds)


def test_a_full_size_clean_panel_validates_and_loads(tmp_path, sourced):
    codes = [code for code in cities_present_throughout(2008)["adcode"]
             if code not in sourced["innovative"].index and code not in sourced["smart"].index][:218]
    assert len(codes) == 218
    panel = build_panel({code: (None, None) for code in codes})
    path = tmp_path / "full.csv"
    to_csv(panel, path)
    assert validate_panel(read_panel_text(path), str(path)) == []
    assert len(load_panel(path)) == 3488
