"""deploys/rollback.py on real hosts: the operator's daemon.json back byte for byte.

``lab-online-1`` (docker 20.10) starts with an oddly formatted daemon.json of its own,
``lab-online-2`` (docker 26, ``--validate``) with none; both are converged, then rolled
back, and must end as they began: same bytes (or no file), docker running without the
runtime, and with ``rollback_remove_packages`` no toolkit package left.
"""

from __future__ import annotations

import re

import pytest
from hosts_state import output
from lab_docker import daemon_json, docker_info, dockerd_pid, run

from gpu_docker import toolkit
from gpu_docker.lab.lifecycle import running_lab

pytestmark = pytest.mark.lab

SEEDED, EMPTY = "lab-online-1", "lab-online-2"
# Tabs, no final newline, a key docker accepts: only a byte-for-byte restore keeps it.
ORIGINAL = '{\n\t"log-level": "warn",\n\t"runtimes": {"custom": {"path": "/usr/sbin/runc"}}\n}'
FILE = "/etc/docker/daemon.json"
PACKAGES = " ".join(toolkit.PACKAGES)


@pytest.fixture(scope="module")
def lab():
    """One host of each docker version, on sysv hosts (the init-script path stays tested)."""
    with running_lab(2, 0, 1, init="sysv") as state:
        yield state


def installed(lab, host_exec, name: str) -> str:
    return run(
        lab,
        host_exec,
        name,
        f"dpkg-query -W -f='${{Package}} ${{db:Status-Abbrev}}\\n' {PACKAGES} 2>/dev/null"
        " | awk '$2 ~ /^ii/ {print $1}'; true",
    )


@pytest.fixture(scope="module")
def converged(lab, host_exec, run_pyinfra):
    """Both hosts seeded, recorded, then converged."""
    run(lab, host_exec, SEEDED, f"mkdir -p /etc/docker && printf '%s' '{ORIGINAL}' > {FILE}")
    run(lab, host_exec, SEEDED, "service docker restart >/dev/null")
    before = {name: daemon_json(lab, host_exec, name) for name in (SEEDED, EMPTY)}
    done = run_pyinfra("deploys/gpu_docker.py")
    assert done.returncode == 0, output(done)
    for name in (SEEDED, EMPTY):
        assert daemon_json(lab, host_exec, name) != before[name]
        assert installed(lab, host_exec, name)
    return before


def test_preview_shows_the_restore_and_changes_nothing(lab, converged, host_exec, run_pyinfra):
    state = {n: (daemon_json(lab, host_exec, n), dockerd_pid(lab, host_exec, n)) for n in converged}
    done = run_pyinfra("deploys/rollback.py", "--dry", "--diff", yes=False)
    assert done.returncode == 0, output(done)
    assert {
        n: (daemon_json(lab, host_exec, n), dockerd_pid(lab, host_exec, n)) for n in converged
    } == state
    text = output(done)
    assert re.search(rf"\[{SEEDED}\]\s+Will restore {FILE} \(backup from \d{{8}}T", text), text
    assert re.search(rf"\[{EMPTY}\]\s+Will remove {FILE} \(backup from \d{{8}}T", text), text
    assert f"[{SEEDED}] docker will be restarted; no containers running" in text


def test_rollback_restores_the_original_file_byte_for_byte(lab, converged, host_exec, run_pyinfra):
    pids = {name: dockerd_pid(lab, host_exec, name) for name in converged}
    done = run_pyinfra("deploys/rollback.py", "--data", "rollback_remove_packages=true")
    assert done.returncode == 0, output(done)
    for name, before in converged.items():
        assert daemon_json(lab, host_exec, name) == before, name
        info = docker_info(lab, host_exec, name)
        assert "nvidia" not in info["Runtimes"], name
        assert dockerd_pid(lab, host_exec, name) != pids[name], name  # restarted onto it
        assert installed(lab, host_exec, name) == "", name
    assert "custom" in docker_info(lab, host_exec, SEEDED)["Runtimes"]
    # The file the rollback replaced is kept, private, in case the rollback was the mistake.
    assert run(lab, host_exec, SEEDED, f"stat -c %a {FILE}.gpu-docker-*.pre-rollback") == "600"


def test_second_rollback_changes_nothing(lab, converged, host_exec, run_pyinfra):
    pids = {name: dockerd_pid(lab, host_exec, name) for name in converged}
    done = run_pyinfra("deploys/rollback.py", "--data", "rollback_remove_packages=true")
    assert done.returncode == 0, output(done)
    for name, before in converged.items():
        assert daemon_json(lab, host_exec, name) == before
        assert dockerd_pid(lab, host_exec, name) == pids[name]
