"""Errors for people: every problem in a reader's file, each with file, row and column.

A validator collects :class:`Problem` records and raises one :class:`DataError` listing
all of them, so a reader fixes a file in one pass instead of one error per run.
Rows are counted as a spreadsheet shows them: the header is row 1, the first record row 2.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one cell (or row, or column) of a file."""

    file: str
    row: int | None
    column: str | None
    message: str

    def __str__(self) -> str:
        where = self.file
        if self.row is not None:
            where += f" row {self.row}"
        if self.column is not None:
            where += f' (column "{self.column}")'
        return f"{where}: {self.message}"


class DataError(ValueError):
    """A data file failed validation; ``.problems`` lists every problem found."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        shown = "\n".join(f"  - {p}" for p in self.problems[:200])
        more = len(self.problems) - 200
        tail = f"\n  ... and {more} more" if more > 0 else ""
        noun = "problem" if len(self.problems) == 1 else "problems"
        super().__init__(f"{len(self.problems)} {noun} found:\n{shown}{tail}")


class PanelError(DataError):
    """A city-year panel failed validation."""


class PilotFileError(DataError):
    """A pilot-calendar file failed validation."""


def file_label(path: str | Path) -> str:
    """The name used for a file in messages: its path as given."""
    return str(path)
