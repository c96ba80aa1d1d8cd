"""The synergy of two staggered treatments (citypilots.estimators.synergy).

1. exactness: on a small panel every cell equals a brute-force 2x2 computation written from the
   module docstring, for both scales; B's own effect equals diff-diff's Callaway-Sant'Anna
   ATT(g, t) with not-yet-treated controls on the units that never adopt A;
2. recovery: over 20 simulated panels the estimate is centred on the realised synergy and, in
   the synergy's null world, on zero;
3. bad input gets a clear error; 0 (outside the window) means never, as in R's did.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from citypilots.data.panel import CONTROLS
from citypilots.estimators.estimates import DidArgumentError
from citypilots.estimators.synergy import synergy
from citypilots.simulation.generator import simulate_panel
from citypilots.simulation.specification import null_world

YEARS = list(range(2001, 2009))
# unit types: (first_a, first_b, how many)
DESIGN = [(np.nan, np.nan, 5), (np.nan, 2004, 3), (np.nan, 2006, 3), (2003, np.nan, 3), (2005, np.nan, 2),
          (2003, 2006, 3), (2003, 2004, 2), (2004, 2005, 2), (2005, 2005, 3), (np.nan, 2005, 2), (2004, np.nan, 2)]


def small_panel(seed: int = 0) -> pd.DataFrame:
    """A balanced panel with every kind of unit: never, single A or B, A first, B first, both at once."""
    rng = np.random.default_rng(seed)
    rows, unit = [], 0
    for first_a, first_b, count in DESIGN:
        for _ in range(count):
            unit += 1
            level = rng.uniform(1, 5)
            for year in YEARS:
                has_a = not np.isnan(first_a) and year >= first_a
                has_b = not np.isnan(first_b) and year >= first_b
                y = level + 0.1 * (year - 2000) + rng.normal(0, 0.3) + level * (-0.2 * has_a - 0.1 * has_b
                                                                                 - 0.15 * (has_a and has_b))
                rows.append({"unit": unit, "year": year, "y": y, "a": first_a, "b": first_b})
    return pd.DataFrame(rows)


def brute_force(frame: pd.DataFrame, scale: str) -> pd.Series:
    """Each cell's synergy by explicit group means (not-yet-treated controls), keyed like ``cells``."""
    wide = frame.pivot(index="unit", columns="year", values="y")
    first = frame.groupby("unit")[["a", "b"]].first().fillna(np.inf)
    a, b = first["a"], first["b"]

    def change(members, t, base):
        return (wide.loc[members, t] - wide.loc[members, base]).mean()

    def level(members, t):
        return wide.loc[members, t].mean()

    def alone(own, other, cohort, t):
        treated = own.index[(own == cohort) & (other > t)]
        control = own.index[(own > t) & (other > t)]
        tau = change(treated, t, cohort - 1) - change(control, t, cohort - 1)
        return tau, tau / (level(treated, t) - tau), len(treated), len(control)

    out = {}
    dual = np.isfinite(a) & np.isfinite(b)
    for unit_a, unit_b in sorted(set(zip(a[dual], b[dual]))):
        g = max(unit_a, unit_b)
        members = a.index[(a == unit_a) & (b == unit_b)]
        for t in [year for year in YEARS if year >= g]:
            if unit_a == unit_b:
                control = a.index[(a > t) & (b > t)]
                tau_dual = change(members, t, g - 1) - change(control, t, g - 1)
                tau_a, rho_a, *_ = alone(a, b, g, t)
                tau_b, rho_b, *_ = alone(b, a, g, t)
                untreated = level(members, t) - tau_dual
                value = tau_dual - (rho_a + rho_b) * untreated if scale == "relative" else tau_dual - tau_a - tau_b
                out[("same year", unit_a, g, t)] = value
                continue
            kind, first, second, g_first = (("A first", a, b, unit_a) if unit_a < unit_b else ("B first", b, a, unit_b))
            control = first.index[(first <= g - 1) & (second > t)]
            tau_added = change(members, t, g - 1) - change(control, t, g - 1)
            tau_second, rho_second, *_ = alone(second, first, g, t)
            if scale == "level":
                value = tau_added - tau_second
            else:
                _, rho_first, n_treated, n_control = alone(first, second, g_first, t)
                assert n_treated and n_control  # the design gives every first cohort its own single units
                untreated = (level(members, t) - tau_added) / (1 + rho_first)
                value = tau_added - rho_second * untreated
            out[(kind, g_first, g, t)] = value
    return pd.Series(out)


