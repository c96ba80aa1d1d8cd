"""The mechanism chapter (notebooks/mechanism.md): its tables, and every claim its prose and its
exercises' solutions make, rerun here.

The Monte Carlo behind Table 6 and the indirect effects is the chapter's own (20 seeds, cached on
disk by citypilots.simulation.montecarlo, so a test run after a book build reads it back).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from citypilots.chapters import mechanism as chapter
from citypilots.data.paper import printed
from citypilots.report.datasource import PANEL_VARIABLE, chapter_data
from citypilots.simulation.montecarlo import CACHE_VARIABLE

SEEDS = range(20)


@pytest.fixture(scope="module")
def book():
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv(PANEL_VARIABLE, raising=False)
        return chapter_data()


@pytest.fixture(scope="module")
def table6(book):
    return chapter.table6(book, seeds=SEEDS, n_jobs=2)


@pytest.fixture(scope="module")
def numbers(table6):
    return table6.attrs["numbers"]


@pytest.fixture(scope="module")
def indirect(book):
    return chapter.indirect_effects(book, seeds=SEEDS, n_jobs=2, n_boot=999, seed_n_boot=199)


@pytest.fixture(scope="module")
def drift(book):
    return chapter.confounder_drift(book, mediator="TI", on_mediator=0.3, on_outcome=0.1)


def spread_of_mean(row: dict) -> float:
    return row["seed_sd"] / math.sqrt(row["seeds"])


# ----------------------------------------------------------------------------------------------
# Table 6
# ----------------------------------------------------------------------------------------------

def test_table6_has_the_papers_rows_with_every_column(table6):
    assert list(table6.index) == list(chapter.TABLE6_ROWS)
    for label, row in chapter.TABLE6_ROWS.items():
        assert table6.loc[label, ("Paper", "estimate")] == printed(6, row.column, row.paper_term)["raw_estimate"]
    sr_rows = [label for label, row in chapter.TABLE6_ROWS.items() if row.truth is None]
    assert sr_rows == ["(5) Safety: SR", "(6) Safety: SR"]
    for label in sr_rows:  # no treatment contrast: said, not replaced by a parameter, and no coverage
        assert table6.loc[label, ("Truth", "realised")] == chapter.NO_CONTRAST
        assert table6.loc[label, ("Over 20 seeds", "coverage")] == ""
    others = [label for label in table6.index if label not in sr_rows]
    assert (table6.loc[others, ("Truth", "realised")] != "").all()
    assert (table6.loc[others, ("Null world", "estimate")] != "").all()


def test_path_a_is_recovered_over_the_seeds(numbers):
    row = numbers["(1) TI: Dual_policy (a)"]
    assert abs(row["seed_mean"] - row["seed_truth"]) < 2 * spread_of_mean(row)
    assert row["coverage"] >= 0.85 and row["null_rejection_rate"] <= 0.10
    iu = numbers["(3) IU: Dual_policy (a)"]
    assert iu["rejection_rate"] < 0.5  # "only ... although the pilots move IU in every one"


@pytest.mark.parametrize("label", ["(2) Safety: TI (b)", "(4) Safety: IU (b)"])
def test_path_b_one_channel_at_a_time_is_biased_towards_zero(numbers, label):
    row = numbers[label]
    assert abs(row["seed_mean"]) < abs(row["seed_truth"])
    assert abs(row["seed_mean"] - row["seed_truth"]) > 3 * spread_of_mean(row)  # "by far more than the spread"
    assert row["coverage"] >= 0.8  # "the wide clustered intervals still cover the truth"


@pytest.mark.parametrize("mediator", ["TI", "IU"])
def test_jointly_b_is_closer_to_the_truth_but_still_short(numbers, mediator):
    alone = numbers[f"({2 if mediator == 'TI' else 4}) Safety: {mediator} (b)"]
    joint = numbers[f"(2+4 jointly) Safety: {mediator} (b)"]
    assert abs(joint["seed_mean"] - joint["seed_truth"]) < abs(alone["seed_mean"] - alone["seed_truth"])
    assert abs(joint["seed_mean"]) < abs(joint["seed_truth"])
    assert abs(joint["seed_mean"] - joint["seed_truth"]) > 2 * spread_of_mean(joint)


def test_the_dual_policy_rows_fall_short_like_the_baseline(numbers):
    for label in ("(2) Safety: Dual_policy (direct c')", "(4) Safety: Dual_policy (direct c')",
                  "(5) Safety: Dual_policy", "(6) Safety: Dual_policy (at mean SR)"):
        row = numbers[label]
        assert row["estimate"] > row["truth"] and row["seed_mean"] > row["seed_truth"]


def test_the_interaction_has_low_power(numbers):
    row = numbers["(6) Safety: Dual_policy x SR"]
    assert row["rejection_rate"] <= 0.5 and row["null_rejection_rate"] <= 0.2
    assert row["ci_low"] <= row["truth"] <= row["ci_high"]


def test_the_joint_table_reads_table6(table6):
    joint = chapter.channels_jointly(table6)
    assert joint.shape[0] == 4
    assert joint.loc[("TI", "both channels jointly"), ("Over 20 seeds", "mean")] == \
        f"{table6.attrs['numbers']['(2+4 jointly) Safety: TI (b)']['seed_mean']:.3f}"


# ----------------------------------------------------------------------------------------------
# The identity and the indirect effects
# ----------------------------------------------------------------------------------------------

def test_the_identity_holds_here_and_fails_in_the_paper(book):
    texts = chapter.identity_check(book).attrs["texts"]
    assert texts["book_gap_TI"] == "below 1e-12" and texts["book_gap_IU"] == "below 1e-12"
    assert abs(float(texts["paper_gap_TI"])) > 0.02 and abs(float(texts["paper_gap_IU"])) > 0.02


def test_the_indirect_effects_and_their_bounds(book, indirect):
    texts = indirect.texts
    assert texts["indirect_TI_covers_zero"] == "excludes" and texts["indirect_IU_covers_zero"] == "includes"
    assert texts["indirect_TI_p"] == "at most 0.0020"  # at the floor 2/(B+1): printed as a bound
    numbers = indirect.table.attrs["numbers"]
    ti = numbers["TI, one channel at a time (as the paper)"]
    assert abs(ti["seed_mean"]) < abs(ti["seed_truth"])  # the bias of b carries over
    assert numbers["IU, one channel at a time (as the paper)"]["rejection_rate"] < 0.5
    # the share of the TWFE total is a share of a biased number: the TWFE total misses the truth
    assert float(texts["twfe_total"]) > float(texts["dual_vs_none_truth"]) + 0.1
    assert texts["bootstrap_identity_gap"] == "below 1e-12"


# ----------------------------------------------------------------------------------------------
# Pre-trends, the confounder, the sensitivity analysis, the moderation
# ----------------------------------------------------------------------------------------------

def test_the_mediator_event_studies(book):
    studies = chapter.mediator_event_studies(book, window=(-5, 5), seeds=SEEDS, n_jobs=2)
    assert studies.tests["TI"]["p_value"] > 0.05  # "jointly insignificant"
    assert studies.tests["IU"]["p_value"] < 0.05  # "the leads reject on this panel"
    assert float(studies.texts["pretrend_IU_rejects"].rstrip("%")) <= 10  # "the rejection is chance"
    assert float(studies.texts["largest_lead_IU"]) >= abs(book.truth.mediator_shift_IU())
    assert studies.tests["SR"]["p_value"] > 0.05
    lags = studies.results["TI"].table.loc[0:, "estimate"]
    assert lags.min() > 0  # "TI rises from the dual-pilot year on"


def test_the_planted_confounder_moves_b_not_a_or_the_total(book, drift):
    texts = drift.texts
    assert texts["confounded_covers"] == "does not contain"
    channel = chapter.mechanism.mediation(book.data, "Safety", "Dual_policy", "TI", controls=chapter.CONTROLS)
    assert abs(float(texts["confounded_a"]) - channel.a) < 0.5 * channel.mediator_model.std_error()
    assert abs(float(texts["confounded_total"]) - channel.total) < 0.5 * channel.total_model.std_error()
    assert drift.drift["estimate"].is_monotonic_increasing  # raises deaths: TI looks less protective


def test_the_sensitivity_analysis(book):
    sens = chapter.sensitivity(book, n_boot=499)
    assert sens.curves["TI"].breakdown_rho < 0  # "raised TI and lowered deaths, or the reverse"
    for mediator in ("TI", "IU"):
        curve = sens.curves[mediator]
        low, high = curve.breakdown_interval
        assert low <= curve.breakdown_rho <= high
        b = chapter.realised_path(book, mediator, "b")
        assert curve.indirect_at(sens.realised_rho[mediator]) == pytest.approx(curve.a * b, abs=1e-10)


def test_the_moderation_claims(book):
    moderation = chapter.moderation_evidence(book, bins=3)
    texts, binned = moderation.texts, moderation.binned
    assert float(texts["phi_centred"]) == float(texts["phi_uncentred"])
    # the pilots do not move SR in the simulation
    moved = chapter.did.twfe(book.data, "SR", "Dual_policy", chapter.CONTROLS)
    low, high = moved.conf_int()
    assert low <= 0 <= high
    # "all three" bins contain the line: no reason to doubt the linear form here
    assert texts["bins_with_line"] == "all three"
    assert ((binned["ci_low"] <= binned["linear"]) & (binned["linear"] <= binned["ci_high"])).all()
    # every bin smaller in size than the truth, by about the baseline's shortfall
    shortfall = book.truth.dual_vs_none() - chapter.did.twfe(book.data, "Safety", "Dual_policy",
                                                             chapter.CONTROLS).estimate()
    gaps = (binned["truth"] - binned["estimate"]).to_numpy()
    assert np.all(gaps < 0) and np.all((gaps / shortfall > 0.5) & (gaps / shortfall < 1.5))
    # the histogram is of the treated city-years
    assert len(moderation.treated_moderator) == int(book.data["Dual_policy"].sum())


# ----------------------------------------------------------------------------------------------
# Exercises: each solution's claim
# ----------------------------------------------------------------------------------------------

def test_exercise_channel_off():
    texts = chapter.exercise_channel_off(mediator="TI", n_boot=999)
    assert texts["ex_off_a_same"] == "the same" and texts["ex_off_a"] == texts["ex_off_a_default"]
    assert texts["ex_off_covers_zero"] == "includes" and float(texts["ex_off_truth"]) == 0.0
    low, high = (float(value) for value in texts["ex_off_b_interval"].split(" to "))
    assert low <= 0 <= high


def test_exercise_confounder_controlled(book, drift):
    texts = chapter.exercise_confounder_controlled(drift, book)
    assert abs(float(texts["ex_u_b_with"]) - float(texts["ex_u_b_plain"])) < 0.005
    assert abs(float(texts["ex_u_indirect_with"]) - float(texts["ex_u_indirect_plain"])) < 0.001
    assert abs(float(texts["ex_u_direct_with"]) - float(texts["ex_u_direct_plain"])) < 0.005
    assert abs(float(texts["ex_u_b_without"]) - float(texts["ex_u_b_plain"])) > 0.05
    # back to the unconfounded estimate, not to the realised b
    assert abs(float(texts["ex_u_b_with"]) - float(texts["ex_u_b_truth"])) > 0.01


def test_exercise_no_moderation(table6):
    texts = chapter.exercise_no_moderation(table6)
    assert float(texts["ex_nomod_truth"]) == 0.0
    assert texts["ex_nomod_covers_zero"] == "includes"
    assert abs(float(texts["ex_nomod_rise"])) > float(texts["ex_nomod_beta_se"])  # "the line is not flat"
    assert texts["ex_nomod_seeds"] == "20"


def test_exercise_shares_off():
    texts = chapter.exercise_shares_off(seeds=range(1, 11), n_jobs=2)
    for mediator in ("TI", "IU"):
        joint, alone, truth = (float(texts[f"ex_shares_{mediator}_{kind}"]) for kind in ("joint", "alone", "truth"))
        assert abs(joint - truth) < 0.03 * abs(truth)  # "the joint fit recovers b"
        assert abs(alone - truth) > 3 * abs(joint - truth)  # "one channel at a time it still misses"


def test_exercise_sensitivity_confounded(book, drift):
    texts = chapter.exercise_sensitivity_confounded(drift, book)
    assert float(texts["ex_sens_at_rho"]) == pytest.approx(float(texts["ex_sens_a_b"]), abs=1e-4)
    unconfounded = chapter.mechanism.mediation(book.data, "Safety", "Dual_policy", "TI", controls=chapter.CONTROLS)
    assert abs(float(texts["ex_sens_stepwise"])) < 0.2 * abs(unconfounded.indirect)  # "next to nothing"
    breakdown = chapter.sensitivity(book, n_boot=49).curves["TI"].breakdown_rho
    rho = float(texts["ex_sens_rho"])
    assert rho * breakdown < 0 and 0.5 < abs(rho) / abs(breakdown) < 2  # "about as much, opposite sign"


# ----------------------------------------------------------------------------------------------
# A real panel: no truth, every text still there
# ----------------------------------------------------------------------------------------------

def test_on_a_panel_without_truth_the_tables_and_texts_hold(book, tmp_path, monkeypatch):
    monkeypatch.setenv(CACHE_VARIABLE, str(tmp_path))

    class RealPanel:
        data, cities, truth = book.data, book.cities, None

    table = chapter.table6(RealPanel(), seeds=[1, 2])
    assert (table[("Truth", "realised")].isin(["", chapter.NO_CONTRAST])).all()
    assert "no planted truth" in table.attrs["texts"]["a_TI_truth"]
    moderation = chapter.moderation_evidence(RealPanel())
    assert moderation.truth_line is None and moderation.texts["moderation_caption_truth"] == ""
    sens = chapter.sensitivity(RealPanel(), n_boot=9)
    assert sens.realised_rho == {"TI": None, "IU": None}
