"""Rebuild the book from scratch when the code or data the chapters depend on change.

Jupyter Book's execution cache re-runs a chapter only when that chapter's own code cells change,
and Sphinx's saved environment (``.doctrees``) re-renders a page only when its source file
changes, so an edit to ``lib/`` or ``data/``, or a reader's panel, would leave stale numbers on
the page. ``make book`` calls

    python -m citypilots.report.bookcache _build lib data

which hashes every file under the given folders (and the reader's panel named by
``$CITYPILOTS_PANEL``, if set, since the chapters then run on it) and, when the hash differs
from the one stored in the build folder, removes the execution cache, the saved environment and
the executed notebooks, so the next build executes and renders every chapter again.
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


STALE_WHEN_INPUTS_CHANGE = (".jupyter_cache", ".doctrees", "jupyter_execute")
"""What a build keeps that depends on the inputs: the execution cache, Sphinx's environment and
the executed notebooks."""


def refresh(build: Path, folders: list[Path]) -> bool:
    """Remove what ``build`` keeps of earlier runs if ``folders`` changed since the last call;
    True when the inputs changed (or no earlier run is recorded)."""
    stamp = build / "book_inputs.sha256"
    current = tree_digest(folders)
    stale = not stamp.exists() or stamp.read_text() != current
    if stale:
        for name in STALE_WHEN_INPUTS_CHANGE:
            if (build / name).exists():
                shutil.rmtree(build / name)
    build.mkdir(parents=True, exist_ok=True)
    stamp.write_text(current)
    return stale


if __name__ == "__main__":
    build_folder, *inputs = sys.argv[1:]
    refresh(Path(build_folder), chapter_inputs([Path(p) for p in inputs]))
