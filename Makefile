# Two commands a newcomer needs (README.md): `make book` and `make test`.
# Each creates or reuses the virtual environment .venv (Python 3.11, pip only,
# no conda) and installs the pinned packages from pyproject.toml, constrained
# to the exact versions of requirements.lock.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# pyfixest orders fixed effects through a Python set, so the last digits of an estimate follow
# the string hash seed: fix it, so that the same inputs give the same book byte for byte.
export PYTHONHASHSEED := 0

.PHONY: book pdf test bench clean-book venv

venv: $(STAMP)

$(STAMP): pyproject.toml requirements.lock
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "citypilots needs Python 3.11 (found %d.%d): set PYTHON=/path/to/python3.11" % sys.version_info[:2])'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c requirements.lock -e ".[book,test]"
	touch $(STAMP)

# The book: executes every chapter (cached in _build/.jupyter_cache; the cache, Sphinx's saved
# environment and the executed notebooks are dropped whenever lib/, data/ or the reader's panel
# change, since every page depends on them) and fails on any cell error or Sphinx warning.
book: $(STAMP)
	$(BIN)/python -m citypilots.report.bookcache _build lib data
	$(BIN)/jupyter-book build . --warningiserror --nitpick --keep-going
	@echo "The book is in _build/html/index.html"

# The book as one PDF, _build/pdf/book.pdf: the single-page HTML build printed by headless
# Chromium (citypilots.report.pdf says why not LaTeX). Installs Debian's chromium and
# fonts-noto-cjk (for the Chinese city names) when they are missing.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
pdf: $(STAMP)
	@dpkg -s chromium fonts-noto-cjk >/dev/null 2>&1 || { $(SUDO) apt-get update -q && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium fonts-noto-cjk; }
	$(BIN)/python -m citypilots.report.bookcache _build lib data
	$(BIN)/jupyter-book build . --builder singlehtml --warningiserror --nitpick --keep-going
	$(BIN)/python -m citypilots.report.pdf _build/singlehtml _build/pdf/book.pdf

test: $(STAMP)
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python bench/run.py

clean-book:
	rm -rf _build
