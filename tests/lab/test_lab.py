"""The sandbox lab itself: real SSH hosts, real dockerd, a signed repo only online hosts see.

These tests prove the lab is a faithful test bed before the deploy is tested on it: if
one fails, deploy test failures on the lab mean nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from gpu_docker import toolkit
from gpu_docker.bundle.manifest import load_manifest, verify_bundle
from gpu_docker.lab.dockerd import check_cgroups, docker_answers, dockerd_pids, mend_cgroups
from gpu_docker.lab.errors import LabError
from gpu_docker.lab.layout import SUBNETS
from gpu_docker.lab.state import LabState

pytestmark = pytest.mark.lab

ONLINE_HOST = "lab-online-1"
RESTRICTED_HOST = "lab-restricted-1"
TEST_LIST = "/etc/apt/sources.list.d/gpu-docker-lab-test.list"
TEST_KEYRING = "/etc/apt/keyrings/gpu-docker-lab-test.gpg"
PACKAGES = toolkit.PACKAGES


def _repo_root(lab: LabState) -> str:
    return lab.key_url.rsplit("/", 1)[0]


def _apt(lab_args: str) -> str:
    """apt-get reading only this module's source list, whatever else the host has.

    The deploy tests leave the toolkit source (another keyring, same URL) on the hosts;
    apt refuses two Signed-By values for one source, so these tests keep to their own.
    """
    return f"apt-get -o Dir::Etc::SourceList={TEST_LIST} -o Dir::Etc::SourceParts=/nonexistent {lab_args}"


@contextmanager
def _lab_source(lab: LabState, host_exec, *, signed_by: bool) -> Iterator[None]:
    """Point ``ONLINE_HOST``'s apt at the lab repo; remove every trace afterwards."""
    option = f"[signed-by={TEST_KEYRING}] " if signed_by else ""
    line = f"deb {option}{lab.repo_url} /"
    setup = (
        "rm -f /var/lib/apt/lists/*10.213*"  # no index left by the deploy tests to fall back on
        f" && mkdir -p /etc/apt/keyrings && curl -fsS {lab.key_url} | gpg --dearmor > {TEST_KEYRING}"
        f" && echo '{line}' > {TEST_LIST}"
    )
    assert host_exec(lab, ONLINE_HOST, setup).returncode == 0
    try:
        yield
    finally:
        cleanup = (
            f"apt-get purge -y -q {' '.join(PACKAGES)} >/dev/null 2>&1;"
            f" rm -f {TEST_LIST} {TEST_KEYRING} /var/lib/apt/lists/*10.213*"
        )
        host_exec(lab, ONLINE_HOST, cleanup)


def test_lab_up_returns_with_every_dockerd_answering_and_able_to_make_cgroups(
    lab: LabState,
) -> None:
    # First in the module, right after the fixture's lab up: no waiting here.
    pids = dockerd_pids(lab.hosts)
    assert sorted(pids) == sorted(host.name for host in lab.hosts)
    assert all(docker_answers(pid) for pid in pids.values())
    check_cgroups(lab.hosts)


def test_every_host_answers_pyinfra_over_strict_ssh(lab: LabState, run_pyinfra) -> None:
    result = run_pyinfra("exec", "--", "true")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    succeeded = set(re.findall(r"\[([\w-]+)\]\s+Success", output))
    assert succeeded == {host.name for host in lab.hosts}, output


