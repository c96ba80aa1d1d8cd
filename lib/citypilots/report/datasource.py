"""Which panel the chapters run on: the book's simulation, or the reader's real panel.

Every chapter starts with :func:`chapter_data`. By default it simulates the main paper's panel
(:func:`citypilots.simulation.generator.simulate_panel`, with its planted truth). When the environment
variable ``CITYPILOTS_PANEL`` names a CSV file, it loads that file instead with
:func:`citypilots.data.panel.load_panel` (validated; every problem reported at once), and there is no
truth to compare with. Either way the chapter gets the same shape: the city-year ``data``, one
row per city in ``cities``, ``truth`` (or ``None``) and a sentence, ``source``, saying which data
it ran on, which the chapter prints at its top.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from ..data.cities import load_cities
from ..data.panel import load_panel
from ..simulation.generator import Truth, pilot_group, simulate_panel

PANEL_VARIABLE = "CITYPILOTS_PANEL"


@dataclass
class ChapterData:
    """The panel a chapter runs on.

    ``data``: one row per city-year (``city``, ``year``, ``Safety``, the policy dummies, the
    controls, ...). ``cities``: one row per city of the panel with the city table's attributes,
    ``innovation_year``, ``smart_year`` and ``group`` (dual / single / none). ``truth``: what the
    simulation planted, ``None`` for real data. ``source``: one sentence naming the data. A
    companion study's chapter uses the same shape with its own columns and its own truth.
    """

    data: pd.DataFrame
    cities: pd.DataFrame
    truth: Truth | Any | None
    source: str

    @property
    def is_simulated(self) -> bool:
        return self.truth is not None


def chapter_data(seed: int | None = None, overrides: dict | None = None) -> ChapterData:
    """The simulated panel (default), or the real panel named by ``$CITYPILOTS_PANEL``.

    ``seed`` and ``overrides`` go to :func:`citypilots.simulation.generator.simulate_panel`; with a real panel
    they are an error, since nothing is simulated.
    """
    path = os.environ.get(PANEL_VARIABLE, "").strip()
    if path:
        if seed is not None or overrides:
            raise ValueError(f"{PANEL_VARIABLE} is set ({path}): a real panel takes no seed or overrides")
        return real_chapter_data(path)
    sim = simulate_panel(seed=seed, overrides=overrides)
    spec_note = overrides_note(overrides)
    source = (f"the panel simulated by citypilots from data/simulation/li_han_xu.yml (seed {sim.seed}"
              f"{spec_note}): real cities and pilot calendars, with imputed calendar rows; "
              "simulated covariates and outcomes")
    return ChapterData(data=sim.data, cities=sim.cities, truth=sim.truth, source=source)


def overrides_note(overrides: dict | None) -> str:
    """The words a chapter's data source adds for overridden simulation settings: ``", with
    effects.homogeneous = True"``, or nothing."""
    return "" if not overrides else f", with {', '.join(f'{k} = {v}' for k, v in overrides.items())}"


def real_chapter_data(path: str | Path) -> ChapterData:
    """A real panel from ``path``, validated by :func:`citypilots.data.panel.load_panel`."""
    data = load_panel(path)
    first_years = data.groupby("city")[["innovative_year", "smart_year"]].first()
    first_years = first_years.rename(columns={"innovative_year": "innovation_year"})
    # Every city of the panel is kept; a former code (admin_changes.csv) has no attributes.
    cities = first_years.rename_axis("adcode").reset_index().merge(load_cities(), on="adcode", how="left")
    cities["group"] = pilot_group(cities["innovation_year"], cities["smart_year"])
    source = (f"the real panel in {path} ({len(data):,} city-years, {len(cities)} cities), "
              "loaded with citypilots.data.panel.load_panel; there is no planted truth")
    return ChapterData(data=data, cities=cities.reset_index(drop=True), truth=None, source=source)
