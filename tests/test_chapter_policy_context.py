"""The policy-context chapter: its facts, and the claims of its exercise solutions."""

from __future__ import annotations

import numpy as np
import pandas as pd

from citypilots.chapters import policy_context
from citypilots.report import tables
from citypilots.report.datasource import chapter_data


def test_calendar_facts_are_the_counts_of_the_calendars():
    facts = policy_context.calendar_facts()
    assert (facts["n_innovation"], facts["n_smart"], facts["n_dual"]) == (97, 104, 37)
    assert facts["n_innovation_first"] + facts["n_smart_first"] + facts["n_same_year"] == facts["n_dual"]
    assert facts["n_smart_sourced"] + facts["n_smart_imputed"] == facts["n_smart"]


def test_exercise_imputed_no_dual_city_of_the_sample_has_both_years_sourced():
    """The solution: every dual-pilot city owes at least one of its two years to the rule."""
    book = chapter_data()
    dual = book.cities[book.cities["group"] == "dual"]
    both_sourced = (~dual["innovation_year_imputed"].astype(bool)) & (~dual["smart_year_imputed"].astype(bool))
    assert both_sourced.sum() == policy_context.sample_facts(book)["n_sample_dual_both_sourced"] == 0
    assert (dual["innovation_year_imputed"].astype(bool) | dual["smart_year_imputed"].astype(bool)).all()


def test_exercise_seed_moves_every_simulated_statistic_and_no_count():
    """The solution: another seed moves the simulated statistics, not the calendar or sample."""
    default, other = chapter_data(), chapter_data(seed=1)
    table_default, table_other = (tables.descriptives_table(b.data) for b in (default, other))
    simulated = table_default.index.drop("Dual_policy")
    book_default, book_other = table_default["This book"], table_other["This book"]
    assert (book_default.loc[simulated, "mean"] != book_other.loc[simulated, "mean"]).all()
    assert book_default.loc["Dual_policy"].equals(book_other.loc["Dual_policy"])
    assert default.cities["adcode"].equals(other.cities["adcode"])


def test_imputed_flags_follow_the_sample_and_vanish_on_a_real_panel():
    book = chapter_data()
    flags = policy_context.imputed_years(book.cities)
    assert list(flags.columns) == ["Innova_policy", "Smart_policy"] and flags.dtypes.eq(bool).all()
    assert policy_context.imputed_years(book.cities.drop(columns=["innovation_year_imputed"])) is None


def test_treatment_status_marks_the_city_years_resting_on_an_imputed_year():
    from citypilots.report import plots

    book = chapter_data()
    flags = policy_context.imputed_years(book.cities)
    figure = plots.treatment_status(book.data, imputed=flags)
    dots = figure.axes[0].collections[0].get_offsets()
    rests = ((book.data["Innova_policy"] == 1) & book.data["city"].map(flags["Innova_policy"])) | (
        (book.data["Smart_policy"] == 1) & book.data["city"].map(flags["Smart_policy"]))
    assert len(dots) == int(rests.sum()) > 0
    import matplotlib.pyplot as plt
    plt.close(figure)
