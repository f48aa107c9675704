"""The lab's state file: what is up, where, and what teardown must undo.

Everything that creates or reads the lab (the CLI, ``inventories/sandbox.py``, the tests)
goes through these dataclasses so the JSON has one shape. The pids, namespaces, bridges
and nft table are recorded for readers and tools; teardown itself finds them by the lab's
names too, so it also works when a ``lab up`` died before writing this file.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

Group = Literal["online", "restricted"]
# Debian releases a host can run, each with its own docker.io (20.10.5, 20.10.24, 26.1.5).
Release = Literal["bullseye", "bookworm", "trixie"]
# PID 1 of a host: systemd (booted by systemd-nspawn), or the lab's small sysv-style init.
Init = Literal["systemd", "sysv"]
# How pyinfra logs in: root by key, or a user with sudo (passwordless, or asking a password).
Login = Literal["root", "sudo", "sudo-password"]

GROUPS: tuple[Group, ...] = ("online", "restricted")
RELEASES: tuple[Release, ...] = ("bullseye", "bookworm", "trixie")
INITS: tuple[Init, ...] = ("systemd", "sysv")
LOGINS: tuple[Login, ...] = ("root", "sudo", "sudo-password")

DEFAULT_STATE_DIR = Path("/var/lib/gpu-docker-lab")
DEFAULT_CACHE_DIR = Path("/var/cache/gpu-docker-lab")


def lab_slot() -> int:
    """Which of up to ten side-by-side labs this is (env ``GPU_DOCKER_LAB_SLOT``, 0-9).

    Slots give each lab its own bridges, subnets, firewall table and state directory, so
    a benchmark and a test run can each have a lab on the same machine.
    """
    raw = os.environ.get("GPU_DOCKER_LAB_SLOT", "0") or "0"
    if not raw.isdigit() or not 0 <= int(raw) <= 9:
        raise ValueError(f"GPU_DOCKER_LAB_SLOT must be a digit 0-9, got {raw!r}")
    return int(raw)


def state_dir() -> Path:
    """Where the running lab keeps its files (env ``GPU_DOCKER_LAB_DIR``, else per slot)."""
    explicit = os.environ.get("GPU_DOCKER_LAB_DIR")
    if explicit:
        return Path(explicit)
    slot = lab_slot()
    return (
        DEFAULT_STATE_DIR
        if slot == 0
        else DEFAULT_STATE_DIR.with_name(f"{DEFAULT_STATE_DIR.name}-{slot}")
    )


def cache_dir() -> Path:
    """Where built root filesystems survive between labs (env ``GPU_DOCKER_LAB_CACHE``)."""
    return Path(os.environ.get("GPU_DOCKER_LAB_CACHE") or DEFAULT_CACHE_DIR)


def state_file(directory: Path | None = None) -> Path:
    """The lab.json inside a state directory."""
    return (directory or state_dir()) / "lab.json"


@dataclass(frozen=True)
class LabHost:
    """One throwaway host: its ssh name and address, its group, release, init and login.

    ``netns``, ``veth`` and ``pid`` (the process holding the host's namespaces) are what
    teardown needs.
    """

    name: str
    address: str
    group: Group
    release: Release
    netns: str
    veth: str
    init: Init = "systemd"
    login: Login = "root"
    pid: int = 0


@dataclass(frozen=True)
class LabState:
    """The whole lab as written to ``lab.json``."""

    hosts: list[LabHost]
    ssh_key: str
    known_hosts: str
    repo_url: str
    key_url: str
    wrong_key_url: str
    key_fingerprint: str
    bundle_dir: str
    versions: list[str]
    bridges: list[str]
    nft_table: str
    http_pid: int = 0
    # sudo's password for the ``sudo-password`` login, made per lab (a throwaway test value).
    sudo_password: str = ""

    def group(self, group: Group) -> list[LabHost]:
        """The hosts of one group, in name order."""
        return [host for host in self.hosts if host.group == group]

    def host(self, name: str) -> LabHost:
        """The host called ``name``; KeyError names the hosts that exist."""
        for host in self.hosts:
            if host.name == name:
                return host
        raise KeyError(f"no lab host {name!r}; hosts: {', '.join(h.name for h in self.hosts)}")


def dump(state: LabState) -> str:
    """Serialise the state as stable, readable JSON."""
    return json.dumps(asdict(state), indent=2, sort_keys=True) + "\n"


def parse(text: str) -> LabState:
    """Parse lab.json text back into a LabState."""
    raw = json.loads(text)
    hosts = [LabHost(**host) for host in raw.pop("hosts")]
    return LabState(hosts=hosts, **raw)


def save(state: LabState, path: Path) -> None:
    """Write the state atomically, so a reader never sees half a file; root-only (0600),
    since it holds the lab's sudo password."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as out:
        out.write(dump(state))
    tmp.replace(path)


def load(path: Path | None = None) -> LabState | None:
    """The running lab's state, or None when no lab is up."""
    path = path or state_file()
    if not path.exists():
        return None
    return parse(path.read_text())
