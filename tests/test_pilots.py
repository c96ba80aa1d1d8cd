"""Calendars: published counts, imputation flags, the completion rule, the added-program path."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest

from citypilots.data import pilots
from citypilots.data.cities import load_cities
from citypilots.errors import PilotFileError
from citypilots.data.calendar_completion import complete_calendar_files, hash_order
from citypilots.data.pilots import adoption_years, load_calendar, programs


def first_years(program):
    return adoption_years(load_calendar(program))


def test_programs_lists_every_calendar_file():
    assert programs() == sorted(path.stem for path in pilots.pilots_dir().glob("*.csv"))
    assert {"broadband_china", "innovative_city", "low_carbon_city", "smart_city"} <= set(programs())


def test_a_district_code_or_an_unknown_province_is_refused(tmp_path):
    calendar = pd.read_csv(pilots.pilots_dir() / "broadband_china.csv", dtype=str, keep_default_na=False)
    calendar.loc[0, "adcode"] = "440305"        # row 2: 南山区, a district of Shenzhen
    calendar.loc[1, "adcode"] = "990100"        # row 3: no province 99
    path = tmp_path / "codes.csv"
    calendar.to_csv(path, index=False)
    with pytest.raises(PilotFileError) as error:
        pilots.read_calendar_file(path)
    messages = {p.row: p.message for p in error.value.problems}
    assert "district or county code" in messages[2] and "no province" in messages[3]


@pytest.mark.parametrize("content, fragment", [(b"", "is empty"), ("adcode,年份\n".encode("gbk"), "not UTF-8"),
                                               (None, "has a header but no rows")])
def test_an_empty_or_gbk_calendar_names_its_file(tmp_path, content, fragment):
    path = tmp_path / "calendar.csv"
    if content is None:
        header = pd.read_csv(pilots.pilots_dir() / "broadband_china.csv", nrows=0).columns
        content = (",".join(header) + "\n").encode()
    path.write_bytes(content)
    with pytest.raises(PilotFileError, match=fragment) as error:
        pilots.read_calendar_file(path)
    assert str(path) in str(error.value)


def test_completed_calendars_reproduce_the_published_counts():
    innovation, smart = first_years("innovative_city"), first_years("smart_city")
    assert len(innovation) == 97
    assert len(smart) == 104
    joint = innovation.merge(smart, left_index=True, right_index=True, suffixes=("_i", "_s"))
    assert len(joint) == 37
    assert (joint["year_i"] < joint["year_s"]).sum() == 16
    assert (joint["year_i"] > joint["year_s"]).sum() == 18
    assert (joint["year_i"] == joint["year_s"]).sum() == 3
    # Batch sizes of the Smart City notices (37 + 37 in 2013, 30 in 2015) and the paper's batch years.
    assert smart["year"].value_counts().to_dict() == {2013: 74, 2015: 30}
    assert set(innovation["year"]) == {2008, 2010, 2011, 2012, 2013, 2018, 2022}


def test_sourced_calendar_counts_match_the_shared_reference_data():
    # 1 (2008) + 16 (2010) + 17 (2018) + 2 (2022) Innovative City years are sourced.
    sourced = adoption_years(load_calendar("innovative_city"), include_imputed=False)
    assert sourced["year"].value_counts().to_dict() == {2008: 1, 2010: 16, 2018: 17, 2022: 2}
    assert len(adoption_years(load_calendar("smart_city"), include_imputed=False)) == 2
    assert first_years("broadband_china")["year"].value_counts().sort_index().to_dict() == {2014: 39, 2015: 36, 2016: 37}


def test_every_imputed_row_is_flagged_with_its_rule_and_sourced_rows_are_kept():
    for program in ("innovative_city", "smart_city"):
        calendar = load_calendar(program)
        imputed = calendar[calendar["status"] == "imputed"]
        assert imputed["imputation_rule"].isin(["IC-years", "IC-2022", "SC-units"]).all()
        assert (imputed["confidence"] == "low").all()
        assert imputed["year"].notna().all()
    innovation = load_calendar("innovative_city")
    # The 44 sourced rows with unknown years keep their empty year; 38 of them (the whole cities)
    # get an imputed year in a separate row, inside their sourced range.
    unknown = innovation[(innovation["status"] == "sourced") & innovation["year"].isna()]
    assert len(unknown) == 44
    year_rows = innovation[innovation["imputation_rule"] == "IC-years"]
    assert len(year_rows) == 38
    assert set(year_rows["adcode"]) <= set(unknown["adcode"])
    assert ((year_rows["year"] >= 2010) & (year_rows["year"] <= 2013)).all()


def test_a_first_year_is_imputed_only_where_no_sourced_year_exists():
    innovation = first_years("innovative_city")
    sourced = adoption_years(load_calendar("innovative_city"), include_imputed=False)
    assert not innovation.loc[sourced.index, "imputed"].any()
    assert (innovation.loc[sourced.index, "year"] == sourced["year"]).all()


def test_committed_calendars_equal_the_completion_rule_rerun_on_their_sourced_rows():
    completed = complete_calendar_files(pilots.pilots_dir(), load_cities())
    for program, calendar in completed.items():
        committed = load_calendar(program)
        pd.testing.assert_frame_equal(calendar.reset_index(drop=True), committed, check_dtype=False)


def test_hash_order_is_a_fixed_content_free_shuffle():
    codes = [110000, 120000, 130100, 130200, 130300]
    assert hash_order(codes, "R") == hash_order(list(reversed(codes)), "R")
    assert hash_order(codes, "R") != hash_order(codes, "S") or len(codes) < 3


def test_imputed_pilots_are_drawn_only_from_whole_window_cities_not_partly_treated():
    cities = load_cities().set_index("adcode")
    partly = set()
    for program in ("innovative_city", "smart_city"):
        calendar = load_calendar(program)
        partly |= set(calendar.loc[calendar["level_note"] == "district_or_county_only", "adcode"])
        added = calendar[calendar["imputation_rule"].isin(["IC-2022", "SC-units"])]
        assert not set(added["adcode"]) & partly
        assert cities.loc[added["adcode"], "city_since"].isna().all()


def test_adding_a_program_is_adding_one_file(tmp_path, monkeypatch):
    data = tmp_path / "data"
    shutil.copytree(pilots.data_dir(), data)
    rows = pd.DataFrame([
        {"adcode": 330100, "name_zh": "杭州市", "year": 2016, "batch": "2016", "level_note": "whole_city",
         "unit_name_zh": "杭州市", "unit_adcode": "", "year_min": 2016, "year_max": 2016, "status": "sourced",
         "imputation_rule": "", "source": "a throwaway test list", "confidence": "high", "note": ""},
        {"adcode": 320100, "name_zh": "南京市", "year": 2019, "batch": "2019", "level_note": "whole_city",
         "unit_name_zh": "南京市", "unit_adcode": "", "year_min": 2019, "year_max": 2019, "status": "sourced",
         "imputation_rule": "", "source": "a throwaway test list", "confidence": "high", "note": ""},
    ])
    rows.to_csv(data / "pilots" / "throwaway_pilot.csv", index=False)
    monkeypatch.setenv("CITYPILOTS_DATA", str(data))
    assert "throwaway_pilot" in programs()
    years = adoption_years("throwaway_pilot")
    assert years["year"].to_dict() == {320100: 2019, 330100: 2016}
    assert pilots.program_label("throwaway_pilot") == "Throwaway Pilot"


def test_a_bad_calendar_file_reports_every_problem_with_row_and_column(tmp_path):
    calendar = pd.read_csv(pilots.pilots_dir() / "broadband_china.csv", dtype=str, keep_default_na=False)
    calendar.loc[0, "adcode"] = "11000"         # row 2: five digits
    calendar.loc[3, "year"] = "2O14"            # row 5: letter O
    calendar.loc[4, "status"] = "guessed"       # row 6
    calendar.loc[5, "level_note"] = "entire"    # row 7
    path = tmp_path / "broken.csv"
    calendar.to_csv(path, index=False)
    with pytest.raises(PilotFileError) as error:
        pilots.read_calendar_file(path)
    found = {(p.row, p.column) for p in error.value.problems}
    assert found == {(2, "adcode"), (5, "year"), (6, "status"), (7, "level_note")}
    assert str(path) in str(error.value)
    assert "row 5 (column \"year\"): '2O14'" in str(error.value)


def test_a_calendar_missing_a_column_says_which(tmp_path):
    calendar = pd.read_csv(pilots.pilots_dir() / "broadband_china.csv", dtype=str, keep_default_na=False)
    path = tmp_path / "short.csv"
    calendar.drop(columns=["status", "source"]).to_csv(path, index=False)
    with pytest.raises(PilotFileError) as error:
        pilots.read_calendar_file(path)
    assert {p.column for p in error.value.problems} == {"status", "source"}
