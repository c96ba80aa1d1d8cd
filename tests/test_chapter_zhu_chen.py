"""The companion chapter on Zhu and Chen (2025): its functions, the claims of its text and
exercises, and its run on a reader's real panel (CITYPILOTS_PANEL_ZHU_CHEN)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from citypilots.chapters import zhu_chen
from citypilots.errors import PanelError
from citypilots.estimators import did
from citypilots.estimators.mechanism import mediation

from real_panel_run import assert_chapter_runs_on

CHAPTER = Path(__file__).resolve().parents[1] / "notebooks" / "zhu_chen.md"


@pytest.fixture(scope="module")
def book():
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv(zhu_chen.PANEL_VARIABLE, raising=False)
        return zhu_chen.study_data()


@pytest.fixture(scope="module")
def panel_file(tmp_path_factory, book):
    path = tmp_path_factory.mktemp("zhu_chen") / "panel.csv"
    book.data[list(zhu_chen.REQUIRED)].to_csv(path, index=False)
    return path


def test_a_real_panel_is_read_with_its_index_and_groups_and_has_no_truth(book, panel_file, monkeypatch):
    monkeypatch.setenv(zhu_chen.PANEL_VARIABLE, str(panel_file))
    real = zhu_chen.study_data()
    assert real.truth is None and str(panel_file) in real.source
    np.testing.assert_allclose(real.data["NQP"], book.data["NQP"], rtol=1e-4)
    assert (real.data["region"] == book.data["region"]).all()
    assert (real.data["large_city"] == book.data["large_city"]).all()
    assert real.data["smart_year"].equals(book.data["smart_year"])
    with pytest.raises(ValueError, match="takes no seed"):
        zhu_chen.study_data(seed=3)


def test_every_problem_of_a_real_panel_is_reported_at_once(book, tmp_path):
    frame = book.data[list(zhu_chen.REQUIRED)].astype(str)
    frame.loc[0, "year"] = "2O11"
    frame.loc[1, "Smart_policy"] = "yes"
    frame.loc[2, "HC"] = "n/a"
    frame.loc[3, "city"] = "999999"
    path = tmp_path / "bad.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(PanelError) as error:
        zhu_chen.load_study_panel(path)
    message = str(error.value)
    for fragment in ('row 2 (column "year")', 'row 3 (column "Smart_policy")', 'row 4 (column "HC")',
                     'row 5 (column "city")'):
        assert fragment in message, fragment
    frame = book.data[list(zhu_chen.REQUIRED)].drop(columns=["ISU", "energy"])
    frame.to_csv(path, index=False)
    with pytest.raises(PanelError, match='column "ISU".*required column is missing'):
        zhu_chen.load_study_panel(path)


def test_the_smart_city_pilot_can_be_switched_off_in_a_real_panels_file(book, tmp_path):
    frame = book.data[list(zhu_chen.REQUIRED)].copy()
    city = frame.loc[frame["Smart_policy"] == 1, "city"].iloc[0]
    last = frame.index[frame["city"] == city][-1]
    frame.loc[last, "Smart_policy"] = 0
    path = tmp_path / "back.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(PanelError, match="stays 1 once switched on"):
        zhu_chen.load_study_panel(path)


def test_the_did_table_supports_the_text(book):
    numbers = zhu_chen.did_table(book, n_jobs=2).attrs["numbers"]
    twfe = numbers["TWFE with controls (the study's model)"]
    robust = numbers["imputation estimator, no controls (Borusyak et al.)"]
    assert twfe["coverage"] >= 0.9 and twfe["null_rejection_rate"] <= 0.1 and twfe["rejection_rate"] == 1.0
    assert robust["seed_mean"] - robust["seed_truth"] > 0.005  # biased without the control for growth


def test_the_mediation_table_supports_the_text(book):
    numbers = zhu_chen.mediation_table(book, n_jobs=2).attrs["numbers"]
    for m in zhu_chen.MEDIATORS:
        row = numbers[f"{m}: indirect effect a x b"]
        assert row["coverage"] >= 0.9 and abs(row["null_seed_mean"]) < 0.002 and row["rejection_rate"] >= 0.9


def test_the_heterogeneity_table_supports_the_text(book):
    numbers = zhu_chen.heterogeneity_table(book, n_jobs=2).attrs["numbers"]
    for label in ("east", "central", "west", "large cities", "medium and small cities"):
        assert numbers[label]["coverage"] >= 0.85 and numbers[label]["null_rejection_rate"] <= 0.1, label
    assert numbers["central - east"]["truth"] < 0 and numbers["large - medium and small"]["truth"] < 0
    assert numbers["large - medium and small"]["null_truth"] != 0  # composition: not zero without multipliers


def test_the_threshold_tables_support_the_text(book):
    tests = zhu_chen.threshold_tests(book)
    assert tests.loc["this panel", "bootstrap p"] <= 0.01
    assert tests.loc["null world: no threshold", "bootstrap p"] > 0.1
    fit = tests.attrs["results"]["this panel"]
    assert abs(fit.thresholds[0] - book.truth.threshold_value) < 0.02
    numbers = zhu_chen.threshold_table(book, n_jobs=2).attrs["numbers"]
    gap = numbers["above - below"]
    assert gap["truth"] > 0 and gap["rejection_rate"] == 1.0
    assert gap["null_rejection_rate"] >= 0.2  # the t test after the search over-rejects
    assert numbers["threshold location"]["seeds"] == len(zhu_chen.THRESHOLD_SEEDS)


def test_exercise_controls(book):
    truth = book.truth.estimand("smart_city")
    fit = did.twfe(book.data, "NQP", "Smart_policy")
    without, se = fit.estimate("Smart_policy"), fit.table.loc["Smart_policy", "std_error"]
    assert without - truth > 1.5 * se
    with_controls = did.twfe(book.data, "NQP", "Smart_policy", zhu_chen.CONTROLS).estimate("Smart_policy")
    assert without - truth > 0.005 and abs(with_controls - truth) < abs(without - truth) / 2
    fair = zhu_chen.study_data(overrides={"covariates.growth_pilot_shift": 0.0})
    fair_without = did.twfe(fair.data, "NQP", "Smart_policy").estimate("Smart_policy")
    assert abs(fair_without - fair.truth.estimand("smart_city")) < 0.005


def test_exercise_channel():
    deaf = zhu_chen.study_data(overrides={"effects.mediators.HC.a": 0.0})
    result = mediation(deaf.data, "NQP", "Smart_policy", "HC", zhu_chen.CONTROLS)
    out = result.sobel()
    assert deaf.truth.estimand("mediated_HC") == pytest.approx(0.0, abs=1e-6)
    assert out["ci_low"] < 0 < out["ci_high"]
    assert result.outcome_model.table.loc["HC", "p_value"] < 0.05  # b is still there


def test_exercise_threshold():
    flat = zhu_chen.study_data(overrides=zhu_chen.WORLDS["threshold"])
    fit = zhu_chen.fit_threshold(flat.data, bootstrap=100)
    low, high = fit.confidence_intervals[0]
    assert fit.p_values[0] > 0.1 and high - low > 0.5


def test_the_chapter_runs_on_a_real_panel(panel_file, monkeypatch):
    monkeypatch.setenv(zhu_chen.PANEL_VARIABLE, str(panel_file))
    assert_chapter_runs_on(CHAPTER, panel_file)
