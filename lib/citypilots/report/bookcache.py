"""Drop the book's execution cache when the code or data the chapters depend on change.

Jupyter Book's cache re-runs a chapter only when that chapter's own code cells change, so an
edit to ``lib/`` or ``data/`` would leave stale outputs. ``make book`` calls

    python -m citypilots.report.bookcache _build/.jupyter_cache lib data

which hashes every file under the given folders (and the reader's panel named by
``$CITYPILOTS_PANEL``, if set, since the chapters then run on it) and removes the cache when
the hash differs from the one stored beside it.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from ..digest import tree_digest


def chapter_inputs(folders: list[Path]) -> list[Path]:
    """The folders, plus the reader's panel file when ``$CITYPILOTS_PANEL`` names one."""
    panel = os.environ.get("CITYPILOTS_PANEL", "").strip()
    return list(folders) + ([Path(panel)] if panel else [])


def refresh(cache: Path, folders: list[Path]) -> bool:
    """Remove ``cache`` if ``folders`` changed since the last call; True when it was removed."""
    stamp = cache.parent / "jupyter_cache_inputs.sha256"
    current = tree_digest(folders)
    stale = not stamp.exists() or stamp.read_text() != current
    if stale and cache.exists():
        shutil.rmtree(cache)
    stamp.parent.mkdir(parents=True, exist_ok=True)
    stamp.write_text(current)
    return stale


if __name__ == "__main__":
    cache_folder, *inputs = sys.argv[1:]
    refresh(Path(cache_folder), chapter_inputs([Path(p) for p in inputs]))
