"""The book's exercises, read from the chapters: for the instructors' page.

Every chapter ends with exercises written as ``{exercise}`` directives (sphinx-exercise), each
with a folded ``{solution}``. :func:`exercise_table` lists them with the chapter, the task in a
sentence, and the simulation parameters the task changes (the dotted keys of
``data/simulation/li_han_xu.yml`` it names, or a seed), so an instructor can pick exercises by
what they vary. Each solution's claim is checked by a test in ``tests/test_chapter_<chapter>.py``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from .._paths import data_dir

EXERCISE = re.compile(r"```\{exercise\}[^\n]*\n(?P<options>(?::[^\n]*\n)*)(?P<body>.*?)\n```", re.S)
PARAMETER = re.compile(r"[\"'`]((?:effects|covariates|outcome|instrument|sample|other_policies|size_classes)"
                       r"\.[A-Za-z0-9_.]+)[\"'`]")


def notebooks_dir() -> Path:
    """The chapters' folder (beside ``data/``)."""
    return data_dir().parent / "notebooks"


def _first_sentence(body: str) -> str:
    text = " ".join(body.split())
    match = re.search(r"(.+?[.?!])(\s|$)", text)
    return (match.group(1) if match else text)[:300]


def exercise_table(folder: str | Path | None = None) -> pd.DataFrame:
    """One row per exercise of the chapters in ``folder`` (default: the book's ``notebooks/``):
    ``chapter``, ``label``, ``task`` (its first sentence), ``changes`` (the specification keys the
    task names, and "seed" where it changes the seed; an exercise may also change the design
    through a named world of its chapter's module, which its task sentence says) and
    ``has solution``."""
    folder = Path(folder) if folder is not None else notebooks_dir()
    rows = []
    for path in sorted(folder.glob("*.md")):
        text = path.read_text(encoding="utf-8")
        for match in EXERCISE.finditer(text):
            label = re.search(r":label:\s*(\S+)", match.group("options"))
            label = label.group(1) if label else ""
            body = match.group("body")
            changes = sorted(set(PARAMETER.findall(body)))
            if re.search(r"\bseed\s*=", body):
                changes.append("seed")
            rows.append({"chapter": path.stem, "label": label, "task": _first_sentence(body),
                         "changes": ", ".join(changes),
                         "has solution": bool(label) and f"{{solution}} {label}" in text})
    return pd.DataFrame(rows, columns=["chapter", "label", "task", "changes", "has solution"])
