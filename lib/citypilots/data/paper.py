"""The main paper's printed numbers, as data (``data/paper/``; transcription notes in its README).

Li, Han & Xu, "Does one plus one exceed two?": Table 1 (descriptive statistics) and Tables 2-8
in long form, one row per printed number, with the number exactly as printed.
"""

from __future__ import annotations

import pandas as pd

from .._paths import data_dir


def load_descriptives() -> pd.DataFrame:
    """Table 1, indexed by variable: definition, mean, sd, min, max."""
    return pd.read_csv(data_dir() / "paper" / "table1_descriptives.csv").set_index("variable")


def load_estimates() -> pd.DataFrame:
    """Tables 2-8: one row per printed number (table, panel, column, term, estimate, se, stars...)."""
    return pd.read_csv(data_dir() / "paper" / "estimates.csv", dtype={"panel": str}, keep_default_na=False,
                       na_values={"estimate": [""], "se": [""]})


def load_findings() -> list[dict]:
    """The paper's qualitative findings (``findings.yml``): id, section, claim, numbers, note."""
    import yaml

    return yaml.safe_load((data_dir() / "paper" / "findings.yml").read_text(encoding="utf-8"))


def printed(table: int, column: int, term: str, panel: str = "") -> pd.Series:
    """The paper's printed estimate, SE and stars for one cell; KeyError if it printed none.

    ``raw_estimate`` and ``raw_se`` are the cell texts exactly as printed (Unicode minus, stars,
    parentheses); ``estimate``, ``se`` and ``stars`` are their machine-readable values.
    """
    estimates = load_estimates()
    rows = estimates[(estimates["table"] == table) & (estimates["column"] == column)
                     & (estimates["term"] == term) & (estimates["panel"] == panel)]
    if rows.empty:
        raise KeyError(f"the paper prints no {term} in Table {table}{panel} column {column}")
    return rows.iloc[0][["estimate", "se", "stars", "raw_estimate", "raw_se", "column_label", "sample_note"]]
