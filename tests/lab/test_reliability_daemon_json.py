"""Reliability: every daemon.json shape an operator may have, in one run over 14 hosts.

Each host starts with its own daemon.json (bad, odd or awkward); one pyinfra run converges
them all. A file that cannot be merged must come out byte-identical, with one line naming
the host and the cause and the summary naming the host; every other host converges, with
the operator's keys, order and values kept. The pure merge rules are unit-tested in
tests/unit/test_daemon_json.py; this module proves them over SSH against real dockerd.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from hosts_state import (
    docker_runtimes,
    docker_snapshot,
    dpkg_state,
    host_lines,
    lab_of,
    output,
    pyinfra,
    read_bytes,
    seed_file,
    snapshot,
    summary,
    write_inventory,
)

from gpu_docker.lab.inventory import LAB_TOOLKIT_VERSION as PIN
from gpu_docker.lab.state import LabState

pytestmark = pytest.mark.lab

DAEMON_JSON = "/etc/docker/daemon.json"
NVIDIA = {"path": "nvidia-container-runtime", "args": []}
OPERATOR_ORDER = {
    "log-level": "warn",
    "registry-mirrors": ["https://mirror.example.invalid"],
    "debug": False,
    "labels": ["rack=b7"],
    "max-concurrent-downloads": 4,
}
# About 1 MiB of labels: dockerd starts with it, the merge must carry every byte of it.
LARGE = {"labels": [f"filler-{i:06d}={'x' * 90}" for i in range(10_000)], "debug": False}


@dataclass(frozen=True)
class Case:
    """One host's starting daemon.json and what the run must leave."""

    host: str
    content: bytes
    refused: str = ""  # the cause the host fails with; empty = it must converge


CASES = [
    Case("lab-restricted-1", b'{"log-level": "warn",\n', refused="not valid JSON (line 2"),
    Case("lab-restricted-2", b""),
    Case("lab-restricted-3", b" \n\t \n"),
    Case("lab-restricted-4", b'\xef\xbb\xbf{"log-level": "warn"}\n'),
    Case("lab-restricted-5", b'[{"debug": true}]\n', refused="top level is a JSON array"),
    Case("lab-restricted-6", b'"debug"\n', refused="top level is a JSON string"),
    Case(
        "lab-restricted-7",
        b'{"runtimes": ["nvidia"]}\n',
        refused='"runtimes" is a JSON array, not an object',
    ),
    Case(
        "lab-restricted-8",
        json.dumps(
            {
                "runtimes": {"crun-like": {"path": "/usr/sbin/runc"}},
                "default-runtime": "crun-like",
            },
            indent=2,
        ).encode(),
    ),
    Case(
        "lab-restricted-9",
        json.dumps({"features": {"buildkit": True, "containerd-snapshotter": False}}).encode(),
    ),
    Case("lab-restricted-10", json.dumps({"log-level": "info"}, indent="\t").encode()),  # symlink
    Case("lab-restricted-11", json.dumps(LARGE, indent=1).encode()),
    Case("lab-restricted-12", json.dumps(OPERATOR_ORDER, indent=3).encode() + b"\n"),
    Case("lab-online-1", b"", refused=""),  # no file at all (removed below): created
    Case(
        "lab-online-2",  # docker 26: dockerd --validate checks what we write
        json.dumps(
            {
                "runtimes": {
                    "nvidia": {
                        "path": "/usr/local/bin/nvidia-container-runtime",
                        "runtimeArgs": ["--debug"],
                    }
                }
            }
        ).encode(),
    ),
]
SYMLINK_HOST, SYMLINK_TARGET = "lab-restricted-10", "/etc/docker/conf.d/real-daemon.json"
NO_FILE_HOST = "lab-online-1"
PRIVATE_HOST = "lab-restricted-12"  # its operator keeps daemon.json 0600


@pytest.fixture(scope="module")
def lab() -> Iterator[LabState]:
    with lab_of(online=2, restricted=12, trixie=1) as state:
        yield state


@pytest.fixture(scope="module")
def run(lab, host_exec, tmp_path_factory):
    """Seed every host, snapshot, run the deploy once, return (run, snapshots before)."""
    for case in CASES:
        path = SYMLINK_TARGET if case.host == SYMLINK_HOST else DAEMON_JSON
        seed_file(lab, host_exec, case.host, path, case.content)
    private = host_exec(lab, PRIVATE_HOST, f"chmod 0600 {DAEMON_JSON}")
    assert private.returncode == 0, private.stderr
    link = host_exec(lab, SYMLINK_HOST, f"ln -sf {SYMLINK_TARGET} {DAEMON_JSON}")
    assert link.returncode == 0, link.stderr
    assert host_exec(lab, NO_FILE_HOST, f"rm -f {DAEMON_JSON}").returncode == 0
    before = {case.host: docker_snapshot(lab, host_exec, case.host) for case in CASES}
    inventory = write_inventory(tmp_path_factory.mktemp("inv") / "inventory.py", lab, {}, {})
    return pyinfra(inventory), before


def _current(lab, host_exec, host: str) -> bytes:
    found = read_bytes(lab, host_exec, host, DAEMON_JSON)
    assert found is not None, f"{host}: daemon.json vanished"
    return found


