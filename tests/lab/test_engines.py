"""Every engine ``container_engine`` names proven by a container (issue 20, items 3-5).

One lab: bookworm hosts (containerd 1.6, docker 20.10) and trixie hosts (containerd 1.7,
Debian's podman 5), systemd as PID 1. One converge over all of them, then the hosts are
broken on purpose where a case needs it, then one ``deploys/verify.py`` run.

- containerd: the converge and verify run the probe image through what CRI's ``nvidia``
  handler names in ``containerd config dump`` (``ctr run --runtime <runtime_type>
  --runc-binary <BinaryName>``, and the systemd cgroup driver where a node's runc has it). The lab's stand-in nvidia-container-runtime (a TEST
  FIXTURE) hands over to runc, so a container that starts proves the path: a BinaryName
  that points nowhere, or a runtime_type CRI reads no BinaryName for, fails the host.
- The containerd-only hosts also run docker without the nvidia runtime: verify judges
  containerd there, never docker (docker's --gpus would fail). A ``both`` host gets both.
- podman: GPUs through CDI only. No driver: no spec, said by the converge, and the probe
  runs without a device request. With the TEST FIXTURE nvidia-smi (a driver version, no
  GPU) and fixture device nodes (char 1:3, /dev/null's numbers) the spec is generated and
  ``podman run --device nvidia.com/gpu=all`` runs for real; without a node the spec names
  it fails.
- ``cdi=true`` on containerd 1.7: the converge sets CRI's ``enable_cdi``, verify reads it
  from the dump; ctr 1.x cannot request CDI devices (2.0 can), which the line says.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest
from hosts_state import PROJECT, host_lines, lab_of, output, pyinfra, seed_file, write_inventory
from lab_docker import run

from gpu_docker.lab.state import LabState

pytestmark = pytest.mark.lab

CONFIG = "/etc/containerd/config.toml"
BIN = "/usr/bin/nvidia-container-runtime"
NVIDIA_SMI = b"""#!/bin/sh
# gpu-docker TEST FIXTURE, not NVIDIA's nvidia-smi: reports driver 550.54.15, lists no GPU.
case "$*" in
    *--query-gpu=driver_version*) echo "550.54.15" ;;
esac
exit 0
"""
# A node whose runc uses the systemd cgroup driver (as kubelets do): the nvidia entry
# inherits SystemdCgroup, and the check runs with it.
SYSTEMD_NODE = b"""version = 2
[plugins]
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
    runtime_type = "io.containerd.runc.v2"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
      SystemdCgroup = true
"""
# A runtime CRI runs without its BinaryName: runtime_type is not runc's.
WRONG_TYPE = f"""version = 2
[plugins]
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.nvidia]
    runtime_type = "io.containerd.runtime.v1.linux"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.nvidia.options]
      BinaryName = "{BIN}"
""".encode()

CONTAINERD, MISSING_BINARY, WRONG_RUNTIME_TYPE = "lab-online-1", "lab-online-2", "lab-online-3"
DOCKER_CDI_NO_DRIVER, BOTH = "lab-online-4", "lab-online-5"
PODMAN_NO_DRIVER, PODMAN_CDI, CONTAINERD_CDI = "lab-online-6", "lab-online-7", "lab-online-8"
CASES: dict[str, dict[str, object]] = {
    CONTAINERD: {"container_engine": "containerd"},
    MISSING_BINARY: {"container_engine": "containerd"},
    WRONG_RUNTIME_TYPE: {"container_engine": "containerd"},
    DOCKER_CDI_NO_DRIVER: {"cdi": True},
    BOTH: {"container_engine": "both"},
    PODMAN_NO_DRIVER: {"container_engine": "podman"},
    PODMAN_CDI: {"container_engine": "podman"},
    CONTAINERD_CDI: {"container_engine": "containerd", "cdi": True},
}
FIXTURE_DRIVER = (PODMAN_CDI, CONTAINERD_CDI)


class Runs(NamedTuple):
    converge: subprocess.CompletedProcess[str]
    verify: subprocess.CompletedProcess[str]
    report: dict[str, dict[str, object]]


@pytest.fixture(scope="module")
def lab() -> Iterator[LabState]:
    with lab_of(online=len(CASES), restricted=0, trixie=3) as state:
        yield state


def verify(inventory: Path, report: Path) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).parent / "pyinfra"
    return subprocess.run(
        [str(exe), "-y", str(inventory), "deploys/verify.py", "--data", f"report_path={report}"],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.fixture(scope="module")
def runs(lab, host_exec, tmp_path_factory) -> Runs:
    for host in FIXTURE_DRIVER:
        seed_file(lab, host_exec, host, "/usr/local/bin/nvidia-smi", NVIDIA_SMI)
        run(lab, host_exec, host, "chmod 755 /usr/local/bin/nvidia-smi")
        run(lab, host_exec, host, "mknod /dev/nvidia0 c 1 3 && mknod /dev/nvidiactl c 1 3")
    seed_file(lab, host_exec, MISSING_BINARY, CONFIG, SYSTEMD_NODE)
    run(lab, host_exec, MISSING_BINARY, "systemctl restart containerd.service")
    tmp = tmp_path_factory.mktemp("engines")
    inventory = write_inventory(tmp / "inventory.py", lab, CASES, {})
    converge = pyinfra(inventory)
    # Broken after the converge, as a hand edit or another tool would leave them.
    run(
        lab,
        host_exec,
        MISSING_BINARY,
        f"sed -i 's#{BIN}\"#{BIN}-missing\"#' {CONFIG} && systemctl restart containerd.service",
    )
    seed_file(lab, host_exec, WRONG_RUNTIME_TYPE, CONFIG, WRONG_TYPE)
    run(lab, host_exec, WRONG_RUNTIME_TYPE, "systemctl restart containerd.service")
    run(lab, host_exec, PODMAN_CDI, "rm /dev/nvidia0")  # the spec names it
    report = tmp / "report.json"
    done = verify(inventory, report)
    hosts = {entry["host"]: entry for entry in json.loads(report.read_text())["hosts"]}
    return Runs(converge, done, hosts)


def row(done: subprocess.CompletedProcess[str], host: str) -> str:
    """The host's line of the fleet table."""
    return next(line for line in output(done).splitlines() if line.startswith(f"--> {host} "))


