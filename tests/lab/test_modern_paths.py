"""The modern paths end to end (issue 13): containerd nodes and CDI, one lab, one run and
a rerun.

Every case has its own host and settings in one temporary inventory; one pyinfra run
converges them all, a second run must change nothing and restart nothing.

containerd: systemd hosts, Debian's own containerd.service running the system containerd
on /etc/containerd/config.toml, as on a node; a restart is told apart by its MainPID. Debian
bookworm's containerd is 1.6: it reads version 2 files; a version 3 file (containerd 2.x)
is refused there (1.6 starts with it but its CRI plugin is the version 2 one, so a runtime
in it would never run); only unit tests prove v3 merges, no containerd 2.x is in the lab.
Drop-ins and containerd 1.7: tests/lab/test_containerd_dropins.py.

CDI: the lab has no GPU and no driver. Two hosts get a TEST FIXTURE ``nvidia-smi`` (below)
that reports a driver version and lists no GPU, so what depends on the driver's version
is tested for real: the spec (written by the stand-in ``nvidia-ctk cdi generate``, a
fixture too) is generated once, kept on a rerun, and regenerated when the fixture's
driver version changes. ``features.cdi`` is merged on docker 26 and refused with a message
on docker 20.10. Not covered here: the nvidia-cdi-refresh units (the stand-in toolkit is
1.17, which has none; unit-tested) and ``docker run --device nvidia.com/gpu=all`` (no GPU).

NVML: lab dockers use the cgroupfs driver; ``nvml_symlinks=on`` on one host writes the udev
rule (no /dev/nvidia* nodes to link: said), ``auto`` elsewhere writes nothing and says why.
"""

from __future__ import annotations

import base64
import difflib
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest
from hosts_state import (
    DEPLOY,
    docker_runtimes,
    dpkg_state,
    host_lines,
    lab_of,
    output,
    pyinfra,
    read_bytes,
    seed_file,
    summary,
    write_inventory,
)
from lab_docker import dockerd_pid, run

from gpu_docker.lab.state import LabState

pytestmark = pytest.mark.lab

CONFIG = "/etc/containerd/config.toml"
BIN = "/usr/bin/nvidia-container-runtime"
PROBE = "gdprobe"  # an image of /usr/bin/true, built on the host
NODE_V2 = b"""# Managed by the platform team: ask #infra before editing.
version = 2
oom_score = -999  # keep containerd alive under memory pressure

[plugins]
  [plugins."io.containerd.grpc.v1.cri"]
    sandbox_image = "registry.k8s.io/pause:3.9"
    [plugins."io.containerd.grpc.v1.cri".containerd]
      default_runtime_name = "runc"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
        runtime_type = "io.containerd.runc.v2"
        [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
          NoPivotRoot = false
    [plugins."io.containerd.grpc.v1.cri".registry.mirrors."docker.io"]
      endpoint = ["https://mirror.example.invalid"]

[metrics]
  address = ""
"""
NODE_V3 = b"""version = 3
# containerd 2.x layout
[plugins.'io.containerd.cri.v1.runtime']
  enable_cdi = true
  [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
    runtime_type = 'io.containerd.runc.v2'

[plugins.'io.containerd.cri.v1.images']
  snapshotter = 'overlayfs'
"""
V1 = b"[plugins.cri]\n  systemd_cgroup = false  # a version 1 file: no version key\n"
REJECTED = b'version = 2\noom_score = "high"  # containerd wants a number\n'

TOOLKIT_CONFIG = "/etc/nvidia-container-runtime/config.toml"
ROLLBACK = DEPLOY.parent / "rollback.py"
SPEC = "/etc/cdi/nvidia.yaml"
STAMP = "/var/lib/gpu-docker/cdi-nvidia.yaml.generated-for"
NVIDIA_SMI = """#!/bin/sh
# gpu-docker TEST FIXTURE, not NVIDIA's nvidia-smi: reports driver {version} and lists no
# GPU, so the lab can test what depends on the driver's version (the CDI spec).
case "$*" in
    *--query-gpu=driver_version*) echo "{version}" ;;
esac
exit 0
"""
CDI_OLD_DOCKER, CDI_DOCKER_26 = "lab-online-6", "lab-online-7"
FEATURES = b'{\n  "log-level": "warn",\n  "features": {"buildkit": true}\n}\n'

