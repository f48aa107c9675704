"""Reliability: faults during a run, all in one run over 7 lab hosts and a ghost, then a rerun.

- lab-restricted-1: sshd down before the run (unreachable at connect);
- lab-restricted-2: sshd killed mid-run, as soon as the host has written its apt pin;
- ghost: an address in the lab's subnet where nothing answers;
- lab-online-1 (apt) and lab-restricted-3 (offline): a dpkg -i of the toolkit SIGKILLed
  mid-install (packages left iU / iHR); the run must repair and converge them;
- lab-online-2: docker stopped before the run; start_docker (default) starts it;
- lab-restricted-4: /etc/docker a full 64 KiB tmpfs: the old daemon.json stays intact;
- lab-restricted-5: docker stopped and start_docker=False: a clear message, nothing changed.

Every failing host is named with its cause, the others converge, and a rerun once the
faults are gone completes the hosts that did not finish.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hosts_state import (
    PACKAGES,
    docker_runtimes,
    docker_snapshot,
    dpkg_state,
    host_lines,
    kill_sshd,
    lab_of,
    output,
    pyinfra,
    read_bytes,
    seed_file,
    snapshot,
    start_sshd,
    summary,
    upload,
    upper,
    write_inventory,
)

from gpu_docker.lab.inventory import LAB_TOOLKIT_VERSION
from gpu_docker.lab.layout import SUBNETS
from gpu_docker.lab.state import LabState

pytestmark = pytest.mark.lab

DOWN_AT_CONNECT = "lab-restricted-1"
DIES_MID_RUN = "lab-restricted-2"
DPKG_KILLED = ("lab-online-1", "lab-restricted-3")
DOCKER_STOPPED = "lab-online-2"
DISK_FULL = "lab-restricted-4"
NO_START = "lab-restricted-5"
GHOST = "ghost"
OPERATOR_JSON = b'{\n  "log-level": "warn"\n}\n'
PIN = Path("etc/apt/preferences.d/nvidia-container-toolkit")

# dpkg reports each status change to the logger; SIGKILL dpkg once the base package is
# unpacked: libnvidia-container1 and -tools are left unpacked (iU), the base iHR.
KILLED_DPKG = r"""
cd /tmp/debs && dpkg --status-logger='while read l; do case "$l" in
    *"nvidia-container-toolkit-base: unpacked"*) kill -9 $PPID ;; esac; done' \
    -i libnvidia-container1_*.deb libnvidia-container-tools_*.deb \
    nvidia-container-toolkit-base_*.deb nvidia-container-toolkit_*.deb >/dev/null 2>&1
echo "dpkg exit $?"
"""


@pytest.fixture(scope="module")
def lab() -> Iterator[LabState]:
    # sysv hosts: the faults are injected through their init scripts (sshd, docker), and
    # this keeps the lab's sysv init in the suite next to the systemd default.
    with lab_of(online=2, restricted=5, init="sysv") as state:
        yield state


def _kill_dpkg_mid_install(lab: LabState, host_exec, name: str) -> None:
    bundle = Path(lab.bundle_dir) / LAB_TOOLKIT_VERSION / "amd64"
    for deb in bundle.glob("*.deb"):
        upload(lab, name, deb, f"/tmp/debs/{deb.name}")
    assert "dpkg exit 137" in host_exec(lab, name, KILLED_DPKG).stdout
    status, audit = dpkg_state(lab, host_exec, name)
    # Where the kill lands depends on load: half-installed (iHR) or unpacked (iU, with
    # reinst-required iUR). Each is an interrupted install that dpkg --audit reports and
    # the deploy must repair.
    assert status["nvidia-container-toolkit-base"][:3] in ("iHR", "iUR", "iU1"), status
    assert status["libnvidia-container1"].startswith("iU"), status
    assert audit, "dpkg --audit must see the interrupted install"


def _kill_sshd_once_pinned(lab: LabState, name: str, deadline: float) -> threading.Thread:
    """Kill the host's sshd as soon as its first operation has written the apt pin."""

    def watch() -> None:
        while time.monotonic() < deadline:
            if (upper(lab, name) / PIN).exists():
                kill_sshd(lab, name)
                return
            time.sleep(0.02)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


