"""Tables and figures: the right numbers in the right places."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from citypilots.report import bookcache, plots, tables  # noqa: E402
from citypilots.simulation.generator import simulate_panel  # noqa: E402


@pytest.fixture(scope="module")
def sim():
    return simulate_panel()


def test_descriptives_table_sets_the_paper_beside_the_panel(sim):
    table = tables.descriptives_table(sim.data)
    assert table.loc["Safety", ("Paper", "mean")] == 1.397
    assert table.loc["Safety", ("This book", "mean")] == pytest.approx(sim.data["Safety"].mean())
    assert table.loc["UL", ("This book", "max")] == pytest.approx(sim.data["UL"].max())
    with pytest.raises(KeyError, match="TI"):
        tables.descriptives_table(sim.data.drop(columns=["TI"]))


def test_calendar_counts_add_up_to_the_pilot_totals():
    counts = tables.calendar_counts(["innovative_city", "smart_city"])
    totals = counts.groupby(level="program").sum()
    assert totals.loc["Innovative City", "total"] == 97
    assert totals.loc["Smart City", "sourced"] == 2
    assert (counts["sourced"] + counts["imputed"] == counts["total"]).all()


def test_treatment_status_draws_one_row_per_city(sim):
    figure = plots.treatment_status(sim.data)
    image = figure.axes[0].images[0].get_array()
    assert image.shape == (218, 16)
    assert set(pd.unique(image.ravel())) == {0, 1, 2}


def test_pilot_timeline_draws_one_panel_per_program():
    figure = plots.pilot_timeline(["innovative_city", "broadband_china"])
    assert len(figure.axes) == 2
    assert "97 pilot" in figure.axes[0].get_title(loc="left")


def _build_with_state(build):
    for name in bookcache.STALE_WHEN_INPUTS_CHANGE:
        (build / name).mkdir(parents=True, exist_ok=True)


def _state_kept(build):
    return all((build / name).exists() for name in bookcache.STALE_WHEN_INPUTS_CHANGE)


def test_everything_a_build_keeps_is_dropped_when_an_input_changes(tmp_path):
    inputs, build = tmp_path / "lib", tmp_path / "_build"
    inputs.mkdir()
    (inputs / "module.py").write_text("x = 1\n")
    _build_with_state(build)
    assert bookcache.refresh(build, [inputs]) is True      # first run: no stamp yet
    _build_with_state(build)
    assert bookcache.refresh(build, [inputs]) is False and _state_kept(build)
    (inputs / "module.py").write_text("x = 2\n")
    assert bookcache.refresh(build, [inputs]) is True
    assert not any((build / name).exists() for name in bookcache.STALE_WHEN_INPUTS_CHANGE)


def test_everything_a_build_keeps_is_dropped_when_the_reader_switches_to_a_real_panel(tmp_path, monkeypatch):
    inputs, build = tmp_path / "lib", tmp_path / "_build"
    inputs.mkdir()
    (inputs / "module.py").write_text("x = 1\n")
    panel = tmp_path / "panel.csv"
    panel.write_text("city,year\n")
    monkeypatch.delenv("CITYPILOTS_PANEL", raising=False)
    bookcache.refresh(build, bookcache.chapter_inputs([inputs]))
    _build_with_state(build)
    monkeypatch.setenv("CITYPILOTS_PANEL", str(panel))
    assert bookcache.refresh(build, bookcache.chapter_inputs([inputs])) is True and not (build / ".doctrees").exists()
    _build_with_state(build)
    panel.write_text("city,year\n110000,2008\n")
    assert bookcache.refresh(build, bookcache.chapter_inputs([inputs])) is True and not (build / ".doctrees").exists()


def test_stars_follow_the_papers_rule():
    assert [tables.stars(p) for p in (0.005, 0.03, 0.07, 0.2, float("nan"))] == ["***", "**", "*", "", ""]


def test_paper_book_truth_shows_the_printed_cell_and_the_book_estimate():
    from citypilots.data.paper import printed

    table = tables.paper_book_truth([
        {"label": "(2)", "paper": printed(2, 2, "Dual_policy"), "book": (-0.5543, 0.0812, 0.0001, 3488), "truth": -0.754},
        {"label": "(x)", "paper": None, "book": (0.1, 0.2, 0.6, 100), "truth": None},
    ])
    assert table.loc["(2)", ("Paper", "estimate")] == "−0.555***"  # exactly as printed
    assert table.loc["(2)", ("Paper", "s.e.")] == "(0.075)"
    assert table.loc["(2)", ("This book", "estimate")] == "-0.554***"
    assert table.loc["(2)", ("This book", "N")] == "3,488"
    assert table.loc["(2)", ("Truth", "planted")] == "-0.754"
    assert table.loc["(x)", ("Paper", "estimate")] == "" and table.loc["(x)", ("Truth", "planted")] == ""


def test_event_study_plot_marks_zero_reference_and_truth():
    from citypilots.estimators.did import DidResult

    event_table = pd.DataFrame({"estimate": [0.1, 0.0, -0.5], "std_error": [0.1, float("nan"), 0.1],
                                "ci_low": [-0.1, float("nan"), -0.7], "ci_high": [0.3, float("nan"), -0.3],
                                "p_value": [0.3, float("nan"), 0.001]}, index=[-2, -1, 0])
    result = DidResult("TWFE", event_table, 100, 10, "clustered")
    figure = plots.event_study_plot({"TWFE": result}, truth=pd.Series([0.0, 0.0, -0.5], index=[-2, -1, 0]))
    ax = figure.axes[0]
    assert any(line.get_xdata()[0] == -1 and line.get_linestyle() == "--" for line in ax.lines)
    assert any(list(line.get_ydata()) == [0, 0] for line in ax.lines)  # the zero line
    assert "realised truth" in " ".join(t.get_text() for t in ax.get_legend().get_texts())
    assert [tick.get_text() for tick in ax.get_xticklabels()] == ["-2", "-1", "0"]  # integer ticks


def test_estimates_against_truths_sets_every_estimator_beside_every_truth():
    from citypilots.estimators.did import DidResult

    table_a = pd.DataFrame({"estimate": [-0.5], "std_error": [0.1], "ci_low": [-0.7], "ci_high": [-0.3],
                            "p_value": [0.0]}, index=["Dual_policy"])
    result = DidResult("TWFE", table_a, 100, 10, "clustered", main_term="Dual_policy")
    table = tables.estimates_against_truths({"TWFE": result}, {"dual vs none": -0.75, "second pilot": -0.6})
    assert table.loc["TWFE", ("This book", "estimate")] == -0.5
    assert table.loc["TWFE", ("This book", "95% interval")] == "[-0.700, -0.300]"
    assert table.loc["TWFE", ("Truth", "second pilot")] == -0.6
