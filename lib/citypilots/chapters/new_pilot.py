"""The chapter on extending the book with a new pilot program: the calendar file, its validation,
the program in every place that takes a program name, its effect and its synergy with a pilot.

The worked example is the Broadband China program: its calendar was added to the book as one
file, ``data/pilots/broadband_china.csv``, and the simulated panel plants an effect of it (a
share of deaths, ``effects.other_policies.Broadband_China``) but no interaction with the Smart
City pilot beyond what shares imply (two programs that each prevent a share of deaths prevent,
together, a little less than the sum in deaths: the second acts on what the first left).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .._paths import data_dir
from ..data.panel import CONTROLS
from ..data.pilots import program_on, read_calendar_file
from ..errors import DataError
from ..estimators import did
from ..estimators.synergy import synergy
from ..report.evidence import evidence_table, headline

PROGRAM = "broadband_china"
DUMMY = "Broadband_China"
"""The program of the worked example, and its dummy in the book's panel."""
SEEDS = range(20)


def calendar_schema() -> pd.DataFrame:
    """The columns of a calendar file and their meaning, read from ``data/README.md`` (one
    source for the book and the repository)."""
    text = (data_dir() / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## `pilots/`"):]
    block = section[section.index("| column | meaning |"):]
    rows = []
    for line in block.splitlines()[2:]:
        if not line.startswith("|"):
            break
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        rows.append({"column": cells[0].replace("`", ""), "meaning": cells[1].replace("`", "")})
    return pd.DataFrame(rows).set_index("column")


def validation_example(folder: str | Path) -> str:
    """The errors a reader meets: the worked example's calendar with four typical mistakes (a
    district code in ``adcode``, a year with a letter, an unknown ``status``, a sourced row
    without its source), written to ``folder`` and read back; returns the message."""
    calendar = pd.read_csv(data_dir() / "pilots" / f"{PROGRAM}.csv", dtype=str, keep_default_na=False)
    calendar.loc[0, "adcode"] = "440305"
    calendar.loc[1, "year"] = "2O14"
    calendar.loc[2, "status"] = "guessed"
    calendar.loc[3, "source"] = ""
    path = Path(folder) / "new_program.csv"
    calendar.to_csv(path, index=False)
    try:
        read_calendar_file(path)
    except DataError as error:
        return str(error).replace(str(path), "new_program.csv")
    return "no problem found"


def has_program(book) -> bool:
    """Whether the chapter's panel carries the worked example's dummy (optional in a real panel)."""
    return DUMMY in book.data.columns and book.data[DUMMY].notna().all()


def with_program(book) -> pd.DataFrame:
    """The chapter's panel with the program's adoption year and dummy from its calendar file."""
    return pd.concat([book.data.drop(columns=[c for c in (f"{PROGRAM}_year",) if c in book.data]),
                      program_on(book.data, PROGRAM)[[f"{PROGRAM}_year"]]], axis=1)


def _without_innovation(data: pd.DataFrame) -> np.ndarray:
    return data["innovative_year"].isna().to_numpy()


def pair_truth(truth, data: pd.DataFrame) -> float | None:
    """The realised interaction of the Smart City pilot and the program, on the city-years that
    hold both in cities that never hold the Innovative City pilot: both - program off - Smart City
    off + both off (the four cells are potential outcomes of the simulated panel there)."""
    if truth is None:
        return None
    po = truth.potential_outcomes
    rows = (_without_innovation(data) & (data["Smart_policy"].to_numpy() == 1)
            & (data[DUMMY].to_numpy() == 1))
    cells = (po["Safety_both"] - po[f"Safety_without_{DUMMY}"] - po["Safety_none"]
             + po[f"Safety_none_without_{DUMMY}"])
    return float(cells[rows].mean())


def effect_measure(book) -> dict:
    """The program's own effect: TWFE of Safety on its dummy beside the pilots' dummies and the
    controls (read as the realised effect of the program where it is in force), and the
    interaction of the program with the Smart City pilot from clean comparisons, on the cities
    without the Innovative City pilot (read as the realised interaction there)."""
    data, truth = with_program(book), book.truth
    twfe = did.twfe(data, "Safety", DUMMY, controls=("Innova_policy", "Smart_policy", "Dual_policy", *CONTROLS))
    effect_truth = None if truth is None else truth.other_policy(DUMMY)
    sample = data[_without_innovation(data)].reset_index(drop=True)
    pair = synergy(sample, "Safety", "city", "year", "smart_year", f"{PROGRAM}_year", controls=CONTROLS,
                   scale="relative", n_boot=199, seed=0)
    return {"its own effect (TWFE)": headline(twfe, truth=effect_truth),
            "its synergy with the Smart City pilot (clean comparisons)": headline(pair, truth=pair_truth(truth, data))}


def effect_table(book, seeds=SEEDS, n_jobs: int = 1) -> pd.DataFrame:
    """The program's effect and its synergy with the evidence columns; the effect's null world
    switches the program off (the synergy has no null world of its own: no parameter plants it)."""
    label = "its own effect (TWFE)"
    return evidence_table(effect_measure, book, {label: DUMMY}, seeds=seeds, n_jobs=n_jobs, seed_truth=True)
