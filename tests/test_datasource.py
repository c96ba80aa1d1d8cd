"""The chapters' data: the simulation by default, a reader's real panel through $CITYPILOTS_PANEL.

The last test is the promise of the README: a reader with the real panel points the variable
at it and every chapter runs. The "real" panel here is the simulated one written to CSV and
read back through the loader, which is exactly the path a real file takes.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from citypilots.report.datasource import PANEL_VARIABLE, chapter_data
from citypilots.errors import PanelError
from citypilots.data.panel import to_csv
from citypilots.simulation.generator import simulate_panel

from real_panel_run import assert_chapter_runs_on

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "notebooks").glob("*.md"))
# Chapters on the main paper's panel (a companion study reads its own panel variable and has its
# own real-panel test in tests/test_chapter_<study>.py).
MAIN_PANEL_CHAPTERS = [path for path in CHAPTERS if "chapter_data(" in path.read_text(encoding="utf-8")]


@pytest.fixture(scope="module")
def panel_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("real") / "panel.csv"
    to_csv(simulate_panel().data, path)
    return path


def test_by_default_the_chapters_run_on_the_simulation(monkeypatch):
    monkeypatch.delenv(PANEL_VARIABLE, raising=False)
    book = chapter_data()
    assert book.is_simulated and book.truth is not None
    assert "simulated" in book.source and "seed 20080101" in book.source
    assert len(book.data) == 3488 and len(book.cities) == 218


def test_overrides_reach_the_simulation_and_are_named_in_the_source(monkeypatch):
    monkeypatch.delenv(PANEL_VARIABLE, raising=False)
    book = chapter_data(overrides={"effects.homogeneous": True})
    assert book.truth.parameters["effects"]["homogeneous"] is True
    assert "effects.homogeneous = True" in book.source


def test_a_real_panel_replaces_the_simulation_and_has_no_truth(monkeypatch, panel_file):
    monkeypatch.setenv(PANEL_VARIABLE, str(panel_file))
    book = chapter_data()
    assert not book.is_simulated and book.truth is None
    assert str(panel_file) in book.source and "3,488 city-years" in book.source
    simulated = simulate_panel()
    assert book.data["Safety"].equals(simulated.data["Safety"])
    groups = book.cities.set_index("adcode")["group"].sort_index()
    assert groups.equals(simulated.cities.set_index("adcode")["group"].sort_index())


def test_a_real_panel_takes_no_seed(monkeypatch, panel_file):
    monkeypatch.setenv(PANEL_VARIABLE, str(panel_file))
    with pytest.raises(ValueError, match="no seed"):
        chapter_data(seed=1)


def test_a_bad_real_panel_is_reported_with_its_file(monkeypatch, tmp_path, panel_file):
    broken = tmp_path / "broken.csv"
    lines = panel_file.read_text().splitlines()
    header = lines[0].split(",")
    cells = lines[5].split(",")
    cells[header.index("year")] = "20O8"
    lines[5] = ",".join(cells)
    broken.write_text("\n".join(lines) + "\n")
    monkeypatch.setenv(PANEL_VARIABLE, str(broken))
    with pytest.raises(PanelError, match=rf'{broken} row 6 \(column "year"\)'):
        chapter_data()


@pytest.mark.parametrize("chapter", MAIN_PANEL_CHAPTERS, ids=[p.stem for p in MAIN_PANEL_CHAPTERS])
def test_every_chapter_runs_on_a_real_panel(chapter, panel_file, monkeypatch):
    monkeypatch.setenv(PANEL_VARIABLE, str(panel_file))
    assert_chapter_runs_on(chapter, panel_file, timeout=600)
