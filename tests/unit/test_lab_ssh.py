"""How the lab names host keys and builds ssh command lines."""

from __future__ import annotations

import shlex

from gpu_docker.lab.layout import plan_hosts
from gpu_docker.lab.ssh import known_hosts_line, ssh_command
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
