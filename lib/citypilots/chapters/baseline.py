"""The baseline chapter's tables: the paper's Table 2 rebuilt with the evidence behind each column.

Each function takes the chapter's panel (``book``: anything with ``.data``, ``.cities`` and
``.truth``, which is None on a reader's real panel) and returns what the chapter shows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..data.panel import CONTROLS
from ..data.paper import printed
from ..data.samples import keep_groups, pilot_groups
from ..estimators import did
from ..report.evidence import evidence_table, headline, with_paper

TABLE2_COLUMNS = {
    # label: (paper column, term, sample of groups or None for all cities, controls?, estimand)
    "(1) Dual_policy, no controls": (1, "Dual_policy", None, False, "dual_vs_none"),
    "(2) Dual_policy, controls": (2, "Dual_policy", None, True, "dual_vs_none"),
    "(3) Innovative City single pilot": (3, "Innova_policy", ("innovation only", "smart only", "none"), True,
                                         "innovation_single"),
    "(4) Smart City single pilot": (4, "Smart_policy", ("innovation only", "smart only", "none"), True,
                                    "smart_single"),
    "(5) dual vs non-pilot": (5, "Dual_policy", ("dual", "none"), True, "dual_vs_none"),
    "(6) dual vs single-pilot": (6, "Dual_policy", ("dual", "innovation only", "smart only"), True,
                                 "second_given_first"),
}
"""The paper's six columns. Their sample sizes say which cities each keeps (transcription notes,
item 9): all 218; the 181 that are not dual pilots (each single-pilot column keeps the other
program's single pilots among its controls); dual and non-pilot; dual and single-pilot."""


def city_groups(book) -> pd.Series:
    """Each city's pilot group (dual, innovation only, smart only, none), indexed by city code."""
    cities = book.cities.set_index("adcode")
    return pilot_groups(cities["innovation_year"], cities["smart_year"])


def table2_measure(book) -> dict:
    """Every column of Table 2 on one panel, with the realised truth it is read as.

    Columns 1, 2 and 5 are read as both pilots against none and column 6 as the second pilot
    given the first, over the dual-pilot city-years; columns 3 and 4 as the single pilot alone,
    over the pilot years of cities that only ever hold that pilot.
    """
    data, truth = book.data, book.truth
    groups = city_groups(book)
    group_of_row = data["city"].map(groups).to_numpy()
    out = {}
    for label, (_, term, sample_groups, with_controls, estimand) in TABLE2_COLUMNS.items():
        sample = data if sample_groups is None else keep_groups(data, groups, sample_groups)
        result = did.twfe(sample, "Safety", term, controls=CONTROLS if with_controls else ())
        rows = data[term].to_numpy() == 1
        if estimand == "innovation_single":
            rows &= group_of_row == "innovation only"
        elif estimand == "smart_single":
            rows &= group_of_row == "smart only"
        out[label] = headline(result, truth=None if truth is None else truth.estimand(estimand, rows))
    return out


def table2(book, seeds=range(20), n_jobs: int = 1) -> pd.DataFrame:
    """Table 2: the paper's column beside this book's, the realised truth, the null world (the
    column's own effect switched off) and the spread over ``seeds``."""
    null_worlds = {label: estimand for label, (*_, estimand) in TABLE2_COLUMNS.items()}
    table = evidence_table(table2_measure, book, null_worlds, seeds=seeds, n_jobs=n_jobs)
    paper = {label: printed(2, column, term) for label, (column, term, *_) in TABLE2_COLUMNS.items()}
    return with_paper(table, paper)
