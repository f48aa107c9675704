"""The pyinfra inventory of the running lab, built from lab.json.

``inventories/sandbox.py`` is a thin wrapper around ``sandbox_groups`` so the host data
(how to reach a host, and which repository, key and bundles the deploy should use there)
is written once, here, where it can be unit tested.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gpu_docker.lab.rootfs import SUDO_PASSWORD_USER, SUDO_USER
from gpu_docker.lab.state import GROUPS, LabHost, LabState, load, state_file

# No GPU in the sandbox: the deploy must install and configure without a driver.
LAB_TOOLKIT_VERSION = "1.20.0"

HostEntry = tuple[str, dict[str, Any]]


class NoLabError(RuntimeError):
    """No lab.json: the sandbox inventory has no hosts until ``gpu-docker lab up``."""


def _login(state: LabState, host: LabHost) -> dict[str, Any]:
    """How pyinfra logs in: root, or a sudo user (``_sudo``), the way operators reach hosts.

    The ``sudo-password`` login gets the lab's throwaway password as ``_sudo_password``, the
    host data pyinfra offers besides prompting (``--use-sudo-password``).
    """
    if host.login == "root":
        return {"ssh_user": "root"}
    if host.login == "sudo":
        return {"ssh_user": SUDO_USER, "_sudo": True}
    return {"ssh_user": SUDO_PASSWORD_USER, "_sudo": True, "_sudo_password": state.sudo_password}


def host_data(state: LabState, host: LabHost) -> dict[str, Any]:
    """pyinfra host data for one lab host: real SSH with strict checking, lab settings."""
    data: dict[str, Any] = {
        "ssh_hostname": host.address,
        **_login(state, host),
        "ssh_key": state.ssh_key,
        "ssh_known_hosts_file": state.known_hosts,
        "ssh_strict_host_key_checking": "yes",
        "toolkit_version": LAB_TOOLKIT_VERSION,
        "require_driver": False,
    }
    if host.group == "online":
        data.update(
            install_method="apt",
            apt_repo_url=state.repo_url,
            apt_key_url=state.key_url,
            apt_key_fingerprint=state.key_fingerprint,
        )
    else:
        data.update(install_method="offline", bundle_dir=state.bundle_dir)
    return data


def build_groups(state: LabState) -> dict[str, list[HostEntry]]:
    """The ``online`` and ``restricted`` groups as pyinfra inventory lists."""
    return {
        group: [(host.name, host_data(state, host)) for host in state.group(group)]
        for group in GROUPS
    }


def sandbox_groups(path: Path | None = None) -> dict[str, list[HostEntry]]:
    """Groups of the lab described by ``path`` (default: the current lab.json)."""
    path = path or state_file()
    state = load(path)
    if state is None:
        raise NoLabError(f"no sandbox lab is up ({path} is missing): run `gpu-docker lab up`")
    return build_groups(state)
