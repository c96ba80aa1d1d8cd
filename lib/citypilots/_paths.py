"""Where the project's data live.

The data folder is ``data/`` at the top of the repository (the package is installed in
editable mode from ``lib/``). Set the environment variable ``CITYPILOTS_DATA`` to use
another folder with the same layout.
"""

from __future__ import annotations

import os
from pathlib import Path


def data_dir() -> Path:
    """The folder holding ``cities.csv``, ``pilots/``, ``paper/`` and ``simulation/``."""
    override = os.environ.get("CITYPILOTS_DATA")
    folder = Path(override) if override else Path(__file__).resolve().parents[2] / "data"
    if not (folder / "cities.csv").is_file():
        raise FileNotFoundError(
            f"no cities.csv in {folder}: set CITYPILOTS_DATA to the project's data/ folder"
        )
    return folder