# host -> (starting config.toml, settings): None keeps the file Debian's package ships.
CASES: dict[str, tuple[bytes | None, dict[str, object]]] = {
    "lab-online-1": (
        None,
        {"container_engine": "both", "runtime_debug_log": "/var/log/nvidia-runtime.log"},
    ),
    "lab-online-2": (
        NODE_V2,
        {"container_engine": "containerd", "containerd_default_runtime": True},
    ),
    "lab-online-3": (NODE_V3, {"container_engine": "containerd"}),
    "lab-online-4": (V1, {"container_engine": "containerd"}),
    "lab-online-5": (REJECTED, {"container_engine": "containerd"}),
    CDI_OLD_DOCKER: (None, {"cdi": True}),
    CDI_DOCKER_26: (None, {"cdi": True, "nvml_symlinks": "on"}),
}
MERGED = ("lab-online-1", "lab-online-2")


class Runs(NamedTuple):
    """The two runs and what each host held around them."""

    first: subprocess.CompletedProcess[str]
    second: subprocess.CompletedProcess[str]
    shipped: dict[str, bytes | None]  # config.toml before the first run
    pid_before: dict[str, str]  # containerd's pid before the first run
    pid_after: dict[str, str]  # ... and after it
    configs: dict[str, bytes | None]  # config.toml after the first run
    specs: dict[str, bytes | None]  # the CDI spec after the first run
    stamps: dict[str, bytes | None]  # what it was generated for
    dockerd: dict[str, str]  # dockerd's pid after the first run
    inventory: Path


def containerd_pid(lab: LabState, host_exec, host: str) -> str:
    """containerd.service's main pid: a restart changes it."""
    return run(lab, host_exec, host, "systemctl show -p MainPID --value containerd.service")


def dump(lab: LabState, host_exec, host: str) -> str:
    """What containerd itself reads from the config file."""
    return run(lab, host_exec, host, f"containerd --config {CONFIG} config dump")


def lines_lost(old: bytes | None, new: bytes | None) -> list[str]:
    """The lines of ``old`` that ``new`` no longer has where they were (changed, moved or
    removed): empty when the merge only added lines."""
    diff = difflib.ndiff((old or b"").decode().splitlines(), (new or b"").decode().splitlines())
    return [line[2:] for line in diff if line.startswith("- ")]


@pytest.fixture(scope="module")
def lab() -> Iterator[LabState]:
    # systemd hosts: Debian's own containerd.service runs containerd, as on a node.
    with lab_of(online=len(CASES), restricted=0, trixie=1) as state:
        yield state


@pytest.fixture(scope="module")
def runs(lab, host_exec, tmp_path_factory):
    """Seed every host, run the deploy, note what containerd runs, run it again."""
    shipped = {}
    for host, (config, _) in CASES.items():
        if config is not None:
            seed_file(lab, host_exec, host, CONFIG, config)
        if config == NODE_V2:  # an operator's private file: the rollback must keep the mode
            run(lab, host_exec, host, f"chmod 640 {CONFIG}")
        if config not in (None, REJECTED):  # containerd runs on the file it was given
            run(lab, host_exec, host, "systemctl restart containerd.service")
        shipped[host] = read_bytes(lab, host_exec, host, CONFIG)
    for host in (CDI_OLD_DOCKER, CDI_DOCKER_26):
        fixture = NVIDIA_SMI.format(version="550.54.15").encode()
        seed_file(lab, host_exec, host, "/usr/local/bin/nvidia-smi", fixture)
        run(lab, host_exec, host, "chmod 755 /usr/local/bin/nvidia-smi")
    seed_file(lab, host_exec, CDI_DOCKER_26, "/etc/docker/daemon.json", FEATURES)
    before = {host: containerd_pid(lab, host_exec, host) for host in CASES}
    settings = {host: data for host, (_, data) in CASES.items()}
    inventory = write_inventory(tmp_path_factory.mktemp("inv") / "inventory.py", lab, settings, {})
    first = pyinfra(inventory)
    after_first = {host: containerd_pid(lab, host_exec, host) for host in CASES}
    configs = {host: read_bytes(lab, host_exec, host, CONFIG) for host in CASES}
    specs = {host: read_bytes(lab, host_exec, host, SPEC) for host in CASES}
    stamps = {host: read_bytes(lab, host_exec, host, STAMP) for host in CASES}
    dockerd = {host: dockerd_pid(lab, host_exec, host) for host in CASES}
    # A driver upgrade between the runs on one host: its spec is stale now.
    bumped = NVIDIA_SMI.format(version="570.86.15").encode()
    seed_file(lab, host_exec, CDI_OLD_DOCKER, "/usr/local/bin/nvidia-smi", bumped)
    second = pyinfra(inventory)
    return Runs(
        first, second, shipped, before, after_first, configs, specs, stamps, dockerd, inventory
    )


