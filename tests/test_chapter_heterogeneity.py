"""The heterogeneity chapter (citypilots.chapters.heterogeneity): its tables, and every claim its
prose and its exercises' solutions make, checked on the book's panel.

Each claim the chapter states in words (a direction, an ordering, "does not reject") is rerun
here with the same functions the chapter calls; the numbers themselves are glued, so they cannot
drift from the text, but the words can, and that is what these tests guard.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from citypilots.chapters import heterogeneity as chapter
from citypilots.data.panel import CONTROLS, to_csv
from citypilots.estimators import heterogeneity
from citypilots.report.datasource import chapter_data, real_chapter_data
from citypilots.simulation.generator import simulate_panel
from citypilots.simulation.specification import no_heterogeneity, null_world

SEEDS = range(20)  # the chapter's seeds (the Monte Carlo runs are cached on disk)


@pytest.fixture(scope="module")
def book():
    return chapter_data()


@pytest.fixture(scope="module")
def tables(book):
    table8 = chapter.table8(book, seeds=SEEDS, n_jobs=2)
    differences = chapter.table8_differences(book, seeds=SEEDS, n_jobs=2)
    robust = chapter.robust_table(book, seeds=SEEDS, n_jobs=2)
    return table8, differences, robust


@pytest.fixture(scope="module")
def real_book(tmp_path_factory):
    path = tmp_path_factory.mktemp("real") / "panel.csv"
    to_csv(simulate_panel().data, path)
    return real_chapter_data(path)


# ----------------------------------------------------------------------------------------------
# The measures compute what their labels say
# ----------------------------------------------------------------------------------------------

def test_table8_rows_are_the_split_sample_regressions_and_their_realised_truths(book):
    measure = chapter.table8_measure(book)
    splits = chapter.city_splits(book)
    dual = (book.data["Dual_policy"] == 1).to_numpy()
    for name, split in chapter.SPLITS.items():
        separate = heterogeneity.split_twfe(book.data, "Safety", "Dual_policy", splits.usable[name], CONTROLS)
        for group in split.groups:
            row = measure[chapter.group_label(name, group)]
            assert row["estimate"] == pytest.approx(separate.table.loc[group, "estimate"], abs=1e-10)
            in_group = book.data["city"].map(splits.usable[name]).eq(group).to_numpy()
            po = book.truth.potential_outcomes
            rows = in_group & dual
            expected = float((po["Safety_both"] - po["Safety_none"]).to_numpy()[rows].mean())
            assert row["truth"] == pytest.approx(expected, abs=1e-12)
        for a, b in split.pairs:
            difference = measure[chapter.difference_label(name, a, b)]
            assert difference["estimate"] == pytest.approx(
                measure[chapter.group_label(name, a)]["estimate"] - measure[chapter.group_label(name, b)]["estimate"])
            assert difference["truth"] == pytest.approx(
                measure[chapter.group_label(name, a)]["truth"] - measure[chapter.group_label(name, b)]["truth"])


def test_holm_rows_adjust_over_every_test_of_the_panel(book):
    measure = chapter.table8_measure(book)
    tests = [label for label in measure if not label.startswith("(") and not label.endswith(chapter.HOLM)]
    assert len(tests) == 6  # five pairs and the equality of the regions
    raw = np.array([measure[label]["p_value"] for label in tests])
    order = np.argsort(raw)
    m = len(raw)
    manual = np.empty(m)
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (m - rank) * raw[index]))
        manual[index] = running
    got = np.array([measure[label + chapter.HOLM]["p_value"] for label in tests])
    np.testing.assert_allclose(got, manual, atol=1e-12)


def test_robust_rows_target_the_change_since_the_year_before(book):
    measure = chapter.robust_measure(book)
    splits = chapter.city_splits(book)
    region = splits.usable["City region"]
    rows = book.data["city"].map(region).eq("west").to_numpy() & (book.data["Dual_policy"] == 1).to_numpy()
    assert measure["CS: City region: west"]["truth"] == pytest.approx(
        book.truth.change_since("dual_vs_none", reference=-1, rows=rows))
    # the CS row is diff-diff's Callaway-Sant'Anna on the group's dual and never-pilot cities
    sample = chapter._dual_or_never(book)
    sample = sample[sample["city"].map(region).eq("west").to_numpy()]
    direct = chapter.callaway_santanna(sample.reset_index(drop=True))
    assert measure["CS: City region: west"]["estimate"] == pytest.approx(direct.estimate(), abs=1e-12)


def test_the_evidence_keeps_the_null_worlds_realised_truth(book, tables):
    _, differences, _ = tables
    numbers = differences.attrs["numbers"]["City size: large - small and medium"]
    nulled = simulate_panel(overrides=no_heterogeneity("large_city"))
    measure = chapter.table8_measure(nulled)["City size: large - small and medium"]
    assert numbers["equal_truth"] == pytest.approx(measure["truth"], abs=1e-12)
    assert numbers["equal_estimate"] == pytest.approx(measure["estimate"], abs=1e-12)


def test_no_heterogeneity_makes_one_traits_multipliers_equal():
    assert no_heterogeneity("region") == {"effects.dual.region": {"east": 1.0, "central": 1.0, "west": 1.0}}
    assert null_world("no_heterogeneity_resource_based") == {"effects.dual.resource_based": {True: 1.0, False: 1.0}}
    sim = simulate_panel(overrides=no_heterogeneity("region"))
    assert sim.truth.parameters["effects"]["dual"]["region"] == {"east": 1.0, "central": 1.0, "west": 1.0}
    assert sim.truth.parameters["effects"]["dual"]["resource_based"] == {True: 0.55, False: 1.15}
    with pytest.raises(KeyError, match="no synergy multiplier"):
        no_heterogeneity("province")


# ----------------------------------------------------------------------------------------------
# The prose: Table 8 and its tests
# ----------------------------------------------------------------------------------------------

def test_each_groups_twfe_is_smaller_in_size_than_its_realised_effect(tables):
    table8, _, _ = tables
    for label, n in table8.attrs["numbers"].items():
        assert abs(n["estimate"]) < abs(n["truth"]), label
        assert abs(n["null_estimate"]) < 0.2, label  # "small" without any own-pilot effect


def test_without_own_pilot_effects_the_lean_below_zero_comes_from_the_other_policies(book):
    """The chapter: without own-pilot effects the coefficients lean below zero because the other
    policies stay on; switching them off as well brings their mean over seeds to about zero."""
    from citypilots.simulation.specification import load_spec

    nulled = null_world("dual_vs_none")
    policies = {f"effects.other_policies.{p}": 0.0 for p in load_spec()["other_policies"]}

    def mean_group_estimate(overrides):
        values = []
        for seed in range(1, 9):
            measure = chapter.table8_measure(simulate_panel(seed=seed, overrides=overrides))
            values += [v["estimate"] for k, v in measure.items() if k.startswith("(")]
        return float(np.mean(values))

    with_policies, without = mean_group_estimate(nulled), mean_group_estimate({**nulled, **policies})
    assert with_policies < -0.05
    assert abs(without) < 0.03


def test_the_papers_tests_and_what_survives_holm(tables):
    tests = chapter.paper_tests()
    raw = {label: t["p_value"] < 0.05 for label, t in tests.items()}
    adjusted = {label: t["p_holm"] < 0.05 for label, t in tests.items()}
    assert raw == {"City type: resource-based - non-resource-based": True,
                   "City size: large - small and medium": False,
                   "City region: central - east": False, "City region: west - east": True,
                   "City region: west - central": True, "City region: all groups equal": True}
    # "what survives is that the west differs"
    assert {label for label, rejected in adjusted.items() if rejected} == {
        "City region: west - east", "City region: west - central", "City region: all groups equal"}
    table8, differences, _ = tables
    texts = chapter.table8_texts(table8, differences)
    assert texts["paper_rejections"] == "4" and texts["paper_rejections_holm"] == "3"


def test_equal_multipliers_still_leave_a_size_difference_in_deaths(tables):
    _, differences, _ = tables
    size = differences.attrs["numbers"]["City size: large - small and medium"]
    # "large cities' effect of both pilots still exceeds the small and medium cities'"
    assert size["equal_seed_truth"] < -0.1
    assert size["equal_rejection_rate"] > size["null_rejection_rate"]


# ----------------------------------------------------------------------------------------------
# The prose: Callaway-Sant'Anna
# ----------------------------------------------------------------------------------------------

def test_callaway_santanna_tests_overreject_without_effects_and_covariates_are_less_reliable(tables):
    _, _, robust = tables
    numbers = robust.attrs["numbers"]

    def of(estimator, kind):
        return [n for label, n in numbers.items()
                if label.startswith(f"{estimator}: ") and ((" - " in label) == (kind == "difference"))]

    # "well above 5%"
    assert max(n["null_rejection_rate"] for n in of("CS", "difference")) >= 0.15
    # "here the version without covariates is the more reliable of the two"
    cs_sd = [n["seed_sd"] for n in of("CS", "group")]
    dr_sd = [n["seed_sd"] for n in of("CS with covariates", "group")]
    assert max(dr_sd) > max(cs_sd) and np.mean(dr_sd) > np.mean(cs_sd)
    assert (max(n["null_rejection_rate"] for n in of("CS with covariates", "difference"))
            >= max(n["null_rejection_rate"] for n in of("CS", "difference")))
    texts = chapter.robust_texts(chapter_data(), robust)
    assert int(texts["cohort_cells_small"]) > int(texts["cohort_cells"]) / 2  # most cohorts are tiny
    assert texts["dr_groups_warned"] == texts["dr_groups"]


# ----------------------------------------------------------------------------------------------
# The prose: what was planted, and what was realised
# ----------------------------------------------------------------------------------------------

def test_realised_synergy_per_death_ranks_like_the_multipliers_but_deaths_reorder_size(book):
    table = chapter.composition(book)
    per_death = table["realised synergy per death without pilots"]
    mean = table["mean combined multiplier (specification)"]
    for name in chapter.SPLITS:
        assert list((-per_death.loc[name]).sort_values().index) == list(mean.loc[name].sort_values().index), name
    large, small = table.loc[("City size", "large")], table.loc[("City size", "small and medium")]
    # per death smaller in large cities, in deaths larger: large cities have more deaths
    assert abs(large["realised synergy per death without pilots"]) < abs(small["realised synergy per death without pilots"])
    assert large["deaths without pilots"] > small["deaths without pilots"]
    assert abs(large["realised synergy"]) > abs(small["realised synergy"])
    assert abs(large["realised effect, both vs none"]) > abs(small["realised effect, both vs none"])
    # the west's realised effect is close to the east's, with more deaths to avoid
    west, east = table.loc[("City region", "west")], table.loc[("City region", "east")]
    assert abs(west["realised effect, both vs none"] - east["realised effect, both vs none"]) < 0.05
    assert west["deaths without pilots"] > east["deaths without pilots"]
    # the mediated part is the same in every group ("no multiplier scales")
    mediated = table["of which through TI and IU"]
    assert mediated.max() - mediated.min() < 0.005
    texts = chapter.composition_texts(book)
    assert texts["ranked_alike"].startswith("ranks the groups")


def test_the_floor_and_guard_rarely_bind(book):
    assert book.truth.bound_share() < 0.01


# ----------------------------------------------------------------------------------------------
# The exercises' solutions
# ----------------------------------------------------------------------------------------------

def test_exercise_equal_regions(tables):
    result = chapter.equal_regions()
    book_world, equal = result["book"], result["equal"]
    # the realised west-minus-east difference does not shrink: it grows in size
    assert abs(equal["west_east_truth"]) > abs(book_world["west_east_truth"])
    assert abs(equal["west_east"]) > abs(book_world["west_east"])
    # because western dual-pilot cities would have had more deaths without pilots
    assert book_world["west_deaths"] > book_world["east_deaths"]
    # the test of equal regions rejects in neither world
    assert book_world["equal_p"] > 0.05 and equal["equal_p"] > 0.05
    # over the seeds the equal-multiplier world's realised difference is smaller in size
    _, differences, _ = tables
    seeds_average = differences.attrs["numbers"]["City region: west - east"]["equal_seed_truth"]
    assert abs(seeds_average) < abs(equal["west_east_truth"])


def test_exercise_all_traits(book):
    result = chapter.all_traits_interaction(book)
    assert "Dual_x_resource_based" in result["result"].table.index
    assert abs(result["interaction"] - result["split_difference"]) > 0.05


def test_exercise_log_scale(book):
    table = chapter.log_scale_table(book)
    large, small = table.loc[("City size", "large")], table.loc[("City size", "small and medium")]
    # in deaths large cities show the larger coefficient; on the log scale the order turns
    assert large["TWFE, deaths"] < small["TWFE, deaths"]
    assert large["TWFE, log deaths"] > small["TWFE, log deaths"]
    # realised proportional effects rank like the mean combined multipliers in every split
    for name in chapter.SPLITS:
        assert (list((-table.loc[name, "realised, log deaths"]).sort_values().index)
                == list(table.loc[name, "mean combined multiplier"].sort_values().index)), name
    assert chapter.exercise_texts(book)["ex_log_ranked"] == "rank"


# ----------------------------------------------------------------------------------------------
# A real panel: no truth, the size split from urban_population
# ----------------------------------------------------------------------------------------------

def test_on_a_real_panel_size_comes_from_urban_population_and_truths_are_absent(real_book, book):
    splits = chapter.city_splits(real_book)
    assert "urban_population" in splits.size_note
    simulated = chapter.city_splits(book).groups["City size"]
    assert splits.groups["City size"].sort_index().equals(simulated.sort_index())
    measure = chapter.table8_measure(real_book)
    assert all(math.isnan(values["truth"]) for values in measure.values())
    assert chapter.composition(real_book) is None
    assert all(text == chapter.NO_TRUTH for text in chapter.composition_texts(real_book).values())
    assert "Simulated" not in chapter.figure_texts(real_book)["figure_data"]
    assert chapter.exercise_texts(real_book)["ex_log_ranked"] == chapter.NO_TRUTH


def test_without_urban_population_the_size_split_is_skipped(real_book):
    class Panel:
        data = real_book.data.drop(columns="urban_population")
        cities, truth = real_book.cities, None

    splits = chapter.city_splits(Panel())
    assert splits.groups["City size"] is None and "City size" not in splits.usable
    assert splits.size_note.startswith("skipped")
    assert not any(label.startswith("(3)") for label in chapter.table8_measure(Panel()))


def test_the_figure_draws_each_truth_on_its_estimators_lines(tables):
    import matplotlib.pyplot as plt

    table8, _, robust = tables
    figure = chapter.coefficient_figure(table8, robust)
    axis = figure.axes[0]
    labels = axis.get_legend_handles_labels()[1]
    assert labels.count(chapter.FIGURE_LABELS["cs_truth"]) == 1  # one legend entry ...
    offsets = {}
    for collection in axis.collections:
        label = collection.get_label()
        offsets.setdefault(label, []).append(collection.get_offsets())
    # ... but drawn on both Callaway-Sant'Anna lines (one unlabelled copy)
    truths = robust.attrs["numbers"]
    cs_points = sum(len(o) for o in offsets[chapter.FIGURE_LABELS["cs_truth"]])
    copies = [a for label, arrays in offsets.items() if label.startswith("_child") for a in arrays]
    assert cs_points == sum(1 for k in truths if k.startswith("CS: ") and " - " not in k)
    assert len(copies) == 1 and len(copies[0]) == cs_points
    plt.close(figure)
