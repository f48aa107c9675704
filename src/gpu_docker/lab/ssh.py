"""SSH identities of the lab: the controller's key, each host's key, the known_hosts.

Hosts are reached like real servers: by key (root, or a sudo user), with strict host key checking
against a known_hosts file the lab writes, so a test proves that pyinfra's SSH connector
verifies host keys rather than trusting on first use.
"""

from __future__ import annotations

import shlex
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from gpu_docker.lab.state import LabHost, LabState


def generate_key(path: Path, comment: str) -> str:
    """Make an ed25519 key pair at ``path`` (replacing any) and return the public line."""
    for old in (path, path.with_name(path.name + ".pub")):
        old.unlink(missing_ok=True)
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
        check=True,
    )
    return path.with_name(path.name + ".pub").read_text().strip()


def known_hosts_line(address: str, public_key: str) -> str:
    """A known_hosts entry for ``address`` from a ``.pub`` line (type, key, comment)."""
    key_type, key = public_key.split()[:2]
    return f"{address} {key_type} {key}"


def ssh_command(state: LabState, host: LabHost, command: Sequence[str] | str) -> list[str]:
    """The OpenSSH argv that runs ``command`` on ``host`` as pyinfra would reach it."""
    remote = command if isinstance(command, str) else shlex.join(command)
    return [
        "ssh",
        "-i",
        state.ssh_key,
        "-o",
        f"UserKnownHostsFile={state.known_hosts}",
        "-o",
        "GlobalKnownHostsFile=/dev/null",
        "-o",
        "StrictHostKeyChecking=yes",
        "-o",
        "BatchMode=yes",
        "-o",
        "ConnectTimeout=5",
        f"root@{host.address}",
        remote,
    ]


def sshd_answers(address: str, timeout: float = 1.0) -> bool:
    """Whether an sshd at ``address`` sends its banner."""
    try:
        with socket.create_connection((address, 22), timeout=timeout) as conn:
            return conn.recv(4).startswith(b"SSH-")
    except OSError:
        return False


def wait_for_sshd(addresses: Sequence[str], timeout: float) -> list[str]:
    """Poll until every address answers or ``timeout`` passes; return the silent ones."""
    pending = list(addresses)
    deadline = time.monotonic() + timeout
    while pending and time.monotonic() < deadline:
        pending = [address for address in pending if not sshd_answers(address)]
        if pending:
            time.sleep(0.1)
    return pending


#: The unit that removes /run/nologin once a systemd host's boot has come far enough.
USER_SESSIONS = "systemd-user-sessions.service"


def logins_refused(pid: int, proc: Path = Path("/proc")) -> bool:
    """Whether the host that process ``pid`` runs in still refuses non-root logins.

    systemd makes /run/nologin early in boot and ``systemd-user-sessions.service`` removes
    it later; until then pam_nologin turns away every user but root, after sshd has already
    answered (pyinfra then says "Authentication failed: transport shut down or saw EOF" for
    the lab's sudo users). ``pid`` must run inside the host's root (its dockerd does).
    """
    return (proc / str(pid) / "root/run/nologin").exists()


def wait_for_logins(
    pids: Mapping[str, int], timeout: float, proc: Path = Path("/proc")
) -> list[str]:
    """Poll until no host (name: a pid inside it) refuses logins or ``timeout`` passes;
    return the names still refusing."""
    pending = sorted(pids)
    deadline = time.monotonic() + timeout
    while pending and time.monotonic() < deadline:
        pending = [name for name in pending if logins_refused(pids[name], proc)]
        if pending:
            time.sleep(0.1)
    return pending


def open_logins(pids: Mapping[str, int], timeout: float, tries: int = 3) -> list[str]:
    """Wait for every systemd host (name: a pid inside it) to accept non-root logins,
    starting ``systemd-user-sessions.service`` again where it did not; return the names
    still refusing after ``tries`` starts.

    On a busy machine the lab's nspawn hosts sometimes fail to put a unit's process in its
    cgroup (status 219/CGROUP): when that unit is systemd-user-sessions, /run/nologin stays
    for good. Its start is what the boot would have run; made through nsenter, since only
    root could log in to ask for it.
    """
    refusing = wait_for_logins(pids, timeout)
    for _ in range(tries):
        if not refusing:
            break
        for name in refusing:
            subprocess.run(
                [
                    "nsenter",
                    "-t",
                    str(pids[name]),
                    "-m",
                    "-p",
                    "systemctl",
                    "restart",
                    USER_SESSIONS,
                ],
                capture_output=True,
                check=False,
            )
        refusing = wait_for_logins({name: pids[name] for name in refusing}, timeout)
    return refusing