@pytest.mark.parametrize("case", [c for c in CASES if c.refused], ids=lambda c: c.host)
def test_unmergeable_file_is_left_byte_identical_and_named(lab, host_exec, run, case):
    result, before = run
    assert _current(lab, host_exec, case.host) == case.content
    assert docker_snapshot(lab, host_exec, case.host) == before[case.host]
    status, audit = dpkg_state(lab, host_exec, case.host)  # refused in preflight: untouched
    assert status == {} and audit == "", status
    (line,) = host_lines(result, case.host)
    assert line.startswith(f"gpu-docker: {DAEMON_JSON}: ") and case.refused in line, line
    assert line.endswith("left untouched, fix it and run again")
    assert summary(result)[case.host].startswith("failed at: ")
    assert "nvidia" not in (docker_runtimes(lab, host_exec, case.host) or [])


@pytest.mark.parametrize("case", [c for c in CASES if not c.refused], ids=lambda c: c.host)
def test_every_other_host_converges(lab, host_exec, run, case):
    result, _ = run
    assert case.host not in summary(result), output(result)
    assert host_lines(result, case.host) == []
    assert "nvidia" in (docker_runtimes(lab, host_exec, case.host) or []), case.host
    status, audit = dpkg_state(lab, host_exec, case.host)
    assert set(status.values()) == {f"ii{PIN}-1"} and len(status) == 4 and audit == ""


def test_run_fails_overall_because_some_hosts_failed(run):
    result, _ = run
    assert result.returncode != 0
    assert sorted(summary(result)) == sorted(c.host for c in CASES if c.refused)


def _data(lab, host_exec, host: str) -> dict:
    return json.loads(_current(lab, host_exec, host).decode())


@pytest.mark.parametrize("host", ["lab-restricted-2", "lab-restricted-3", NO_FILE_HOST])
def test_empty_whitespace_or_missing_file_reads_as_empty(lab, host_exec, run, host):
    assert _data(lab, host_exec, host) == {"runtimes": {"nvidia": NVIDIA}}


def test_bom_is_read_like_dockerd_and_keys_kept(lab, host_exec, run):
    data = _data(lab, host_exec, "lab-restricted-4")
    assert data == {"log-level": "warn", "runtimes": {"nvidia": NVIDIA}}


def test_default_runtime_elsewhere_is_kept_with_set_as_default_off(lab, host_exec, run):
    data = _data(lab, host_exec, "lab-restricted-8")
    assert data["default-runtime"] == "crun-like"
    assert data["runtimes"] == {"crun-like": {"path": "/usr/sbin/runc"}, "nvidia": NVIDIA}


def test_other_feature_flags_are_kept(lab, host_exec, run):
    data = _data(lab, host_exec, "lab-restricted-9")
    assert data["features"] == {"buildkit": True, "containerd-snapshotter": False}


def test_symlinked_file_target_is_edited_and_link_stays(lab, host_exec, run):
    link = host_exec(lab, SYMLINK_HOST, f"readlink {DAEMON_JSON}; stat -c %a {SYMLINK_TARGET}")
    assert link.stdout.split() == [SYMLINK_TARGET, "644"]
    text = read_bytes(lab, host_exec, SYMLINK_HOST, SYMLINK_TARGET).decode()
    assert text.startswith('{\n\t"log-level": "info"')  # the operator's tab indent
    backups = host_exec(lab, SYMLINK_HOST, "ls /etc/docker/conf.d/ /etc/docker/")
    assert "real-daemon.json.gpu-docker-" in backups.stdout


def test_large_file_is_carried_whole(lab, host_exec, run):
    data = _data(lab, host_exec, "lab-restricted-11")
    assert data == {**LARGE, "runtimes": {"nvidia": NVIDIA}}


def test_key_order_and_values_are_preserved(lab, host_exec, run):
    data = _data(lab, host_exec, "lab-restricted-12")
    assert list(data) == [*OPERATOR_ORDER, "runtimes"]
    assert {k: data[k] for k in OPERATOR_ORDER} == OPERATOR_ORDER
    assert _current(lab, host_exec, "lab-restricted-12").startswith(b'{\n   "log-level"')


def test_existing_nvidia_entry_converges_path_and_keeps_runtime_args(lab, host_exec, run):
    """Documented choice: ``path`` is converged to ``runtime_path``; other keys stay."""
    data = _data(lab, host_exec, "lab-online-2")
    assert data["runtimes"]["nvidia"] == {
        "path": "nvidia-container-runtime",
        "runtimeArgs": ["--debug"],
        "args": [],
    }


def test_second_run_changes_nothing_on_converged_hosts(lab, host_exec, run, tmp_path):
    converged = [c.host for c in CASES if not c.refused]
    before = {host: snapshot(lab, host_exec, host) for host in converged}
    inventory = write_inventory(tmp_path / "inventory.py", lab, {}, {})
    again = pyinfra(inventory, "--limit", ",".join(converged))
    assert again.returncode == 0, output(again)
    assert {host: snapshot(lab, host_exec, host) for host in converged} == before


def test_a_private_file_stays_private(lab, host_exec, run):
    """An operator's 0600 daemon.json (it may hold proxy credentials) is not made
    world-readable by the merge; docker runs with the runtime."""
    found = host_exec(lab, PRIVATE_HOST, f"stat -c '%a %U:%G' {DAEMON_JSON}")
    assert found.stdout.split() == ["600", "root:root"], found.stdout
    assert "nvidia" in (docker_runtimes(lab, host_exec, PRIVATE_HOST) or [])
