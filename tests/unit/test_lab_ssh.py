"""How the lab names host keys and builds ssh command lines."""

from __future__ import annotations

import shlex
import threading
from pathlib import Path

from gpu_docker.lab.layout import plan_hosts
from gpu_docker.lab.ssh import known_hosts_line, ssh_command, wait_for_logins
from gpu_docker.lab.state import LabState


def test_known_hosts_lists_the_address_pyinfra_connects_to() -> None:
    line = known_hosts_line("10.213.0.10", "ssh-ed25519 AAAAC3Nz lab-online-1\n")
    assert line == "10.213.0.10 ssh-ed25519 AAAAC3Nz"


def test_ssh_command_checks_host_keys_strictly_and_quotes_arguments() -> None:
    host = plan_hosts(1, 0)[0]
    state = LabState(
        hosts=[host],
        ssh_key="/lab/id_ed25519",
        known_hosts="/lab/known_hosts",
        repo_url="",
        key_url="",
        wrong_key_url="",
        key_fingerprint="",
        bundle_dir="",
        versions=[],
        bridges=[],
        nft_table="",
    )
    argv = ssh_command(state, host, ["echo", "a b; true"])
    assert "StrictHostKeyChecking=yes" in argv
    assert "UserKnownHostsFile=/lab/known_hosts" in argv
    assert argv[-2] == f"root@{host.address}"  # the lab slot picks the subnet
    assert shlex.split(argv[-1]) == ["echo", "a b; true"]


def _host_root(proc: Path, pid: int, booting: bool) -> Path:
    run = proc / str(pid) / "root/run"
    run.mkdir(parents=True)
    nologin = run / "nologin"
    if booting:
        nologin.write_text("System is booting up.\n")
    return nologin


def test_wait_for_logins_names_the_hosts_still_booting(tmp_path: Path) -> None:
    _host_root(tmp_path, 10, booting=False)
    _host_root(tmp_path, 20, booting=True)
    refusing = wait_for_logins({"lab-online-1": 10, "lab-online-2": 20}, 0.3, tmp_path)
    assert refusing == ["lab-online-2"]


def test_wait_for_logins_returns_once_the_boot_removes_nologin(tmp_path: Path) -> None:
    nologin = _host_root(tmp_path, 30, booting=True)
    timer = threading.Timer(0.3, nologin.unlink)
    timer.start()
    try:
        assert wait_for_logins({"lab-restricted-3": 30}, 10.0, tmp_path) == []
    finally:
        timer.cancel()
