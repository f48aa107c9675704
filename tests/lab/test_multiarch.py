"""A host with i386 added to dpkg's architectures (wine, Steam, 32-bit CUDA samples)
converges online and keeps apt working: NVIDIA's source gets no i386 index it cannot
serve, and ``apt-get update`` afterwards exits 0 with no error or warning line."""

from __future__ import annotations

import pytest
from hosts_state import dpkg_state, lab_of, output

pytestmark = pytest.mark.lab

HOST = "lab-online-1"


@pytest.fixture(scope="module")
def lab(host_exec):
    with lab_of(1, 0) as state:
        done = host_exec(
            state, HOST, "dpkg --add-architecture i386 && dpkg --print-foreign-architectures"
        )
        assert done.returncode == 0 and done.stdout.strip() == "i386", done.stdout + done.stderr
        yield state


def test_an_i386_host_converges_and_apt_still_updates_cleanly(lab, host_exec, run_pyinfra):
    done = run_pyinfra("deploys/gpu_docker.py")
    assert done.returncode == 0, output(done)
    status, _ = dpkg_state(lab, host_exec, HOST)
    assert status and all(s.startswith("ii") for s in status.values()), status
    update = host_exec(lab, HOST, "LC_ALL=C apt-get update 2>&1")
    assert update.returncode == 0, update.stdout
    bad = [line for line in update.stdout.splitlines() if line.startswith(("E:", "W:", "Err"))]
    assert bad == [], update.stdout
