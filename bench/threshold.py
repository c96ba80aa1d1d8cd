"""Benchmark of Hansen's panel threshold regression: the 300-draw bootstrap on the Zhu and Chen
companion panel (287 cities, 2011-2022; target under 30 s on 2 cores, issue 13)."""

from __future__ import annotations

import time


def threshold_bootstrap_seconds() -> float:
    """Wall time of the companion chapter's one-threshold model (every distinct value of the
    threshold variable searched, controls, city and year effects) with 300 bootstrap draws."""
    from citypilots.chapters.zhu_chen import fit_threshold, study_data

    data = study_data().data
    fit_threshold(data, bootstrap=2)  # warm-up
    start = time.perf_counter()
    fit_threshold(data, bootstrap=300)
    return time.perf_counter() - start
