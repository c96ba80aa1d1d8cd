"""The companion chapter on the Smart City x Low-Carbon City dual pilots: the claims of its text,
its exercises, its validator and its run on a reader's real panel."""

from __future__ import annotations

from pathlib import Path

import pytest

from citypilots.chapters import gao
from citypilots.errors import PanelError
from citypilots.simulation.gao import null_world

from real_panel_run import assert_chapter_runs_on

ROOT = Path(__file__).resolve().parents[1]
CHAPTER = ROOT / "notebooks" / "gao.md"


@pytest.fixture(scope="module")
def book():
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv(gao.PANEL_VARIABLE, raising=False)
        return gao.study_data()


def test_counts_and_the_sample(book):
    counts = gao.sample_counts(book)
    assert (counts["cities"], counts["years"], counts["smart"], counts["smart_imputed"]) == (297, 18, 104, 102)
    assert counts["dual"] > 0 and counts["low_carbon"] > counts["dual"]


def test_denominator_effect_is_a_drop(book):
    assert -0.15 < gao.denominator_drop(book) < 0


def test_baseline_claims(book):
    numbers = gao.baseline_table(book, n_jobs=2).attrs["numbers"]
    dual = numbers["both pilots (Dual_policy)"]
    assert dual["p_value"] < 0.05 and dual["estimate"] < dual["truth"]  # sign found, size not
    assert dual["null_rejection_rate"] <= 0.1
    for label in ("Smart City only (Smart_only)", "Low-Carbon City only (Low_carbon_only)"):
        assert numbers[label]["estimate"] < numbers[label]["truth"]


def test_duration_and_event_profile_claims(book):
    row = gao.duration_table(book, n_jobs=2).attrs["numbers"][gao.DURATION_LABEL]
    assert row["p_value"] < 0.05 and row["truth"] > 0 and row["null_rejection_rate"] <= 0.1
    result, realised = gao.event_profile(book)
    assert (realised.loc[-5:-2] < 0).all() and realised.loc[-1] == 0  # the dip before the dual year
    assert (realised.loc[0:8].diff().dropna() > 0).all()


def test_one_plus_one_claims(book):
    numbers = gao.synergy_table(book, n_jobs=2).attrs["numbers"]
    reading, clean, twfe = (numbers[label] for label in (gao.SYNERGY_ROWS[0], gao.SYNERGY_ROWS[3],
                                                          gao.SYNERGY_ROWS[2]))
    assert reading["null_truth"] > 0.02 and reading["null_rejection_rate"] >= 0.3  # positive with no synergy
    assert clean["null_rejection_rate"] <= 0.1 and clean["coverage"] >= 0.8
    assert twfe["seed_mean"] > twfe["seed_truth"]
    base = gao.baseline_fit(book)
    interaction = gao.synergy_measure(book)[gao.SYNERGY_ROWS[2]]["estimate"]
    arithmetic = base.estimate("Dual_policy") - base.estimate("Smart_only") - base.estimate("Low_carbon_only")
    assert interaction == pytest.approx(arithmetic, abs=1e-10)  # one model, two parametrisations
    values = gao.one_plus_one(book, gao.baseline_table(book, n_jobs=2).attrs["numbers"])
    assert values["synergy"] == pytest.approx(book.truth.dual_vs_none() - values["smart_on_dual"]
                                              - values["low_carbon_on_dual"], abs=0.01)


def test_mechanism_and_heterogeneity_claims(book):
    numbers = gao.mechanism_table(book, n_jobs=2).attrs["numbers"]
    assert numbers["HC: path a"]["rejection_rate"] < 1.0  # a channel that exists is not always found
    heterogeneity = gao.heterogeneity_table(book, n_jobs=2).attrs["numbers"]
    assert heterogeneity["economic level: high - low"]["null_truth"] > 0  # levels differ without a multiplier


def test_exercise_no_synergy(book):
    rows = gao.synergy_measure(gao.study_data(overrides=null_world("no_synergy")))
    assert rows[gao.SYNERGY_ROWS[0]]["truth"] == pytest.approx(0.04, abs=0.01)
    clean = rows[gao.SYNERGY_ROWS[3]]
    assert abs(clean["truth"]) < 0.0005 and clean["ci_low"] < 0 < clean["ci_high"]


def test_exercise_no_growth(book):
    row = gao.duration_measure(gao.study_data(overrides=null_world("no_growth")))[gao.DURATION_LABEL]
    assert row["ci_low"] < 0 < row["ci_high"] and abs(row["truth"]) < 0.0005


def test_exercise_sample(book):
    smaller = gao.study_data(overrides={"sample.present_from": 2006})
    assert gao.sample_counts(smaller)["cities"] == 285
    before = gao.baseline_measure(book)["both pilots (Dual_policy)"]
    after = gao.baseline_measure(smaller)["both pilots (Dual_policy)"]
    assert abs(after["estimate"] - before["estimate"]) < before["std_error"]


def test_the_validator_reports_every_problem_with_row_and_column(book, tmp_path):
    data = book.data[list(gao.REQUIRED)].copy()
    data["year"] = data["year"].astype(str)
    data.loc[0, "year"] = "20O6"
    data.loc[1, "digital_employment"] = -1.0
    data.loc[5, "Dual_policy"] = 1 - data.loc[5, "Dual_policy"]
    path = tmp_path / "panel.csv"
    data.to_csv(path, index=False)
    with pytest.raises(PanelError) as error:
        gao.load_study_panel(path)
    message = str(error.value)
    assert 'row 2 (column "year")' in message and 'row 3 (column "digital_employment")' in message
    data.loc[0, "year"], data.loc[1, "digital_employment"] = "2006", 1.0
    data.to_csv(path, index=False)
    with pytest.raises(PanelError, match='row 7 \\(column "Dual_policy"\\)'):
        gao.load_study_panel(path)
    data.drop(columns="HC").to_csv(path, index=False)
    with pytest.raises(PanelError, match="HC"):
        gao.load_study_panel(path)


def test_the_chapter_runs_on_a_real_panel(book, tmp_path, monkeypatch):
    """The simulated panel written to CSV without its truth or derived columns, read back as a
    reader's panel: the chapter runs, says which data it ran on, and glues every key it quotes."""
    path = tmp_path / "gao_panel.csv"
    book.data[list(gao.REQUIRED)].to_csv(path, index=False)
    real = gao.load_study_panel(path)
    assert real["digital_lq"].to_numpy() == pytest.approx(book.data["digital_lq"].to_numpy(), rel=6e-6)
    monkeypatch.setenv(gao.PANEL_VARIABLE, str(path))
    assert_chapter_runs_on(CHAPTER, path)
