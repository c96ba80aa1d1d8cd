"""Benchmarks. ``python bench/run.py`` runs all; ``python bench/run.py NAME`` runs one.

Each benchmark prints one line ``NAME: value`` (seconds or a ratio, measured in one run on this
machine). Speed targets are stated as ratios here, never as timed tests. Later chapters add
their benchmarks to ``BENCHMARKS``.
"""

from __future__ import annotations

import sys
import time


def simulate_seconds() -> float:
    """Wall time of one simulation of the main paper's 3,488-row panel (best of three)."""
    from citypilots.simulate import simulate_panel

    simulate_panel()  # warm up: imports and file reads
    times = []
    for _ in range(3):
        start = time.perf_counter()
        simulate_panel()
        times.append(time.perf_counter() - start)
    return min(times)


def validate_panel_seconds() -> float:
    """Wall time of validating and loading the simulated 3,488-row panel from CSV (best of three)."""
    import tempfile
    from pathlib import Path

    from citypilots.panel import load_panel, to_csv
    from citypilots.simulate import simulate_panel

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "panel.csv"
        to_csv(simulate_panel().data, path)
        load_panel(path)  # warm up
        times = []
        for _ in range(3):
            start = time.perf_counter()
            load_panel(path)
            times.append(time.perf_counter() - start)
    return min(times)


BENCHMARKS = {
    "simulate_seconds": simulate_seconds,
    "validate_panel_seconds": validate_panel_seconds,
}


def main(names: list[str]) -> None:
    unknown = [name for name in names if name not in BENCHMARKS]
    if unknown:
        sys.exit(f"unknown benchmark {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}")
    for name in names or list(BENCHMARKS):
        print(f"{name}: {BENCHMARKS[name]():.4g}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