@pytest.mark.parametrize("scale", ["level", "relative"])
def test_every_cell_equals_a_brute_force_2x2(scale):
    frame = small_panel()
    result = synergy(frame, "y", "unit", "year", "a", "b", scale=scale, n_boot=9)
    cells = result.cells.set_index(["type", "first_cohort", "dual_cohort", "period"])["estimate"]
    expected = brute_force(frame, scale)
    assert len(cells) == len(expected)
    for key, value in expected.items():
        assert cells[key] == pytest.approx(value, abs=1e-10), key
    weights = result.cells["n_dual"]
    assert result.estimate() == pytest.approx((result.cells["estimate"] * weights).sum() / weights.sum(), abs=1e-12)


def test_the_single_program_effect_is_callaway_santanna_on_the_units_without_the_other():
    from citypilots.estimators.staggered import att_gt

    frame = small_panel()
    result = synergy(frame, "y", "unit", "year", "a", "b", scale="level", n_boot=9)
    never_a = frame[frame["a"].isna()]
    cs = att_gt(never_a, "y", "unit", "year", "b", control_group="notyet").table.set_index(["group", "time"])
    checked = 0
    for row in result.cells[result.cells["type"] == "A first"].itertuples():
        # B's own effect for the B cohort of an A-first cell, at that cell's period; on the full
        # panel "no A by t" also admits units that adopt A after t, so compare only where none does
        adopts_a_later = ((frame["a"] > row.period) & (frame["year"] == row.period)).any()
        if adopts_a_later:
            continue
        assert row.tau_second_alone == pytest.approx(cs.loc[(row.dual_cohort, row.period), "estimate"], abs=1e-10)
        checked += 1
    assert checked >= 3


def test_the_synergy_is_recovered_over_seeds_and_centred_on_zero_in_its_null_world(capsys):
    """Over 100 simulated panels (20 cannot tell 95% coverage from 100%: each panel moves it by
    five points): mean within 10% of the mean realised synergy, 95% intervals covering it in
    88-99% of the panels, centred on zero and rejecting at most 10% in the world without it."""
    kwargs = dict(controls=CONTROLS, scale="relative", n_boot=99)
    n_seeds = 100
    rows = []
    for world, overrides in (("book", {}), ("null", null_world("synergy"))):
        for seed in range(n_seeds):
            simulated = simulate_panel(seed=seed, overrides=overrides)
            result = synergy(simulated.data, "Safety", "city", "year", "innovative_year", "smart_year", **kwargs)
            low, high = result.conf_int()
            truth = simulated.truth.synergy()
            rows.append({"world": world, "estimate": result.estimate(), "truth": truth, "covers": low <= truth <= high,
                         "rejects": result.table.loc["synergy", "p_value"] < 0.05})
    table = pd.DataFrame(rows).groupby("world").agg(estimate=("estimate", "mean"), sd=("estimate", "std"),
                                                    truth=("truth", "mean"), coverage=("covers", "mean"),
                                                    rejection=("rejects", "mean"))
    with capsys.disabled():
        print("\n" + table.round(3).to_string())
    book, null = table.loc["book"], table.loc["null"]
    assert abs(book["estimate"] / book["truth"] - 1) < 0.10
    assert abs(null["estimate"]) < 2 * null["sd"] / np.sqrt(n_seeds)
    # 100 panels measure a rate to about two points; 10% of the null-world panels reject (above 5%).
    assert 0.88 <= book["coverage"] <= 0.99 and null["rejection"] <= 0.12


def test_zero_means_never_outside_the_window_and_is_an_error_inside_it():
    frame = small_panel()
    zeros = frame.assign(a=frame["a"].fillna(0), b=frame["b"].fillna(0))
    assert synergy(zeros, "y", "unit", "year", "a", "b", n_boot=9).estimate() == pytest.approx(
        synergy(frame, "y", "unit", "year", "a", "b", n_boot=9).estimate(), abs=1e-12)
    shifted = zeros.assign(year=zeros["year"] - 2003, a=lambda f: np.where(f["a"] > 0, f["a"] - 2003, 0),
                           b=lambda f: np.where(f["b"] > 0, f["b"] - 2003, 0))
    with pytest.raises(DidArgumentError, match="0 lies inside the data's time window"):
        synergy(shifted, "y", "unit", "year", "a", "b", n_boot=9)


def test_bad_input_is_reported_at_once():
    frame = small_panel()
    with pytest.raises(DidArgumentError, match="not balanced"):
        synergy(frame.iloc[1:], "y", "unit", "year", "a", "b")
    with pytest.raises(DidArgumentError, match=r"(?s)scale=.levels.*control_group=.nope."):
        synergy(frame, "y", "unit", "year", "a", "b", scale="levels", control_group="nope")  # both listed
    with pytest.raises(DidArgumentError, match="unknown column 'c'"):
        synergy(frame, "y", "unit", "year", "a", "c")
