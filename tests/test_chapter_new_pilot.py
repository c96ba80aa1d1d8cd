"""The chapter on adding a pilot program: its functions and the claims of its text and exercises."""

from __future__ import annotations

import shutil

import pytest

from citypilots.chapters import new_pilot
from citypilots.data.panel import CONTROLS
from citypilots.data.pilots import adoption_years, program_on, programs
from citypilots.estimators import did
from citypilots.report.datasource import PANEL_VARIABLE, chapter_data


@pytest.fixture(scope="module")
def book():
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv(PANEL_VARIABLE, raising=False)
        return chapter_data()


def test_the_schema_is_the_calendar_files_columns():
    schema = new_pilot.calendar_schema()
    for column in ("adcode", "year", "level_note", "status", "imputation_rule"):
        assert any(column in name for name in schema.index), column


def test_the_validation_example_reports_its_four_mistakes_with_rows_and_columns(tmp_path):
    message = new_pilot.validation_example(tmp_path)
    assert message.startswith("4 problems found")
    for fragment in ('row 2 (column "adcode")', 'row 3 (column "year")', 'row 4 (column "status")',
                     'row 5 (column "source")'):
        assert fragment in message


def test_the_calendar_gives_the_panels_dummy(book):
    on = program_on(book.data, new_pilot.PROGRAM)
    assert (on[new_pilot.PROGRAM] == book.data[new_pilot.DUMMY]).all()


def test_the_pair_truth_is_the_four_cell_interaction_and_small(book):
    truth = new_pilot.pair_truth(book.truth, book.data)
    assert truth is not None and abs(truth) < 0.02  # only what multiplying shares implies
    assert new_pilot.pair_truth(None, book.data) is None


def test_the_effect_table_supports_the_text(book):
    table = new_pilot.effect_table(book, n_jobs=2)
    own = table.attrs["numbers"]["its own effect (TWFE)"]
    pair = table.attrs["numbers"]["its synergy with the Smart City pilot (clean comparisons)"]
    assert own["truth"] < 0 and own["null_rejection_rate"] <= 0.10
    assert pair["rejection_rate"] <= 0.10 and pair["coverage"] >= 0.90


def test_exercise_add_a_program_is_adding_one_file(tmp_path, monkeypatch):
    from citypilots._paths import data_dir

    copy = tmp_path / "data"
    shutil.copytree(data_dir(), copy)
    shutil.copy(copy / "pilots" / "broadband_china.csv", copy / "pilots" / "my_program.csv")
    monkeypatch.setenv("CITYPILOTS_DATA", str(copy))
    assert "my_program" in programs()
    assert len(adoption_years("my_program")) == len(adoption_years("broadband_china"))


def test_exercise_low_carbon_is_found_to_do_nothing(book):
    row = did.twfe(book.data, "Safety", "Low_Carbon_City",
                   controls=("Innova_policy", "Smart_policy", "Dual_policy", *CONTROLS)).table.loc["Low_Carbon_City"]
    assert row["ci_low"] < 0 < row["ci_high"]
    assert book.truth.estimand("Low_Carbon_City") == 0