def test_every_host_converged_through_a_container_of_its_engine(runs):
    text = output(runs.converge)
    assert "all 8 hosts converged" in text, text
    for host in (CONTAINERD, MISSING_BINARY, WRONG_RUNTIME_TYPE, CONTAINERD_CDI, BOTH):
        lines = [line for line in text.splitlines() if f"[{host}] check ctr run" in line]
        assert lines and ": ok: " in lines[0], (host, lines)
    assert f"[{PODMAN_CDI}] check podman run --device nvidia.com/gpu=all (CDI): ok" in text
    assert f"[{MISSING_BINARY}] CRI runtime 'nvidia': runtime_type io.containerd.runc.v2, " in text
    assert f"BinaryName {BIN}, SystemdCgroup;" in text


def test_a_containerd_host_is_verified_by_containerd_alone(runs):
    entry = runs.report[CONTAINERD]
    assert entry["status"] == "verified", entry
    assert entry["engines"] == ["containerd"]  # docker runs there, but is not its engine
    (check,) = entry["checks"]
    assert check["engine"] == "containerd" and check["ok"]
    assert f"--runtime io.containerd.runc.v2 --runc-binary {BIN}" in check["command"]
    assert "NVIDIA_VISIBLE_DEVICES=all" in check["command"]
    assert "containerd/runtime:ok" in row(runs.verify, CONTAINERD)
    assert "docker run" not in "\n".join(host_lines(runs.verify, CONTAINERD))


def test_a_binary_name_that_points_nowhere_fails_the_host(runs):
    entry = runs.report[MISSING_BINARY]
    assert entry["status"] == "failed"
    (line,) = [line for line in host_lines(runs.verify, MISSING_BINARY)]
    assert line.startswith("gpu-docker: containerd: the probe container did not start"), line
    assert f"{BIN}-missing: no such file or directory" in line


def test_a_runtime_type_cri_reads_no_binary_for_fails_the_host(runs):
    (line,) = host_lines(runs.verify, WRONG_RUNTIME_TYPE)
    assert "runtime_type 'io.containerd.runtime.v1.linux'" in line, line
    assert runs.report[WRONG_RUNTIME_TYPE]["status"] == "failed"


def test_a_both_host_is_verified_through_docker_and_containerd(runs):
    entry = runs.report[BOTH]
    assert entry["status"] == "verified", entry
    assert entry["engines"] == ["docker", "containerd"]
    assert "docker/gpus:ok containerd/runtime:ok" in row(runs.verify, BOTH)


def test_no_driver_says_why_no_cdi_spec_was_made(runs):
    for host in (DOCKER_CDI_NO_DRIVER, PODMAN_NO_DRIVER):
        lines = host_lines(runs.converge, host)
        assert any("no CDI spec made: no NVIDIA driver on this host" in x for x in lines), host
    entry = runs.report[PODMAN_NO_DRIVER]
    assert entry["status"] == "verified" and entry["checks"][0]["name"] == "run"
    assert "--device" not in entry["checks"][0]["command"]
    said = output(runs.verify)
    assert f"[{PODMAN_NO_DRIVER}] CDI: no spec at /etc/cdi/nvidia.yaml: no NVIDIA driver" in said


def test_podman_requests_the_gpu_through_cdi_and_fails_when_the_spec_does_not_hold(runs):
    entry = runs.report[PODMAN_CDI]
    assert entry["status"] == "failed" and entry["engines"] == ["podman"]
    (check,) = entry["checks"]
    assert check["command"].startswith("podman run --rm --network none --device nvidia.com/gpu=all")
    (line,) = host_lines(runs.verify, PODMAN_CDI)
    assert line.startswith("gpu-docker: podman: the probe container did not start"), line
    assert "/dev/nvidia0" in line


def test_cdi_through_containerd_reads_enable_cdi_and_says_what_ctr_can_do(runs):
    entry = runs.report[CONTAINERD_CDI]
    assert entry["status"] == "verified", entry
    said = output(runs.verify)
    assert f"[{CONTAINERD_CDI}] check CDI through containerd: not run, ctr 1.7" in said
    assert "CRI's enable_cdi is on" in said
