"""Content digests of files and folders: the keys of the book's caches (execution, Monte Carlo)."""

from __future__ import annotations

import hashlib
from pathlib import Path


def tree_digest(inputs: list[Path]) -> str:
    """SHA-256 over the paths and contents of the files in ``inputs`` (files, or folders searched recursively)."""
    digest = hashlib.sha256()
    for item in inputs:
        files = [item] if item.is_file() else sorted(
            p for p in item.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
        for path in files:
            digest.update(str(path).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()
