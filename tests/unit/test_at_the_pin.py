"""The guard of the converge's early verification: the toolkit at the pin, package by
package, as dpkg-query reports it (stubbed here with what dpkg prints)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from gpu_docker import toolkit
from gpu_docker.run import at_the_pin
from gpu_docker.settings import Settings

AT_PIN = "ii 1.20.0-1;" * len(toolkit.PACKAGES)


@pytest.mark.parametrize(
    ("listed", "passes"),
    [
        (AT_PIN, True),
        ("ii 1.17.8-1;" * len(toolkit.PACKAGES), False),  # the previous generation
        ("ii 1.20.0-1;" * (len(toolkit.PACKAGES) - 1), False),  # one package missing
        ("rc 1.20.0-1;" + "ii 1.20.0-1;" * (len(toolkit.PACKAGES) - 1), False),  # removed
        ("", False),  # nothing installed
    ],
)
def test_the_guard_passes_only_with_every_package_installed_at_the_pin(
    tmp_path: Path, listed: str, passes: bool
) -> None:
    stub = tmp_path / "dpkg-query"
    stub.write_text(f"#!/bin/sh\nprintf '%s' '{listed}'\n")
    stub.chmod(0o755)
    env = {**os.environ, "PATH": f"{tmp_path}:{os.environ['PATH']}"}
    guard = at_the_pin(Settings(toolkit_version="1.20.0"))
    run = subprocess.run(["sh", "-c", guard], env=env, check=False)
    assert (run.returncode == 0) is passes
