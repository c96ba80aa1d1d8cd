"""The glue helpers every chapter uses: numbers as text, notes where a number or a truth is missing."""

from __future__ import annotations

import math

from citypilots.report.glue import NO_TRUTH, NOT_COMPUTED, covers, number_text, p_text


def test_numbers_and_missing_values_become_text():
    assert number_text(-0.5554) == "-0.555"
    assert number_text(0.1234, "{:.1%}") == "12.3%"
    assert number_text(None) == NOT_COMPUTED and number_text(math.nan) == NOT_COMPUTED
    assert number_text(None, missing=NO_TRUTH) == NO_TRUTH


def test_covers_reads_an_interval():
    assert covers((-1.0, -0.2), -0.5) == "contains"
    assert covers((-1.0, -0.2), 0.0) == "does not contain"
    assert "real data" in covers((-1.0, -0.2), None)


def test_a_resampling_p_value_at_its_floor_is_printed_as_a_bound():
    assert p_text(0.0, draws=999) == "at most 0.0010"
    assert p_text(2 / 1000, draws=999) == "at most 0.0020"
    assert p_text(0.0421, draws=999) == "0.042"
    assert p_text(0.0004) == "below 0.001"
