"""Chapters: each text notebook and its paired .ipynb agree; the .ipynb carries no outputs."""

from __future__ import annotations

from pathlib import Path

import jupytext
import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "notebooks").glob("*.md"))


def test_there_are_chapters():
    assert CHAPTERS


@pytest.mark.parametrize("text_path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_paired_notebook_matches_its_text_source(text_path):
    ipynb_path = text_path.with_suffix(".ipynb")
    assert ipynb_path.exists(), f"{ipynb_path.name} is missing: run `jupytext --sync {text_path.name}`"
    text = jupytext.read(text_path)
    paired = nbformat.read(ipynb_path, as_version=4)
    as_cells = [(c.cell_type, c.source) for c in text.cells]
    assert as_cells == [(c.cell_type, c.source) for c in paired.cells], (
        f"{ipynb_path.name} and {text_path.name} disagree: the text form is the source of truth; "
        f"run `jupytext --sync notebooks/{text_path.name}`")
    assert all(not getattr(c, "outputs", []) for c in paired.cells), f"{ipynb_path.name} carries outputs"
