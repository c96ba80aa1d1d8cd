"""The policy-context chapter: facts about the calendars and the sample, for the text and figures."""

from __future__ import annotations

import pandas as pd

from ..data.cities import load_cities
from ..data.pilots import adoption_years, load_calendar, program_label, programs

CALENDAR_PROGRAMS = ("innovative_city", "smart_city", "low_carbon_city", "broadband_china")


def calendar_facts() -> dict:
    """Counts the chapter quotes about the two pilot calendars (whole country, not the sample).

    Pilot cities of each program, how many hold both and in which order, how many first years
    are sourced, and how many dual pilots have both years sourced.
    """
    innovation = adoption_years(load_calendar("innovative_city"))
    smart = adoption_years(load_calendar("smart_city"))
    joint = innovation.merge(smart, left_index=True, right_index=True, suffixes=("_innovation", "_smart"))
    return {
        "n_innovation": len(innovation), "n_smart": len(smart), "n_dual": len(joint),
        "n_innovation_first": int((joint["year_innovation"] < joint["year_smart"]).sum()),
        "n_smart_first": int((joint["year_innovation"] > joint["year_smart"]).sum()),
        "n_same_year": int((joint["year_innovation"] == joint["year_smart"]).sum()),
        "n_innovation_sourced": int((~innovation["imputed"]).sum()),
        "n_innovation_imputed": int(innovation["imputed"].sum()),
        "n_smart_sourced": int((~smart["imputed"]).sum()),
        "n_smart_imputed": int(smart["imputed"].sum()),
        "n_dual_both_sourced": int((~joint["imputed_innovation"] & ~joint["imputed_smart"]).sum()),
        "programs_listed": ", ".join(program_label(p) for p in programs()),
        "n_cities": len(load_cities()),
    }


def imputed_years(cities: pd.DataFrame) -> pd.DataFrame | None:
    """Per city of the sample (index: city code), whether each pilot's year is imputed, with the
    panel's dummy names as columns; None when the panel has no such flags (a reader's panel)."""
    flags = {"Innova_policy": "innovation_year_imputed", "Smart_policy": "smart_year_imputed"}
    if not set(flags.values()) <= set(cities.columns):
        return None
    table = cities.set_index("adcode")[list(flags.values())].rename(columns={v: k for k, v in flags.items()})
    return table.astype("boolean").fillna(False).astype(bool)


def sample_facts(book) -> dict:
    """Counts about the chapter's panel: cities, years, dual pilots and how many of them have both
    pilot years sourced (None where the panel carries no imputation flags)."""
    data, cities = book.data, book.cities
    dual = cities[cities["group"] == "dual"]
    flags = imputed_years(cities)
    both_sourced = None
    if flags is not None:
        dual_flags = flags.loc[dual["adcode"]]
        both_sourced = int((~dual_flags["Innova_policy"] & ~dual_flags["Smart_policy"]).sum())
    years = sorted(data["year"].unique())
    return {"n_sample": len(cities), "n_sample_dual": len(dual), "n_years": len(years),
            "first_year": int(years[0]), "last_year": int(years[-1]), "n_city_years": len(data),
            "n_sample_dual_both_sourced": both_sourced}