def test_v2_and_v3_files_gain_the_runtime_and_keep_every_other_line(lab, host_exec, runs):
    for host in MERGED:
        assert host not in summary(runs.first), output(runs.first)
        lost = lines_lost(runs.shipped[host], runs.configs[host])
        # Only the default runtime, asked for on lab-online-2, may replace an operator line.
        wanted = ['      default_runtime_name = "runc"'] if host == "lab-online-2" else []
        assert lost == wanted, runs.configs[host]
        assert runs.pid_after[host] != runs.pid_before[host], f"{host}: containerd not restarted"
        mode = run(lab, host_exec, host, f"stat -c '%a %U' {CONFIG} {CONFIG}.gpu-docker-*.bak")
        # The operator's private 0640 file stays 0640 (never looser than it was).
        kept = "640 root" if CASES[host][0] == NODE_V2 else "644 root"
        assert mode.splitlines() == [kept, "600 root"]
    text = runs.configs["lab-online-2"].decode()
    assert text.startswith("# Managed by the platform team: ask #infra before editing.\n")
    assert "oom_score = -999  # keep containerd alive under memory pressure\n" in text


def test_containerd_reads_the_runtime_and_runs_a_container_with_its_binary(lab, host_exec, runs):
    for host in ("lab-online-1", "lab-online-2"):
        config = dump(lab, host_exec, host)
        assert '[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.nvidia.options]' in config
        assert f'BinaryName = "{BIN}"' in config
    assert 'default_runtime_name = "nvidia"' in dump(lab, host_exec, "lab-online-2")
    assert 'default_runtime_name = "runc"' in dump(lab, host_exec, "lab-online-1")
    # The BinaryName containerd now holds starts a container through containerd's runc shim
    # (the stand-in runtime hands over to runc: no GPU, but the path and shim are real).
    # The native snapshotter: the lab's root is an overlay, which overlayfs cannot stack on.
    ran = run(
        lab,
        host_exec,
        "lab-online-1",
        "tar -C / -ch usr/bin/true lib64/ld-linux-x86-64.so.2 lib/x86_64-linux-gnu/libc.so.6 "
        f"| docker import - {PROBE} >/dev/null && docker save {PROBE} "
        "| ctr -n gpu-docker-test image import --snapshotter native - >/dev/null && "
        f"ctr -n gpu-docker-test run --rm --snapshotter native --runc-binary {BIN} docker.io/library/{PROBE}:latest "
        "gd-probe /usr/bin/true && echo ran",
    )
    assert ran.endswith("ran")


def test_both_engines_leave_docker_with_the_runtime_too(lab, host_exec, runs):
    assert "nvidia" in (docker_runtimes(lab, host_exec, "lab-online-1") or [])
    daemon = read_bytes(lab, host_exec, "lab-online-2", "/etc/docker/daemon.json")
    assert daemon is None  # containerd only: daemon.json is not ours to write


def test_version_3_on_containerd_1_6_is_refused_in_preflight_naming_the_file(lab, host_exec, runs):
    host = "lab-online-3"
    assert runs.configs[host] == NODE_V3 and runs.pid_after[host] == runs.pid_before[host]
    (line,) = host_lines(runs.first, host)
    assert line.startswith(f"gpu-docker: {CONFIG}: config version 3 is containerd 2.x's"), line
    assert "containerd 1.6 has no io.containerd.cri.v1.runtime plugin" in line


