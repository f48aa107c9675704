"""Bring the whole lab up, report on it, and tear it down.

``up`` always starts from nothing (it runs ``down`` first), returns only once every host
answers on SSH and its dockerd answers and can make container cgroups (``dockerd``), and
undoes its own work when any step fails, so a broken lab never lingers. ``down`` trusts names more than the state file:
it sweeps every namespace with the lab's prefix, so it also cleans up after a ``lab up``
that was killed before it could write lab.json.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from gpu_docker.lab import dockerd, hosts, network, repo, rootfs, ssh
from gpu_docker.lab.errors import LabError
from gpu_docker.lab.layout import NFT_TABLE, SUBNETS, plan_hosts
from gpu_docker.lab.state import (
    Init,
    LabHost,
    LabState,
    Login,
    Release,
    cache_dir,
    load,
    save,
    state_dir,
    state_file,
)

#: The stand-in releases the lab serves: one per generation (1.17, 1.18, 1.19, 1.20), and
#: 1.18.1, which older tests pin as "a newer release than 1.17.8".
VERSIONS = ["1.17.8", "1.18.1", "1.18.2", "1.19.1", "1.20.0"]
SSHD_TIMEOUT = 60.0
#: From sshd answering to every dockerd answering: a few seconds on a quiet machine, more
#: for 50 hosts booting on two busy cores.
DOCKERD_TIMEOUT = 120.0
#: From every dockerd answering to every systemd host's /run/nologin gone (usually there
#: already), per start of systemd-user-sessions.
LOGINS_TIMEOUT = 15.0
REQUIRED_TOOLS = (
    "debootstrap",
    "chroot",
    "mount",
    "ip",
    "nft",
    "nsenter",
    "unshare",
    "ssh-keygen",
    "gpg",
    "gpgconf",
    "apt-ftparchive",
    "dpkg-deb",
    "openssl",
)


# What the lab writes in its state directory; down removes these names and nothing else,
# in case GPU_DOCKER_LAB_DIR points somewhere shared.
STATE_ENTRIES = (
    "lab.json",
    "lab.tmp",
    "hosts",
    "repo",
    "debs",
    "gnupg",
    "id_ed25519",
    "id_ed25519.pub",
    "known_hosts",
    "http.pid",
    "http.log",
)


def _http_pid_file(directory: Path) -> Path:
    return directory / "http.pid"


def _remove_entries(directory: Path) -> None:
    for name in STATE_ENTRIES:
        path = directory / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)


def _start_hosts(
    planned: list[LabHost], directory: Path, client_key: str, sudo_password: str
) -> list[LabHost]:
    """Create each host's namespace and key, launch it; return hosts with their pids."""
    cache = cache_dir()
    kinds = sorted({(h.release, h.init) for h in planned})
    lowers = {kind: rootfs.lower_dirs(cache, *kind) for kind in kinds}
    password_hash = _crypt(sudo_password)
    started = []
    for host in planned:
        host_dir = hosts.host_dir(directory, host)
        host_dir.mkdir(parents=True)
        ssh.generate_key(host_dir / "ssh_host_ed25519_key", host.name)
        network.create_netns(host)
        lower = lowers[(host.release, host.init)]
        started.append(hosts.start(host, lower, directory, client_key, password_hash))
    return started


