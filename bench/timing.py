"""The one timing rule of the benchmarks: the shortest wall time of a few calls after a warm-up."""

from __future__ import annotations

import time


def best_of(function, repeats: int = 5) -> float:
    """The shortest wall time of ``repeats`` calls of ``function``, after one warm-up call."""
    function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)
