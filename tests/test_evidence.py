"""The evidence table (citypilots.report.evidence): each column is what its header says."""

from __future__ import annotations

import math

import pytest

from citypilots.data.panel import CONTROLS
from citypilots.estimators.did import twfe
from citypilots.report import evidence
from citypilots.simulation import montecarlo
from citypilots.simulation.generator import simulate_panel
from citypilots.simulation.specification import null_world


def two_headlines(panel) -> dict:
    """The paper's TWFE, read as both pilots against none; the same on the single pilots."""
    truth = panel.truth
    dual = twfe(panel.data, "Safety", "Dual_policy", controls=CONTROLS)
    single = twfe(panel.data, "Safety", "Innova_policy", controls=("Smart_policy", *CONTROLS))
    return {"dual": evidence.headline(dual, truth=None if truth is None else truth.dual_vs_none()),
            "innovation": evidence.headline(single, truth=None if truth is None else truth.innovation_single())}


@pytest.fixture
def cache_in(tmp_path, monkeypatch):
    monkeypatch.setenv(montecarlo.CACHE_VARIABLE, str(tmp_path))


def test_every_column_is_what_its_header_says(cache_in):
    book = simulate_panel()
    seeds = [1, 2, 3]
    table = evidence.evidence_table(two_headlines, book, {"dual": "synergy"}, seeds=seeds)
    numbers = table.attrs["numbers"]
    on_book = two_headlines(book)
    assert numbers["dual"]["estimate"] == on_book["dual"]["estimate"]
    assert numbers["dual"]["truth"] == book.truth.dual_vs_none()
    # the null world: the book's own seed with the synergy switched off
    nulled = simulate_panel(overrides=null_world("synergy"))
    assert numbers["dual"]["null_estimate"] == pytest.approx(two_headlines(nulled)["dual"]["estimate"], abs=1e-12)
    assert math.isnan(numbers["innovation"]["null_estimate"])  # no null world asked for
    # the spread: each seed's own panel and truth
    per_seed = [two_headlines(simulate_panel(seed=seed))["dual"] for seed in seeds]
    assert numbers["dual"]["seed_mean"] == pytest.approx(sum(r["estimate"] for r in per_seed) / 3, abs=1e-12)
    covered = [r["ci_low"] <= r["truth"] <= r["ci_high"] for r in per_seed]
    assert numbers["dual"]["coverage"] == pytest.approx(sum(covered) / 3)
    assert list(table.columns.get_level_values(0).unique()) == [
        "This book", "Truth", "Null world", "Over 3 seeds", "Null world over 3 seeds"]


def test_on_a_real_panel_the_truth_column_is_empty(cache_in):
    simulated = simulate_panel()

    class RealPanel:
        data, cities, truth = simulated.data, simulated.cities, None

    table = evidence.evidence_table(two_headlines, RealPanel(), {}, seeds=[1])
    assert (table[("Truth", "realised")] == "").all()
    assert table.loc["dual", ("This book", "estimate")] != ""
