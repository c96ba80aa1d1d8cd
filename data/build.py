"""Rebuild the project's data files from the sourced reference data in ``shared/data/pilots``.

    python data/build.py [path/to/shared/data/pilots]

1. Brings the city table, the administrative changes and the resource-based city list into
   ``data/`` (adding ``resource_type`` and ``city_since`` to the city table).
2. Rewrites each program's list into the one calendar schema of ``citypilots.data.pilots`` with
   ``status = sourced``.
3. Completes the Innovative City and Smart City calendars by the rules in
   ``data/pilots/completion.yml`` (``citypilots.data.calendar_completion``), appending imputed rows.

The output is deterministic; ``tests/test_pilots.py`` checks that the committed files equal
what step 3 makes from their own sourced rows.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "lib"))

from citypilots.data.cities import load_cities  # noqa: E402
from citypilots.data.calendar_completion import complete_calendar_files  # noqa: E402
from citypilots.data.pilots import COLUMNS  # noqa: E402
PROGRAMS = ("innovative_city", "smart_city", "low_carbon_city", "broadband_china")


def build_cities(shared: Path) -> pd.DataFrame:
    cities = pd.read_csv(shared / "cities.csv", dtype=str, keep_default_na=False)
    resource = pd.read_csv(shared / "resource_based_cities.csv", dtype=str, keep_default_na=False)
    resource = resource.drop_duplicates("adcode").set_index("adcode")
    cities["resource_type"] = cities["adcode"].map(resource["batch"]).fillna("")
    cities["resource_type_confidence"] = cities["adcode"].map(resource["confidence"]).fillna("")
    changes = pd.read_csv(shared / "admin_changes_2008_2023.csv", dtype=str, keep_default_na=False)
    became_city = changes[changes["change"].isin(
        ["prefecture_to_city", "new_prefecture_city", "upgraded_to_prefecture_city"])]
    since = dict(zip(became_city["new_adcode"], became_city["date_effective"].str[:4]))
    cities["city_since"] = cities["adcode"].map(since).fillna("")
    changes.to_csv(HERE / "admin_changes.csv", index=False)
    resource.reset_index().to_csv(HERE / "resource_based_cities.csv", index=False)
    cities.to_csv(HERE / "cities.csv", index=False)
    return cities


def to_calendar_schema(raw: pd.DataFrame) -> pd.DataFrame:
    calendar = raw.copy()
    for column in ("year_min", "year_max"):
        if column not in calendar:
            calendar[column] = calendar["year"]
    calendar["status"] = "sourced"
    calendar["imputation_rule"] = ""
    return calendar.loc[:, list(COLUMNS)]


def main(shared: Path) -> None:
    build_cities(shared)
    (HERE / "pilots").mkdir(exist_ok=True)
    for program in PROGRAMS:
        raw = pd.read_csv(shared / f"{program}.csv", dtype=str, keep_default_na=False)
        to_calendar_schema(raw).to_csv(HERE / "pilots" / f"{program}.csv", index=False)
    for program, calendar in complete_calendar_files(HERE / "pilots", load_cities()).items():
        calendar.to_csv(HERE / "pilots" / f"{program}.csv", index=False)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE.parent.parent / "shared" / "data" / "pilots")
