"""Every exercise of the book has a folded solution and a test of its claim; the instructors'
page lists them all."""

from __future__ import annotations

import re
from pathlib import Path

from citypilots.report.exercises import exercise_table

ROOT = Path(__file__).resolve().parents[1]


def test_every_exercise_has_a_solution_and_its_chapter_a_test_per_exercise():
    table = exercise_table(ROOT / "notebooks")
    assert len(table) >= 20 and table["has solution"].all(), table[~table["has solution"]]
    assert table["label"].is_unique
    for chapter, exercises in table.groupby("chapter"):
        tests = (ROOT / "tests" / f"test_chapter_{chapter}.py").read_text(encoding="utf-8")
        checked = len(re.findall(r"^def test_exercise_", tests, flags=re.M))
        assert checked >= len(exercises), f"{chapter}: {len(exercises)} exercises, {checked} exercise tests"


def test_the_table_reads_the_parameters_a_task_names(tmp_path):
    (tmp_path / "demo.md").write_text(
        "```{exercise}\n:label: ex-demo\n\nSet the delay to zero (`overrides={\"effects.dual.delay\": 0}`) "
        "and rerun with `seed=3`. Then compare.\n```\n\n```{solution} ex-demo\n:class: dropdown\n\nIt moves.\n```\n")
    row = exercise_table(tmp_path).iloc[0]
    assert (row["chapter"], row["label"], row["has solution"]) == ("demo", "ex-demo", True)
    assert row["changes"] == "effects.dual.delay, seed"
    assert row["task"].startswith("Set the delay to zero") and row["task"].endswith("`seed=3`.")
