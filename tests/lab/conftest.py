"""The sandbox lab for end-to-end tests: a fresh lab per test module, always torn down.

``lab`` brings up 3 online hosts (the last running trixie, docker 26) and 2 restricted
hosts; tests reach them the way an operator would, with the real ``pyinfra`` CLI over SSH
(``run_pyinfra``) or with OpenSSH (``host_exec``). Tests in one module share its hosts.
Both helpers are also fixtures of the same name, so test modules need no import from
this file. ``GPU_DOCKER_LAB_SLOT`` picks a lab slot, so two runs can share a machine."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from gpu_docker.lab.lifecycle import running_lab
from gpu_docker.lab.ssh import ssh_command
from gpu_docker.lab.state import LabState

PROJECT = Path(__file__).resolve().parents[2]
SANDBOX_INVENTORY = PROJECT / "inventories" / "sandbox.py"
ONLINE, RESTRICTED, TRIXIE_DOCKER = 3, 2, 1


@pytest.fixture(scope="module")
def lab() -> Iterator[LabState]:
    """A fresh lab for each test module (about 3 s once the rootfs is cached; every
    dockerd already answers), torn down even when tests fail, so no module sees what
    another did to the hosts."""
    if os.geteuid() != 0:
        pytest.skip("the sandbox lab needs root (network namespaces, mounts, bridges)")
    with running_lab(ONLINE, RESTRICTED, TRIXIE_DOCKER) as state:
        yield state


def pyinfra_executable() -> str:
    """The pyinfra next to this interpreter (the project's venv), not one on PATH."""
    found = shutil.which("pyinfra", path=str(Path(sys.executable).parent))
    if found is None:
        raise RuntimeError(f"no pyinfra next to {sys.executable}; install the project's deps")
    return found


def run_pyinfra(
    *args: str, inventory: Path = SANDBOX_INVENTORY, timeout: float = 600, yes: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run ``pyinfra [-y] INVENTORY ARGS...`` from the project root; never raises on failure.

    ``yes=False`` for ``--dry`` previews: with ``-y`` pyinfra skips change detection.
    """
    return subprocess.run(
        [pyinfra_executable(), *(["-y"] if yes else []), str(inventory), *args],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def host_exec(
    lab: LabState, name: str, command: Sequence[str] | str, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run a shell command on host ``name`` over SSH (strict host key checking)."""
    return subprocess.run(
        ssh_command(lab, lab.host(name), command),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(name="run_pyinfra", scope="session")
def _run_pyinfra_fixture() -> Callable[..., subprocess.CompletedProcess[str]]:
    """``run_pyinfra(*args)`` for tests: the real pyinfra CLI on the sandbox inventory."""
    return run_pyinfra


@pytest.fixture(name="host_exec", scope="session")
def _host_exec_fixture() -> Callable[..., subprocess.CompletedProcess[str]]:
    """``host_exec(lab, name, command)`` for tests: a shell command on a lab host."""
    return host_exec
