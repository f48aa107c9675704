"""How lab up decides every host's dockerd is ready: which cgroups it probes, what it says."""

from __future__ import annotations

from collections.abc import Iterable

import pytest

from gpu_docker.lab import dockerd
from gpu_docker.lab.errors import LabError
from gpu_docker.lab.layout import plan_hosts
from gpu_docker.lab.state import LabHost

# A systemd host's dockerd as nspawn mounts it (cgroup v1 hybrid), after the boot remount.
NSPAWN_V1 = """\
overlay / overlay rw,relatime,lowerdir=/a:/b,upperdir=/u,workdir=/w 0 0
tmpfs /sys/fs/cgroup tmpfs ro,nosuid,nodev,noexec,size=4096k,mode=755 0 0
cgroup /sys/fs/cgroup/cpuset cgroup rw,nosuid,nodev,noexec,relatime,cpuset 0 0
cgroup /sys/fs/cgroup/memory cgroup ro,nosuid,nodev,noexec,relatime,memory 0 0
cgroup /sys/fs/cgroup/cpu,cpuacct cgroup rw,nosuid,nodev,noexec,relatime,cpu,cpuacct 0 0
cgroup /sys/fs/cgroup/unified cgroup2 rw,nosuid,nodev,noexec,relatime 0 0
cgroup /sys/fs/cgroup/systemd cgroup rw,nosuid,nodev,noexec,relatime,name=systemd 0 0
cgroup /sys/fs/cgroup/elogind cgroup rw,nosuid,nodev,noexec,relatime,name=elogind 0 0
"""
PURE_V2 = """\
sysfs /sys sysfs ro,nosuid,nodev,noexec,relatime 0 0
cgroup2 /sys/fs/cgroup cgroup2 rw,nosuid,nodev,noexec,relatime,nsdelegate 0 0
"""


def test_every_v1_controller_is_probed_but_not_systemds_or_the_hybrid_cgroup2() -> None:
    # Read-only or not: the probe, not the mount option, decides (a ro flag is the usual
    # cause, and the probe's error then says so).
    assert dockerd.cgroup_hierarchies(NSPAWN_V1) == [
        "/sys/fs/cgroup/cpuset",
        "/sys/fs/cgroup/memory",
        "/sys/fs/cgroup/cpu,cpuacct",
    ]


def test_a_pure_cgroup2_host_is_probed_at_its_one_hierarchy() -> None:
    assert dockerd.cgroup_hierarchies(PURE_V2) == ["/sys/fs/cgroup"]


def test_a_hierarchy_mounted_twice_is_probed_once() -> None:
    line = "cgroup /sys/fs/cgroup/pids cgroup rw,pids 0 0\n"
    assert dockerd.cgroup_hierarchies(line + line) == ["/sys/fs/cgroup/pids"]


def test_the_timeout_names_every_silent_host_on_one_line() -> None:
    message = dockerd.silent_message({"lab-online-2": 4242, "lab-online-1": None}, 120)
    assert message == (
        "dockerd did not answer /_ping within 120 s on lab-online-1 (no dockerd process),"
        " lab-online-2 (dockerd pid 4242 silent)"
    )
    assert "\n" not in message


def test_wait_returns_once_every_dockerd_answers_looking_again_at_the_silent_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hosts = plan_hosts(2, 1)
    looked_at: list[list[str]] = []

    def pids(hosts_now: Iterable[LabHost]) -> dict[str, int]:
        looked_at.append([host.name for host in hosts_now])
        return {host.name: index + 1 for index, host in enumerate(hosts)}

    def answers(pid: int) -> bool:  # lab-online-2 (pid 2) answers from the second round on
        return pid != 2 or len(looked_at) > 1

    monkeypatch.setattr(dockerd, "dockerd_pids", pids)
    monkeypatch.setattr(dockerd, "docker_answers", answers)
    monkeypatch.setattr(dockerd, "POLL_INTERVAL", 0)
    dockerd.wait_for_docker(hosts, timeout=5)
    assert looked_at == [[h.name for h in hosts], ["lab-online-2"]]


def test_wait_gives_up_after_the_timeout_naming_the_silent_hosts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hosts = plan_hosts(1, 1)
    monkeypatch.setattr(dockerd, "dockerd_pids", lambda _: {"lab-restricted-1": 7})
    monkeypatch.setattr(dockerd, "docker_answers", lambda pid: False)
    monkeypatch.setattr(dockerd, "POLL_INTERVAL", 0)
    with pytest.raises(LabError) as raised:
        dockerd.wait_for_docker(hosts, timeout=0)
    assert str(raised.value) == (
        "dockerd did not answer /_ping within 0 s on lab-online-1 (no dockerd process),"
        " lab-restricted-1 (dockerd pid 7 silent)"
    )


def test_a_host_whose_cgroups_refuse_a_container_fails_the_lab_by_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hosts = plan_hosts(3, 0)
    pids = {"lab-online-1": 11, "lab-online-2": 12}  # lab-online-3's dockerd has gone
    refused = {12: ["/sys/fs/cgroup/cpuset: Read-only file system"]}
    monkeypatch.setattr(dockerd, "dockerd_pids", lambda _: pids)
    monkeypatch.setattr(dockerd, "unwritable_cgroups", lambda pid: refused.get(pid, []))
    with pytest.raises(LabError) as raised:
        dockerd.check_cgroups(hosts)
    assert str(raised.value) == (
        "containers could not be started (no cgroup can be made) on"
        " lab-online-2 (/sys/fs/cgroup/cpuset: Read-only file system),"
        " lab-online-3 (dockerd exited)"
    )


def test_hosts_whose_cgroups_take_a_container_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    hosts = plan_hosts(1, 1)
    monkeypatch.setattr(dockerd, "dockerd_pids", lambda _: {h.name: 5 for h in hosts})
    monkeypatch.setattr(dockerd, "unwritable_cgroups", lambda pid: [])
    dockerd.check_cgroups(hosts)


def test_hierarchies_a_boot_left_read_only_are_remounted_and_named(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hosts = plan_hosts(2, 0)
    monkeypatch.setattr(dockerd, "dockerd_pids", lambda _: {"lab-online-1": 11, "lab-online-2": 12})
    refused = {12: {"/sys/fs/cgroup/cpuset": "Read-only file system"}}
    monkeypatch.setattr(dockerd, "_refusing", lambda pid: refused.get(pid, {}))
    ran: list[list[str]] = []
    monkeypatch.setattr(dockerd.subprocess, "run", lambda argv, **_: ran.append(argv))
    assert dockerd.mend_cgroups(hosts) == [
        "lab-online-2: remounted /sys/fs/cgroup/cpuset read-write after its boot"
    ]
    assert ran == [
        ["nsenter", "-t", "12", "-m", "mount", "-o", "remount,bind,rw", "/sys/fs/cgroup/cpuset"]
    ]