def _crypt(password: str) -> str:
    """``password`` as a SHA-512 crypt hash for /etc/shadow (openssl: no crypt module)."""
    return subprocess.run(
        ["openssl", "passwd", "-6", "-stdin"],
        input=password,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


def _write_known_hosts(started: list[LabHost], directory: Path) -> Path:
    path = directory / "known_hosts"
    lines = []
    for host in started:
        public = (hosts.host_dir(directory, host) / "ssh_host_ed25519_key.pub").read_text()
        lines.append(ssh.known_hosts_line(host.address, public))
    path.write_text("\n".join(lines) + "\n")
    return path


def _build(planned: list[LabHost], directory: Path) -> LabState:
    for subnet in SUBNETS.values():
        network.create_bridge(subnet)
    network.install_firewall()
    client_key = ssh.generate_key(directory / "id_ed25519", "gpu-docker-lab controller")
    built = repo.build(directory, VERSIONS)
    gateway = SUBNETS["online"].gateway
    port = repo.free_port(gateway)
    http_pid = repo.serve(built.root, gateway, port, directory / "http.log")
    _http_pid_file(directory).write_text(f"{http_pid}\n")
    # A throwaway per lab, in lab.json (root only) for the sandbox inventory's sudo-password hosts.
    sudo_password = secrets.token_urlsafe(12)
    started = _start_hosts(planned, directory, client_key, sudo_password)
    known_hosts = _write_known_hosts(started, directory)
    silent = ssh.wait_for_sshd([host.address for host in started], SSHD_TIMEOUT)
    if silent:
        # Teardown deletes the console logs, so the first silent host's log goes in the error.
        first = next(host for host in started if host.address in silent)
        console = (hosts.host_dir(directory, first) / "console.log").read_text(errors="replace")
        names = ", ".join(host.name for host in started if host.address in silent)
        raise LabError(
            f"sshd did not answer on {names}; {first.name}'s console:\n{console[-2000:]}"
        )
    # Tests snapshot hosts as soon as lab up returns: a dockerd still starting would write
    # its first files (/etc/docker/key.json) mid-test, and a host whose cgroups refuse
    # containers would fail tests with runc's words instead of failing here by name.
    for line in dockerd.wait_until_ready(started, DOCKERD_TIMEOUT):
        print(f"lab up: {line}", file=sys.stderr)
    systemd_hosts = [host for host in started if host.init == "systemd"]
    refusing = ssh.open_logins(dockerd.dockerd_pids(systemd_hosts), LOGINS_TIMEOUT)
    if refusing:
        raise LabError(
            "non-root logins still refused (/run/nologin: systemd-user-sessions did not"
            f" start) on {', '.join(refusing)}"
        )
    base = f"http://{gateway}:{port}"
    return LabState(
        hosts=started,
        ssh_key=str(directory / "id_ed25519"),
        known_hosts=str(known_hosts),
        repo_url=f"{base}/stable/deb/$(ARCH)",
        key_url=f"{base}/gpgkey",
        wrong_key_url=f"{base}/gpgkey-wrong",
        key_fingerprint=built.fingerprint.upper(),
        bundle_dir=str(directory / "debs"),
        versions=list(VERSIONS),
        bridges=[subnet.bridge for subnet in SUBNETS.values()],
        nft_table=NFT_TABLE,
        http_pid=http_pid,
        sudo_password=sudo_password,
    )


def _require_tools(init: Init) -> None:
    needed = REQUIRED_TOOLS + (("systemd-nspawn",) if init == "systemd" else ())
    missing = [tool for tool in needed if shutil.which(tool) is None]
    if missing:
        raise LabError(
            f"missing tools: {', '.join(missing)} (scripts/bootstrap.sh installs them;"
            " run as root with /usr/sbin on PATH)"
        )


INOTIFY_INSTANCES = Path("/proc/sys/fs/inotify/max_user_instances")
#: inotify instances a systemd host may hold (PID 1, journald, logind, dbus, udev rules...),
#: with room to spare, and what the controller itself keeps for everything else.
INOTIFY_PER_SYSTEMD_HOST = 32
INOTIFY_FOR_THE_CONTROLLER = 256


def inotify_instances_needed(systemd_hosts: int) -> int:
    """The per-user inotify instance limit ``systemd_hosts`` systemd hosts need (0: none)."""
    if not systemd_hosts:
        return 0
    return INOTIFY_FOR_THE_CONTROLLER + systemd_hosts * INOTIFY_PER_SYSTEMD_HOST


def _ensure_inotify(systemd_hosts: int, limit: Path = INOTIFY_INSTANCES) -> None:
    """Raise (never lower) the inotify instance limit so every systemd host can boot.

    Every host's systemd runs as root, and root's processes share one per-user limit of
    inotify instances (128 on Debian): a dozen systemd hosts exhaust it, and their units
    then fail to start ("Failed to create inotify object: Too many open files"), sshd
    among them.
    """
    wanted = inotify_instances_needed(systemd_hosts)
    if wanted and int(limit.read_text()) < wanted:
        limit.write_text(f"{wanted}\n")


def up(
    online: int,
    restricted: int,
    trixie_docker: int = 0,
    *,
    releases: Sequence[Release] = ("bookworm",),
    init: Init = "systemd",
    logins: Sequence[Login] = ("root",),
) -> LabState:
    """Tear down any old lab, bring up a fresh one, record it in lab.json, return it.

    Returns once every host's sshd and dockerd answer and its cgroups take a container's;
    a host that does not in time is a LabError naming it.

    Hosts of each group take ``releases`` and ``logins`` in turn (see ``plan_hosts``).
    """
    planned = plan_hosts(
        online, restricted, trixie_docker, releases=releases, init=init, logins=logins
    )
    _require_tools(init)
    _ensure_inotify(sum(host.init == "systemd" for host in planned))
    down()
    directory = state_dir()
    directory.mkdir(parents=True, exist_ok=True)
    try:
        state = _build(planned, directory)
        save(state, state_file(directory))
    except BaseException:
        down()
        raise
    return state


def _kill_http_server(directory: Path) -> None:
    pid_file = _http_pid_file(directory)
    if not pid_file.exists():
        return
    pid = int(pid_file.read_text())
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:
        return
    if b"http.server" in cmdline:  # the pid may have been reused since
        hosts.kill([pid])


def _unmount_under(directory: Path) -> None:
    """Lazily unmount anything left mounted below ``directory`` (deepest first)."""
    prefix = str(directory.resolve()) + "/"
    points = [line.split()[1] for line in Path("/proc/self/mounts").read_text().splitlines()]
    for point in sorted((p for p in points if p.startswith(prefix)), reverse=True):
        subprocess.run(["umount", "-l", point], check=False)


def down() -> None:
    """Remove every trace of the lab; quietly does nothing when no lab is up."""
    directory = state_dir()
    for netns in network.lab_netns():
        hosts.kill(network.netns_pids(netns))
        network.delete_netns(netns)
    _kill_http_server(directory)
    network.delete_bridges()
    network.remove_firewall()
    repo.stop_gpg_agent(directory / "gnupg")
    if directory.exists():
        _unmount_under(directory)
        _remove_entries(directory)


@contextmanager
def running_lab(
    online: int,
    restricted: int,
    trixie_docker: int = 0,
    *,
    releases: Sequence[Release] = ("bookworm",),
    init: Init = "systemd",
    logins: Sequence[Login] = ("root",),
) -> Iterator[LabState]:
    """A lab for the duration of a ``with`` block, torn down however the block ends."""
    try:
        yield up(online, restricted, trixie_docker, releases=releases, init=init, logins=logins)
    finally:
        down()


@dataclass(frozen=True)
class HostStatus:
    """One host as ``lab status`` sees it."""

    host: LabHost
    running: bool
    answers: bool


def status() -> list[HostStatus] | None:
    """Each host's process and sshd state, or None when no lab is up."""
    state = load()
    if state is None:
        return None
    return [
        HostStatus(
            host=host,
            running=os.path.exists(f"/proc/{host.pid}"),
            answers=ssh.sshd_answers(host.address),
        )
        for host in state.hosts
    ]
