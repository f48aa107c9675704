"""The package stands alone: a wheel installed in a fresh venv outside the repo converges
a lab host from a three-line deploy file, with only settings in host data."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hosts_state import docker_runtimes, dpkg_state, lab_of, output, write_inventory

from gpu_docker.lab.state import LabState

pytestmark = pytest.mark.lab

PROJECT = Path(__file__).resolve().parents[2]
DEPLOY = "from gpu_docker.deploys import converge\n\nconverge()\n"
# The fresh venv must see only what it installed: no PYTHONPATH leading back to the repo.
CLEAN_ENV = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}


@pytest.fixture(scope="module")
def lab() -> Iterator[LabState]:
    with lab_of(online=1, restricted=0) as state:
        yield state


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv holding the project's wheel and its dependencies, nothing else."""
    root = tmp_path_factory.mktemp("wheel")
    wheels = root / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(wheels), str(PROJECT)],
        check=True,
    )
    env = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(env)], check=True)
    (wheel,) = wheels.glob("gpu_docker-*.whl")
    subprocess.run(
        [str(env / "bin" / "pip"), "install", "-q", str(wheel)], env=CLEAN_ENV, check=True
    )
    return env


def test_installed_wheel_converges_from_a_three_line_deploy(
    lab: LabState, venv: Path, tmp_path: Path, host_exec
) -> None:
    where = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import gpu_docker; print(gpu_docker.__file__)"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=CLEAN_ENV,
        check=True,
    ).stdout
    assert where.startswith(str(venv)), where

    (tmp_path / "deploy.py").write_text(DEPLOY)
    inventory = write_inventory(tmp_path / "inventory.py", lab, {}, {})
    run = subprocess.run(
        [str(venv / "bin" / "pyinfra"), "-y", "inventory.py", "deploy.py"],
        cwd=tmp_path,
        env=CLEAN_ENV,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, output(run)
    assert inventory.parent == tmp_path
    (name,) = [h.name for h in lab.hosts]
    status, audit = dpkg_state(lab, host_exec, name)
    assert all(s.startswith("ii") for s in status.values()) and len(status) == 4, status
    assert audit == ""
    assert "nvidia" in (docker_runtimes(lab, host_exec, name) or [])