def test_version_1_is_refused_in_preflight_naming_the_file(lab, host_exec, runs):
    host = "lab-online-4"
    assert runs.configs[host] == V1 and runs.pid_after[host] == runs.pid_before[host]
    (line,) = host_lines(runs.first, host)
    assert line.startswith(f"gpu-docker: {CONFIG}: config version 1 is not supported"), line
    assert dpkg_state(lab, host_exec, host)[0] == {}  # refused before anything was installed


def test_a_file_containerd_rejects_is_left_untouched(lab, host_exec, runs):
    host = "lab-online-5"
    assert runs.configs[host] == REJECTED and runs.pid_after[host] == runs.pid_before[host]
    (line,) = host_lines(runs.first, host)
    assert f"containerd rejected the merged {CONFIG}" in line and "high" in line, line
    assert "left untouched" in line
    leftovers = run(lab, host_exec, host, "ls -a /etc/containerd")
    assert leftovers.split() == [".", "..", "config.toml"]
    refused = ["lab-online-3", "lab-online-4", "lab-online-5"]
    assert sorted(summary(runs.first)) == refused
    assert sorted(summary(runs.second)) == refused


def test_rerun_changes_nothing_and_restarts_nothing(lab, host_exec, runs):
    for host in MERGED:
        assert read_bytes(lab, host_exec, host, CONFIG) == runs.configs[host]
        assert containerd_pid(lab, host_exec, host) == runs.pid_after[host]
    text = output(runs.second)
    # Hosts, success, error, no change: the two merged hosts and the docker-only ones are
    # unchanged; the file containerd rejects fails the merge again (lab-online-5: pyinfra
    # counts it failed at each later operation too).
    rows = {
        "Merge the nvidia runtime into containerd": ["3", "-", "1", "2"],
        "Apply to containerd": ["3", "-", "1", "2"],
        "Install NVIDIA's udev rule": ["1", "-", "-", "1"],
    }
    for op, counts in rows.items():
        (row,) = [
            line for line in text.splitlines() if line.strip().startswith(f"gpu-docker | {op}")
        ]
        assert row.split()[-4:] == counts, row


def test_preview_of_a_changed_config_shows_the_diff_and_restart(lab, host_exec, runs, run_pyinfra):
    host = "lab-online-2"
    seed_file(lab, host_exec, host, CONFIG, NODE_V2)
    preview = run_pyinfra(
        str(DEPLOY), "--dry", "--diff", "--limit", host, inventory=runs.inventory, yes=False
    )
    seed_file(lab, host_exec, host, CONFIG, runs.configs[host] or b"")  # as merged, again
    text = output(preview)
    assert f"Will modify {CONFIG}" in text, text
    assert '"io.containerd.grpc.v1.cri".containerd.runtimes.nvidia' in text
    assert "containerd will be restarted" in text


def test_cdi_spec_is_generated_once_for_the_driver_and_toolkit(lab, host_exec, runs):
    for host in (CDI_OLD_DOCKER, CDI_DOCKER_26):
        spec = runs.specs[host]
        assert spec is not None and b"gpu-docker TEST FIXTURE nvidia-ctk 1.17.8" in spec, host
        stamp = runs.stamps[host] or b""
        assert stamp.startswith(b"driver=550.54.15 toolkit=NVIDIA Container Toolkit CLI version")
        assert run(lab, host_exec, host, f"stat -c %a {SPEC}") == "644"
    assert runs.specs["lab-online-1"] is None  # cdi off: no spec


def test_cdi_rerun_keeps_a_current_spec_and_regenerates_a_stale_one(lab, host_exec, runs):
    assert read_bytes(lab, host_exec, CDI_DOCKER_26, SPEC) == runs.specs[CDI_DOCKER_26]
    regenerated = read_bytes(lab, host_exec, CDI_OLD_DOCKER, SPEC)
    assert regenerated is not None and regenerated != runs.specs[CDI_OLD_DOCKER]
    assert run(lab, host_exec, CDI_OLD_DOCKER, f"cat {STAMP}").startswith("driver=570.86.15 ")
    lines = [line for line in output(runs.second).splitlines() if "CDI spec is stale" in line]
    assert len(lines) == 1 and f"[{CDI_OLD_DOCKER}]" in lines[0], lines
    # The spec is read per container: neither docker was restarted by the rerun.
    for host in (CDI_OLD_DOCKER, CDI_DOCKER_26):
        assert dockerd_pid(lab, host_exec, host) == runs.dockerd[host]