@pytest.fixture(scope="module")
def faults(lab, host_exec, tmp_path_factory):
    """Set every fault up, run once; return the run, snapshots and the inventory."""
    for name in DPKG_KILLED:
        _kill_dpkg_mid_install(lab, host_exec, name)
    for name in (DOCKER_STOPPED, NO_START):
        stop = host_exec(lab, name, "service docker stop >/dev/null 2>&1; ! docker info")
        assert stop.returncode == 0, stop.stderr
    seed_file(lab, host_exec, NO_START, "/etc/docker/daemon.json", OPERATOR_JSON)
    fill = host_exec(
        lab,
        DISK_FULL,
        "mount -t tmpfs -o size=64k,mode=755 gdfull /etc/docker"
        f" && printf '%s' '{OPERATOR_JSON.decode()}' > /etc/docker/daemon.json"
        " && (dd if=/dev/zero of=/etc/docker/filler bs=4k 2>/dev/null; true)"
        " && df --output=avail /etc/docker | tail -n1",
    )
    assert fill.returncode == 0 and fill.stdout.strip() == "0", fill.stdout + fill.stderr
    before = {name: docker_snapshot(lab, host_exec, name) for name in (DISK_FULL, NO_START)}
    no_start_before = snapshot(lab, host_exec, NO_START)
    kill_sshd(lab, DOWN_AT_CONNECT)

    ghost = {
        "ssh_hostname": SUBNETS["online"].address(200),
        "ssh_user": "root",
        "ssh_key": lab.ssh_key,
        "ssh_known_hosts_file": lab.known_hosts,
        "ssh_strict_host_key_checking": "yes",
        "require_driver": False,
    }
    inventory = write_inventory(
        tmp_path_factory.mktemp("inv") / "inventory.py",
        lab,
        {NO_START: {"start_docker": False}},
        {GHOST: ghost},
    )
    watcher = _kill_sshd_once_pinned(lab, DIES_MID_RUN, time.monotonic() + 300)
    run = pyinfra(inventory)
    watcher.join(timeout=1)
    return {
        "run": run,
        "before": before,
        "no_start_before": no_start_before,
        "inventory": inventory,
    }


def test_run_fails_and_summary_names_every_unfinished_host_with_its_cause(faults):
    run = faults["run"]
    assert run.returncode != 0
    found = summary(run)
    assert set(found) == {DOWN_AT_CONNECT, DIES_MID_RUN, GHOST, DISK_FULL, NO_START}, output(run)
    assert found[DOWN_AT_CONNECT] == found[GHOST] == "unreachable (could not connect)"
    assert found[DIES_MID_RUN].startswith("failed at: "), found
    assert f"[{DOWN_AT_CONNECT}]" in output(run) and "Could not connect" in output(run)


@pytest.mark.parametrize("name", [*DPKG_KILLED, DOCKER_STOPPED])
def test_hosts_with_an_interrupted_dpkg_or_stopped_docker_converge(lab, host_exec, faults, name):
    assert name not in summary(faults["run"])
    status, audit = dpkg_state(lab, host_exec, name)
    assert status == dict.fromkeys(PACKAGES, f"ii{LAB_TOOLKIT_VERSION}-1") and audit == "", (
        status,
        audit,
    )
    assert "nvidia" in (docker_runtimes(lab, host_exec, name) or [])


def test_disk_full_leaves_the_old_daemon_json_intact(lab, host_exec, faults):
    (line,) = host_lines(faults["run"], DISK_FULL)
    assert line.startswith("gpu-docker: no space left on the device holding /etc/docker"), line
    assert line.endswith("/etc/docker/daemon.json left untouched")
    assert read_bytes(lab, host_exec, DISK_FULL, "/etc/docker/daemon.json") == OPERATOR_JSON
    assert docker_snapshot(lab, host_exec, DISK_FULL) == faults["before"][DISK_FULL]  # no temp


def test_docker_not_running_with_start_docker_off_fails_clearly_and_changes_nothing(
    lab, host_exec, faults
):
    (line,) = host_lines(faults["run"], NO_START)
    assert line.startswith("gpu-docker: docker is not running (Cannot connect"), line
    assert "set start_docker=True" in line
    assert snapshot(lab, host_exec, NO_START) == faults["no_start_before"]
    assert docker_runtimes(lab, host_exec, NO_START) is None  # still stopped


def test_rerun_after_the_faults_are_gone_completes_every_host(lab, host_exec, faults):
    for name in (DOWN_AT_CONNECT, DIES_MID_RUN):
        start_sshd(lab, name)
    assert host_exec(lab, DISK_FULL, "umount /etc/docker").returncode == 0
    seed_file(lab, host_exec, DISK_FULL, "/etc/docker/daemon.json", OPERATOR_JSON)
    assert host_exec(lab, NO_START, "service docker start >/dev/null").returncode == 0
    rerun = pyinfra(faults["inventory"], "--limit", "lab-*")
    assert rerun.returncode == 0, output(rerun)
    assert summary(rerun) == {"*": f"--> gpu-docker: all {len(lab.hosts)} hosts converged"}
    for host in lab.hosts:
        status, audit = dpkg_state(lab, host_exec, host.name)
        assert status == dict.fromkeys(PACKAGES, f"ii{LAB_TOOLKIT_VERSION}-1") and audit == "", (
            host.name
        )
        assert "nvidia" in (docker_runtimes(lab, host_exec, host.name) or []), host.name
    text = read_bytes(lab, host_exec, DISK_FULL, "/etc/docker/daemon.json").decode()
    assert text.startswith('{\n  "log-level": "warn",\n  "runtimes"'), text
