"""The lab's shell ships as files in gpu_docker/lab/sh/, every one used and every used one there."""

from __future__ import annotations

import re
from pathlib import Path

from gpu_docker.lab import sh

LAB = Path(__file__).resolve().parents[2] / "src" / "gpu_docker" / "lab"


def test_every_script_the_lab_names_ships_and_every_shipped_one_is_named() -> None:
    named = set()
    for module in LAB.glob("*.py"):
        named |= set(re.findall(r'\bsh\.text\("([a-z_]+)"\)', module.read_text()))
    shipped = {path.stem for path in (LAB / "sh").glob("*.sh")}
    assert named, "no sh.text calls found: the pattern is out of date"
    assert named == shipped


def test_every_script_says_its_shell_for_shellcheck() -> None:
    for path in (LAB / "sh").glob("*.sh"):
        first = sh.text(path.stem).splitlines()[0]
        assert first in ("#!/bin/sh", "# shellcheck shell=sh"), path.name
