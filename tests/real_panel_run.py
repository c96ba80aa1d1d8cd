"""The shared check that a chapter runs on a reader's real panel (tests/test_datasource.py for the
main chapters, tests/test_chapter_<study>.py for the companion studies)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import jupytext
from nbclient import NotebookClient

GLUE_REFERENCE = re.compile(r"\{glue(?::[a-z]+)?\}`([A-Za-z_][A-Za-z0-9_]*)|```\{glue:figure\} ([A-Za-z_][A-Za-z0-9_]*)")


def assert_chapter_runs_on(chapter: Path, panel_file: Path, timeout: int = 900) -> str:
    """Execute ``chapter`` in a fresh kernel (the panel variable already set by the caller) and
    check that it names ``panel_file`` as its data, says nothing of a simulation, and glues every
    key its prose and figures quote (a key missing on a real panel breaks the build). Returns the
    text of its outputs."""
    notebook = jupytext.read(chapter)
    client = NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(chapter.parent)}})
    client.execute(env=dict(os.environ))
    outputs = "".join(str(output) for cell in notebook.cells for output in cell.get("outputs", []))
    assert str(panel_file) in outputs, f"{chapter.name} does not say which data it ran on"
    assert "Simulated data." not in outputs, f"{chapter.name} calls a real panel simulated"
    glued = {output.get("metadata", {}).get("scrapbook", {}).get("name")
             for cell in notebook.cells for output in cell.get("outputs", [])}
    referenced = {text or figure for text, figure in GLUE_REFERENCE.findall(chapter.read_text(encoding="utf-8"))}
    assert referenced <= glued, f"{chapter.name}: not glued on a real panel: {sorted(referenced - glued)}"
    return outputs