@pytest.mark.parametrize("known_hosts", ["changed", "empty"])
def test_unknown_or_changed_host_key_is_refused(
    lab: LabState, run_pyinfra, tmp_path: Path, known_hosts: str
) -> None:
    host = lab.host(ONLINE_HOST)
    path = tmp_path / "known_hosts"
    if known_hosts == "changed":
        # Another host's genuine key, listed under this host's address.
        other = next(
            line
            for line in Path(lab.known_hosts).read_text().splitlines()
            if not line.startswith(f"{host.address} ")
        )
        path.write_text(f"{host.address} {other.split(' ', 1)[1]}\n")
    else:
        path.write_text("")
    result = run_pyinfra(
        "--limit", host.name, "--data", f"ssh_known_hosts_file={path}", "exec", "--", "true"
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    expected = "does not match" if known_hosts == "changed" else "No host key"
    assert expected in output


def _docker_version(lab: LabState, host_exec, name: str) -> str:
    """The dockerd version, asked once: lab up returned only after dockerd answered."""
    result = host_exec(lab, name, "docker info --format '{{.ServerVersion}}'")
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_dockerd_answers_in_every_host(lab: LabState, host_exec) -> None:
    for host in lab.hosts:
        version = _docker_version(lab, host_exec, host.name)
        expected = "26." if host.release == "trixie" else "20.10."
        assert version.startswith(expected), (host.name, version)


def test_trixie_docker_validates_daemon_json(lab: LabState, host_exec) -> None:
    trixie = [host for host in lab.hosts if host.release == "trixie"]
    assert trixie, "the session lab has a trixie docker host"
    for host in trixie:
        script = "echo '{\"bogus-key\": 1}' > /tmp/bad.json; dockerd --validate --config-file /tmp/bad.json"
        result = host_exec(lab, host.name, script)
        assert result.returncode != 0
        assert "bogus-key" in result.stderr


def test_hosts_run_systemd_with_docker_service_and_have_no_default_route(
    lab: LabState, host_exec
) -> None:
    for host in lab.hosts:
        assert host.init == "systemd"
        script = "cat /proc/1/comm && systemctl is-active docker.service && ip route show default"
        result = host_exec(lab, host.name, script)
        assert result.returncode == 0, (host.name, result.stdout, result.stderr)
        assert result.stdout.split() == ["systemd", "active"], (host.name, result.stdout)


def test_a_read_only_cgroup_fails_the_lab_by_name_and_the_boot_remount_mends_it(
    lab: LabState, host_exec
) -> None:
    """The CI flake: a host whose cpuset stayed read-only after boot (runc: "mkdir
    /sys/fs/cgroup/cpuset/docker/...: read-only file system"). lab up's check names the
    host; the host's boot-time remount, run again, makes the controller writable."""
    name = RESTRICTED_HOST
    stuck = host_exec(lab, name, "mount -o remount,bind,ro /sys/fs/cgroup/cpuset")
    assert stuck.returncode == 0, stuck.stderr
    try:
        with pytest.raises(LabError) as raised:
            check_cgroups(lab.hosts)
        assert str(raised.value) == (
            "containers could not be started (no cgroup can be made) on"
            f" {name} (/sys/fs/cgroup/cpuset: Read-only file system)"
        )
    finally:
        mended = host_exec(lab, name, "/usr/local/sbin/gpu-docker-lab-cgroups")
    assert mended.returncode == 0, mended.stderr
    check_cgroups(lab.hosts)


def test_lab_up_remounts_a_read_only_cgroup_from_outside(lab: LabState, host_exec) -> None:
    """What lab up does when a host's boot left its controllers read-only anyway."""
    name = RESTRICTED_HOST
    stuck = host_exec(lab, name, "mount -o remount,bind,ro /sys/fs/cgroup/cpuset")
    assert stuck.returncode == 0, stuck.stderr
    assert mend_cgroups(lab.hosts) == [
        f"{name}: remounted /sys/fs/cgroup/cpuset read-write after its boot"
    ]
    check_cgroups(lab.hosts)
    assert mend_cgroups(lab.hosts) == []


def test_served_keys_have_the_recorded_fingerprint(lab: LabState, host_exec) -> None:
    def fingerprint(url: str) -> str:
        result = host_exec(lab, ONLINE_HOST, f"curl -fsS {url} | gpg --show-keys --with-colons")
        assert result.returncode == 0, result.stderr
        return next(
            line.split(":")[9] for line in result.stdout.splitlines() if line.startswith("fpr:")
        )

    assert fingerprint(lab.key_url) == lab.key_fingerprint
    assert fingerprint(lab.wrong_key_url) != lab.key_fingerprint


def test_apt_update_without_the_keyring_reports_no_pubkey(lab: LabState, host_exec) -> None:
    with _lab_source(lab, host_exec, signed_by=False):
        result = host_exec(lab, ONLINE_HOST, _apt("update"))
    assert result.returncode != 0
    assert "NO_PUBKEY" in result.stdout + result.stderr


def test_standin_packages_install_from_the_signed_repo(lab: LabState, host_exec) -> None:
    pinned = " ".join(f"{package}=1.17.8-1" for package in PACKAGES)
    with _lab_source(lab, host_exec, signed_by=True):
        update = host_exec(lab, ONLINE_HOST, _apt("update"))
        assert update.returncode == 0, update.stdout + update.stderr
        assert "NO_PUBKEY" not in update.stdout + update.stderr
        install = host_exec(lab, ONLINE_HOST, _apt(f"install -y -q {pinned}"))
        assert install.returncode == 0, install.stdout + install.stderr
        version = host_exec(lab, ONLINE_HOST, "nvidia-ctk --version")
    assert "1.17.8" in version.stdout
    assert "test fixture" in version.stdout


def test_restricted_host_cannot_reach_the_repo_even_with_a_route(lab: LabState, host_exec) -> None:
    probe = f"curl -fsS -m 3 -o /dev/null {_repo_root(lab)}/gpgkey"
    assert host_exec(lab, ONLINE_HOST, probe).returncode == 0, "the probe itself must work"
    assert host_exec(lab, RESTRICTED_HOST, probe).returncode != 0
    gateway = SUBNETS["restricted"].gateway
    add_route = host_exec(lab, RESTRICTED_HOST, f"ip route add default via {gateway}")
    assert add_route.returncode == 0, add_route.stderr
    try:
        assert host_exec(lab, RESTRICTED_HOST, probe).returncode != 0
    finally:
        host_exec(lab, RESTRICTED_HOST, "ip route del default")


def test_offline_bundles_of_every_version_verify(lab: LabState) -> None:
    for version in lab.versions:
        manifest = load_manifest(Path(lab.bundle_dir), version, "amd64")
        verify_bundle(manifest)
        assert [entry.package for entry in manifest.entries] == list(PACKAGES)
