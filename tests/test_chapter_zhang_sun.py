"""The Zhang and Sun companion chapter: its panel reader, its claims, its exercises, its real-panel run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from citypilots.chapters import zhang_sun
from citypilots.errors import PanelError
from citypilots.simulation import zhang_sun as simulation

from real_panel_run import assert_chapter_runs_on

ROOT = Path(__file__).resolve().parents[1]
CHAPTER = ROOT / "notebooks" / "zhang_sun.md"
SEEDS = range(6)  # the claims' checks run on fewer seeds than the chapter (cached runs are shared only at 20)


@pytest.fixture(scope="module")
def book():
    return zhang_sun.study_data()


@pytest.fixture
def panel_file(tmp_path, book):
    path = tmp_path / "zhang_sun_panel.csv"
    zhang_sun.to_csv(book.data, path)
    return path


# -- the panel reader ------------------------------------------------------------------------------

def test_a_real_panel_reads_back_as_simulated(monkeypatch, panel_file, book):
    monkeypatch.setenv(zhang_sun.PANEL_VARIABLE, str(panel_file))
    real = zhang_sun.study_data()
    assert real.truth is None and not real.is_simulated and str(panel_file) in real.source
    for column in ("city", "year", "smart_year", "Smart_policy", *zhang_sun.NUMERIC, *zhang_sun.TRAITS):
        left, right = real.data[column], book.data[column]
        if pd.api.types.is_numeric_dtype(left):
            assert np.array_equal(left.to_numpy(float), right.to_numpy(float), equal_nan=True), column
        else:
            assert (left.to_numpy() == right.to_numpy()).all(), column
    with pytest.raises(ValueError, match="no seed"):
        zhang_sun.study_data(seed=1)


def test_every_problem_of_a_bad_panel_is_reported_at_once(tmp_path, panel_file):
    raw = pd.read_csv(panel_file, dtype=str, keep_default_na=False)
    raw.loc[0, "city"] = "11000"          # row 2: not six digits
    raw.loc[3, "year"] = "2O10"           # row 5
    raw.loc[20, "resilience"] = ""        # row 22: not the city's first year
    raw.loc[30, "LQ_finance"] = "-0.5"    # row 32
    raw.loc[40, "region"] = "north"       # row 42
    raw.loc[50, "smart_year"] = "2014"    # row 52: differs within the city
    broken = tmp_path / "broken.csv"
    raw.to_csv(broken, index=False)
    with pytest.raises(PanelError) as error:
        zhang_sun.load_study_panel(broken)
    text = str(error.value)
    for expected in ['row 2 (column "city")', 'row 5 (column "year")', 'row 22 (column "resilience")',
                     'row 32 (column "LQ_finance")', 'row 42 (column "region")', 'row 52 (column "smart_year")']:
        assert expected in text, expected


def test_a_missing_column_is_named(tmp_path, panel_file):
    raw = pd.read_csv(panel_file, dtype=str, keep_default_na=False).drop(columns=["LQ_manufacturing"])
    path = tmp_path / "short.csv"
    raw.to_csv(path, index=False)
    with pytest.raises(PanelError, match='column "LQ_manufacturing"'):
        zhang_sun.load_study_panel(path)


# -- the library pieces the chapter calls -----------------------------------------------------------

def test_the_stacked_truth_is_its_own_weighted_contrast(book):
    numbers = zhang_sun.baseline_measure(book)
    cs = numbers["Callaway-Sant'Anna"]
    assert cs["truth"] == pytest.approx(book.truth.att(book.data["Smart_policy"].eq(1).to_numpy()
                                                       & book.data["resilience"].notna().to_numpy()))
    stacked = numbers["stacked (Wing, Freedman and Hollingsworth)"]["truth"]
    assert stacked != cs["truth"] and abs(stacked - cs["truth"]) < 0.1


def test_describe_counts_the_sample(book):
    facts = zhang_sun.describe(book)
    assert facts["cities"] == facts["study_cities"] == 284
    assert facts["pilot_cities"] + facts["never"] == 284
    assert facts["first_outcome_year"] == facts["first_year"] + 1


# -- the prose's claims ------------------------------------------------------------------------------

def test_claim_the_robust_estimates_track_att_not_the_no_pilot_world(book):
    table = zhang_sun.baseline_table(book, seeds=SEEDS, n_jobs=2)
    n = table.attrs["numbers"]
    cs, world = n["Callaway-Sant'Anna"], n["Callaway-Sant'Anna, read against the no-pilot world"]
    assert abs(cs["seed_mean"] - cs["seed_truth"]) < 0.04
    assert cs["seed_mean"] > world["seed_truth"] + 0.04  # "too large" against the no-pilot world
    assert world["coverage"] < cs["coverage"]
    assert abs(cs["null_estimate"]) < 2 * cs["std_error"]


def test_claim_the_event_study_truth_is_zero_before_and_positive_after(book):
    study = zhang_sun.event_study(book)
    truth = study["truth"]
    assert (truth[truth.index < 0] == 0).all() and (truth[truth.index >= 0] > 0).all()
    assert truth.loc[0] < truth.loc[1]  # the ramp
    assert set(study["results"]) == {"Callaway-Sant'Anna (dynamic)", "TWFE event study"}


def test_claim_the_government_attention_excess_is_this_panels_noise(book):
    label = "government attention to science: shift of the channel (CS)"
    here = zhang_sun.channel_measure(book)[label]
    null = zhang_sun.study_data(overrides=simulation.null_world("mediated_government_attention"))
    excess = here["estimate"] - here["truth"]
    assert excess > 0 and abs(excess - zhang_sun.channel_measure(null)[label]["estimate"]) < 0.5 * excess


# -- the exercises -----------------------------------------------------------------------------------

def test_exercise_national_path(book):
    strong = zhang_sun.study_data(overrides={"effects.growth": 0.03})
    estimate = zhang_sun.baseline_measure(strong)["Callaway-Sant'Anna"]["estimate"]
    att, world = strong.truth.att(), strong.truth.att_vs_no_pilot_world()
    assert att - world > book.truth.att() - book.truth.att_vs_no_pilot_world()  # the gap widens
    assert strong.truth.national_path() < book.truth.national_path() < 0
    assert abs(estimate - att) < abs(estimate - world)  # the estimate follows att


def test_exercise_null():
    null = zhang_sun.study_data(overrides=simulation.null_world("att"))
    cs = zhang_sun.baseline_measure(null)["Callaway-Sant'Anna"]
    assert cs["truth"] == 0.0
    assert cs["ci_low"] <= 0.0 <= cs["ci_high"]


# -- the chapter on a reader's real panel ------------------------------------------------------------

def test_the_chapter_runs_on_a_real_panel(panel_file, monkeypatch):
    monkeypatch.setenv(zhang_sun.PANEL_VARIABLE, str(panel_file))
    assert_chapter_runs_on(CHAPTER, panel_file)
