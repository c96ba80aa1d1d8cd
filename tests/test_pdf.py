"""The PDF route (citypilots.report.pdf): clear errors, and, where Chromium is installed, a page
with maths and Chinese text printed to a PDF. The whole book's PDF is `make pdf` (README)."""

from __future__ import annotations

import shutil

import pytest

from citypilots.report import pdf


def test_a_missing_build_is_an_error_that_says_what_to_build(tmp_path):
    with pytest.raises(SystemExit, match="build the single-page HTML first"):
        pdf.single_page(tmp_path)


def test_the_single_page_is_copied_to_the_top_where_its_links_point(tmp_path):
    (tmp_path / "book").mkdir()
    (tmp_path / "book" / "intro.html").write_text('<img src="_images/a.png">', encoding="utf-8")
    (tmp_path / "index.html").write_text('<meta http-equiv="Refresh" content="0; url=book/intro.html" />',
                                         encoding="utf-8")
    page = pdf.single_page(tmp_path)
    assert page == tmp_path / "print.html" and page.read_text(encoding="utf-8") == '<img src="_images/a.png">'


def test_no_browser_is_an_error_naming_the_debian_packages(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(SystemExit, match="apt-get install chromium fonts-noto-cjk"):
        pdf.find_browser()


@pytest.mark.skipif(not any(shutil.which(name) for name in pdf.BROWSERS), reason="no Chromium here (make pdf installs it)")
def test_a_page_prints_to_a_pdf_offline(tmp_path):
    page = tmp_path / "page.html"
    page.write_text("<html><body><h1>北京市 Beijing</h1><p>Table 2, column 2: -0.555</p></body></html>",
                    encoding="utf-8")
    out = pdf.print_to_pdf(page, tmp_path / "out" / "page.pdf", wait_ms=2_000)
    assert out.read_bytes()[:5] == b"%PDF-" and out.stat().st_size > 1_000
