"""Binder: the files it reads are there and agree with the rest of the project."""

from __future__ import annotations

import os
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def test_binder_finds_its_environment_and_post_build_step():
    environment = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert "python=3.11" in environment["dependencies"]
    post_build = ROOT / "postBuild"
    assert post_build.is_file() and os.access(post_build, os.X_OK)
    assert "jupytext-config set-default-viewer" in post_build.read_text()
    assert not (ROOT / "binder").exists()  # a binder/ folder would make Binder ignore the root files


def test_launch_buttons_point_at_the_configured_repository():
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert config["launch_buttons"]["binderhub_url"] == "https://mybinder.org"
    url = config["repository"]["url"]
    assert url.startswith("https://github.com/") and config["repository"]["branch"] == "main"
    readme = (ROOT / "README.md").read_text()
    assert "repository.url" in readme  # the one setting is documented


def test_every_chapter_of_the_table_of_contents_has_its_paired_notebook():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    chapters = [entry["file"] for part in toc["parts"] for entry in part["chapters"]
                if entry["file"].startswith("notebooks/")]
    assert chapters
    for chapter in chapters:
        assert (ROOT / f"{chapter}.md").is_file() and (ROOT / f"{chapter}.ipynb").is_file(), chapter
