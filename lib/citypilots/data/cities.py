"""The real table of Chinese prefecture-level cities (division of 31 December 2023).

``data/cities.csv`` holds the 293 prefecture-level cities and 4 municipalities with their
GB/T 2260 code (``adcode``), Chinese and English names, province, the three-belt region
(east/central/west, NBS) and the NBS four-region division, seat coordinates, the
resource-based type of the 2013 national plan (State Council Guofa [2013] No. 45), and the
year a unit became a prefecture-level city where that happened after 2008.
``data/admin_changes.csv`` lists the administrative changes of 2008-2023.
Provenance and gaps: ``data/README.md``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .._paths import data_dir

RESOURCE_TYPES = ("growing", "mature", "declining", "regenerating")
REGIONS = ("east", "central", "west")


def load_cities() -> pd.DataFrame:
    """The city table, one row per city, indexed by nothing (``adcode`` is a column).

    Adds ``resource_based`` (bool) from ``resource_type``.
    """
    cities = pd.read_csv(
        data_dir() / "cities.csv",
        dtype={"adcode": "int64", "city_since": "Int64"},
        keep_default_na=False,
        na_values={"city_since": [""], "lon": [""], "lat": [""]},
    )
    cities["resource_based"] = cities["resource_type"] != ""
    return cities


def load_admin_changes() -> pd.DataFrame:
    """Prefecture-level name and code changes, 2008-2023."""
    return pd.read_csv(data_dir() / "admin_changes.csv", dtype=str, keep_default_na=False)


def cities_present_throughout(first_year: int, cities: pd.DataFrame | None = None) -> pd.DataFrame:
    """Cities that were prefecture-level cities under their present code from ``first_year`` on."""
    cities = load_cities() if cities is None else cities
    since = cities["city_since"].fillna(first_year).astype(int)
    return cities.loc[since <= first_year].reset_index(drop=True)


def great_circle_km(lon1, lat1, lon2, lat2) -> np.ndarray:
    """Great-circle distance in km (haversine, Earth radius 6,371 km); broadcasts."""
    lon1, lat1, lon2, lat2 = (np.radians(np.asarray(v, dtype=float)) for v in (lon1, lat1, lon2, lat2))
    a = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6371.0 * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def distance_matrix_km(cities: pd.DataFrame) -> np.ndarray:
    """Great-circle distances between all pairs of rows of ``cities`` (columns lon, lat)."""
    lon, lat = cities["lon"].to_numpy(float), cities["lat"].to_numpy(float)
    return great_circle_km(lon[:, None], lat[:, None], lon[None, :], lat[None, :])
