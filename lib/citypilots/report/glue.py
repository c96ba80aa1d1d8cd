"""Numbers into the book's text: every number a sentence quotes is glued from a computation.

One set of helpers for every chapter (myst-nb's ``glue`` with ``display=False``, as text, so a
sentence reads the same on the simulated panel and on a reader's real one): a number that
cannot be computed on the panel, or a truth that a real panel does not have, becomes a short
note instead of a missing key.
"""

from __future__ import annotations

import math
from numbers import Number

NO_TRUTH = "(no planted truth: real data)"
NOT_COMPUTED = "(not computed on this panel)"


def _is_missing(value) -> bool:
    return value is None or (isinstance(value, Number) and math.isnan(float(value)))


def glue_text(key: str, text: str) -> None:
    """Glue ``text`` under ``key`` (not displayed where the cell runs)."""
    from myst_nb import glue

    glue(key, str(text), display=False)


def number_text(value, fmt: str = "{:.3f}", missing: str = NOT_COMPUTED) -> str:
    """``value`` formatted with ``fmt``; ``missing`` for None or NaN."""
    return missing if _is_missing(value) else fmt.format(value)


def glue_number(key: str, value, fmt: str = "{:.3f}") -> None:
    """Glue a number as text; None or NaN (not computable on this panel) becomes a short note."""
    glue_text(key, number_text(value, fmt))


def glue_truth(key: str, value, fmt: str = "{:.3f}") -> None:
    """Glue a realised truth as text; on a real panel there is none (None), and the text says so."""
    glue_text(key, number_text(value, fmt, NO_TRUTH))


def covers(interval: tuple[float, float], value) -> str:
    """'contains' or 'does not contain' ``value`` (or a note when there is no truth to compare)."""
    if _is_missing(value):
        return "(no planted value to compare: real data)"
    low, high = interval
    return "contains" if low <= value <= high else "does not contain"


def p_text(p_value: float, draws: int | None = None) -> str:
    """A p-value as text. A permutation or bootstrap p-value cannot fall below its floor,
    1/(draws + 1) for one-sided counts (2/(draws + 1) two-sided): at the floor it is printed as a
    bound, "at most <floor>", since more draws could only lower it."""
    if draws is not None:
        floor = 1 / (draws + 1)
        if p_value <= 2 * floor + 1e-12:
            return f"at most {max(p_value, floor):.4f}"
    return "below 0.001" if p_value < 0.001 else f"{p_value:.3f}"
