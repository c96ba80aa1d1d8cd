"""Building the whole book: cold (every chapter executed, every Monte Carlo run computed), cached
(nothing changed), and the peak memory of the build.

The three benchmarks share one measurement: the repository's tracked files are copied to a
temporary folder with an empty Monte Carlo cache, the book is built there twice with the same
command as ``make book``, and the resident memory of the build's whole process tree (Sphinx and
the notebook kernels) is sampled every half second. Targets (issue 14): cold under 600 s and
cached under 30 s on 2 cores.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _tree_rss_mb(process) -> float:
    import psutil

    total = 0
    for member in [process, *process.children(recursive=True)]:
        try:
            total += member.memory_info().rss
        except psutil.Error:
            pass
    return total / 2**20


def _timed_build(folder: Path, env: dict) -> tuple[float, float]:
    """Wall seconds and peak resident MB of one ``make book``-equivalent build in ``folder``."""
    import psutil

    bin_dir = Path(sys.executable).parent
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "citypilots.report.bookcache", "_build", "lib", "data"],
                   cwd=folder, env=env, check=True)
    build = psutil.Popen([str(bin_dir / "jupyter-book"), "build", ".", "--warningiserror", "--nitpick",
                          "--keep-going"], cwd=folder, env=env, stdout=subprocess.DEVNULL)
    peak = [0.0]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], _tree_rss_mb(build))
            done.wait(0.5)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    code = build.wait()
    done.set()
    sampler.join()
    if code != 0:
        raise RuntimeError(f"the book build in {folder} failed (exit {code})")
    return time.perf_counter() - start, peak[0]


@functools.lru_cache(maxsize=1)
def book_builds() -> dict:
    """Build the book cold, then again with nothing changed, in a copy of the tracked files."""
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, check=True, capture_output=True, text=True).stdout.split()
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch) / "book"
        for name in tracked:
            target = folder / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, target)
        env = {**os.environ, "CITYPILOTS_CACHE": str(Path(scratch) / "cache"), "PYTHONHASHSEED": "0",
               "PYTHONPATH": str(folder / "lib"), "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
        env.pop("CITYPILOTS_PANEL", None)
        cold, cold_peak = _timed_build(folder, env)
        cached, cached_peak = _timed_build(folder, env)
    return {"cold": cold, "cached": cached, "peak": max(cold_peak, cached_peak)}


def book_build_cold_seconds() -> float:
    """Wall time of building the whole book from nothing (all chapters and Monte Carlo runs)."""
    return book_builds()["cold"]


def book_build_cached_seconds() -> float:
    """Wall time of rebuilding the book with nothing changed."""
    return book_builds()["cached"]


def book_build_peak_mb() -> float:
    """Peak resident memory (MB) of the build's process tree, Sphinx and kernels together."""
    return book_builds()["peak"]