def test_features_cdi_merged_on_docker_26_with_other_features_kept(lab, host_exec, runs):
    daemon = json.loads(read_bytes(lab, host_exec, CDI_DOCKER_26, "/etc/docker/daemon.json"))
    assert daemon["features"] == {"buildkit": True, "cdi": True}
    assert daemon["log-level"] == "warn"
    info = run(lab, host_exec, CDI_DOCKER_26, "docker info --format '{{json .CDISpecDirs}}'")
    assert "/etc/cdi" in info


def test_older_docker_is_told_why_it_gets_no_features_cdi(lab, host_exec, runs):
    daemon = json.loads(read_bytes(lab, host_exec, CDI_OLD_DOCKER, "/etc/docker/daemon.json"))
    assert "features" not in daemon
    (line,) = host_lines(runs.first, CDI_OLD_DOCKER)
    assert "cannot use CDI devices (features.cdi needs docker 25+)" in line, line
    assert CDI_OLD_DOCKER not in summary(runs.first)


def test_nvml_rule_where_asked_and_the_cgroup_driver_named(lab, host_exec, runs):
    rule = read_bytes(lab, host_exec, CDI_DOCKER_26, "/etc/udev/rules.d/71-nvidia-dev-char.rules")
    assert rule is not None
    assert b'RUN+="/usr/bin/nvidia-ctk system create-dev-char-symlinks --create-all"' in rule
    # No /dev/nvidia* in the lab: nothing to link (the operation changes nothing).
    text = output(runs.first)
    assert f"[{CDI_DOCKER_26}] docker uses the cgroupfs cgroup driver: /dev/char links" in text
    rows = text.splitlines()
    (row,) = [line for line in rows if line.strip().startswith("gpu-docker | Create the /dev/char")]
    assert row.split()[-4:] == ["1", "-", "-", "1"], row
    # auto on a cgroupfs docker: no rule, and the reason.
    assert (
        read_bytes(lab, host_exec, "lab-online-1", "/etc/udev/rules.d/71-nvidia-dev-char.rules")
        is None
    )
    assert "[lab-online-1] docker uses the cgroupfs cgroup driver: no NVML symlinks needed" in text


def test_rollback_puts_back_the_config_tomls_and_restarts_containerd(
    lab, host_exec, runs, run_pyinfra
):
    """The explicit rollback (run last: it undoes the converge) restores containerd's and
    the toolkit's config.toml byte for byte with their mode, restarting containerd."""
    hosts = ("lab-online-1", "lab-online-2")
    pids = {host: containerd_pid(lab, host_exec, host) for host in hosts}
    merged_toolkit = read_bytes(lab, host_exec, "lab-online-1", TOOLKIT_CONFIG) or b""
    assert b"/var/log/nvidia-runtime.log" in merged_toolkit
    limit = ("--limit", "lab-online-1", "--limit", "lab-online-2")
    done = run_pyinfra(str(ROLLBACK), *limit, inventory=runs.inventory)
    assert list(summary(done)) == ["*"], output(done)
    for host in hosts:
        assert read_bytes(lab, host_exec, host, CONFIG) == runs.shipped[host], host
        assert containerd_pid(lab, host_exec, host) != pids[host], f"{host}: not restarted"
        run(lab, host_exec, host, "ctr version >/dev/null")  # containerd answers
        kept = run(lab, host_exec, host, f"stat -c %a {CONFIG}.gpu-docker-*.pre-rollback")
        assert kept == "600"
    assert run(lab, host_exec, "lab-online-2", f"stat -c '%a %U' {CONFIG}") == "640 root"
    toolkit = read_bytes(lab, host_exec, "lab-online-1", TOOLKIT_CONFIG) or b""
    backup = run(lab, host_exec, "lab-online-1", f"base64 -w0 {TOOLKIT_CONFIG}.gpu-docker-*.bak")
    assert toolkit == base64.b64decode(backup) and b"nvidia-runtime.log" not in toolkit
    # containerd only, no runtime settings: the toolkit's file was never changed, and said so.
    text = output(done)
    assert f"no gpu-docker backup of {TOOLKIT_CONFIG}: nothing to roll back to" in text, text
