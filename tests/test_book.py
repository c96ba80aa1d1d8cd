"""The book builds: every chapter executes without error and Sphinx raises no warning."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.book
def test_the_book_builds_with_every_chapter_executed(tmp_path):
    jupyter_book = Path(sys.executable).parent / "jupyter-book"
    output = tmp_path / "book"
    result = subprocess.run(
        [str(jupyter_book), "build", str(ROOT), "--path-output", str(output),
         "--warningiserror", "--nitpick", "--keep-going"],
        capture_output=True, text=True, cwd=ROOT,
    )
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-6000:]
    html = output / "_build" / "html"
    for page in ["book/intro.html", "book/about_data_and_code.html", "notebooks/policy_context.html",
                 "notebooks/baseline.html", "notebooks/robustness.html", "notebooks/mechanism.html",
                 "notebooks/spatial.html", "notebooks/heterogeneity.html"]:
        assert (html / page).is_file(), page
    chapter = (html / "notebooks" / "policy_context.html").read_text(encoding="utf-8")
    assert "Traceback" not in chapter
    assert chapter.count("<img") >= 3
    # MathJax ships with the book: the equations render when the HTML is read offline
    baseline = (html / "notebooks" / "baseline.html").read_text(encoding="utf-8")
    assert "_static/mathjax/tex-mml-chtml.js" in baseline and "cdn.jsdelivr" not in baseline
    assert (html / "_static" / "mathjax" / "tex-mml-chtml.js").is_file()
    assert (html / "_static" / "mathjax" / "output" / "chtml" / "fonts" / "woff-v2").is_dir()
    shutil.rmtree(output, ignore_errors=True)
