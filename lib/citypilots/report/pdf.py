"""The book as one PDF: the single-page HTML build, printed by headless Chromium.

``make pdf`` builds the book with Jupyter Book's ``singlehtml`` builder and then runs
``python -m citypilots.report.pdf _build/singlehtml _build/pdf/book.pdf``.

Why this route and not Jupyter Book's LaTeX builder: the chapters' tables are pandas frames
whose LaTeX fallback is their plain-text form, too wide for a page; the equations, the figures
and the tables are already laid out for reading in the HTML build, MathJax (vendored in
``book/_static/mathjax``) renders the maths offline, and Chromium with Debian's
``fonts-noto-cjk`` renders the Chinese city names. The whole route needs two Debian packages
(``chromium``, ``fonts-noto-cjk``) instead of a TeX installation of several hundred megabytes.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
"""Executables tried, in order, on ``PATH``."""

PACKAGES = "chromium fonts-noto-cjk"
"""The Debian packages ``make pdf`` installs when no browser is found."""


def find_browser() -> str:
    """The first Chromium-family browser on ``PATH``; an error naming the packages to install."""
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    raise SystemExit(f"no Chromium found (tried {', '.join(BROWSERS)}); on Debian: apt-get install {PACKAGES}")


def single_page(folder: str | Path) -> Path:
    """The one page of a ``singlehtml`` build in ``folder``, as a file at the folder's top.

    Sphinx writes the page under the root document's name (``book/intro.html``) with links
    relative to the folder's top, and Jupyter Book adds an ``index.html`` that redirects to it; a
    copy at the top (``print.html``) finds its styles, figures and MathJax."""
    folder = Path(folder)
    index = folder / "index.html"
    if not index.is_file():
        raise SystemExit(f"{index}: no such file; build the single-page HTML first (make pdf does)")
    text = index.read_text(encoding="utf-8")
    redirect = re.search(r'http-equiv="Refresh" content="0; url=([^"]+)"', text)
    if redirect:
        text = (folder / redirect.group(1)).read_text(encoding="utf-8")
    page = folder / "print.html"
    page.write_text(text, encoding="utf-8")
    return page


def print_to_pdf(html: str | Path, pdf: str | Path, wait_ms: int = 120_000) -> Path:
    """Print ``html`` to ``pdf`` with headless Chromium, after letting its scripts (MathJax) run for
    up to ``wait_ms`` milliseconds of virtual time. No network is used: the page and everything it
    loads are local files. Returns the PDF's path; an error if Chromium wrote no PDF."""
    html, pdf = Path(html).resolve(), Path(pdf).resolve()
    if not html.is_file():
        raise SystemExit(f"{html}: no such file")
    pdf.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as profile:
        command = [find_browser(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                   "--disable-background-networking", "--disable-component-update", "--disable-sync",
                   "--disable-quic", f"--user-data-dir={profile}", "--run-all-compositor-stages-before-draw",
                   f"--virtual-time-budget={int(wait_ms)}", "--no-pdf-header-footer",
                   f"--print-to-pdf={pdf}", html.as_uri()]
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if not pdf.is_file() or pdf.read_bytes()[:5] != b"%PDF-":
        raise SystemExit(f"Chromium wrote no PDF to {pdf}")
    return pdf


def main(arguments: list[str]) -> None:
    if len(arguments) != 2:
        raise SystemExit("usage: python -m citypilots.report.pdf SINGLEHTML_FOLDER OUT.pdf")
    folder, out = arguments
    pdf = print_to_pdf(single_page(folder), out)
    print(f"The book is in {pdf} ({pdf.stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main(sys.argv[1:])
