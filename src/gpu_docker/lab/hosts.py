"""Starting and killing lab hosts.

A host is one process tree: ``nsenter --net`` into its namespace, ``unshare`` for a
private mount namespace, and ``gpu_docker.lab.boot`` which mounts the host's overlay and
execs its init. A sysv host also gets pid and uts namespaces (``--fork --kill-child``:
boot is their PID 1); a systemd host's boot execs ``systemd-nspawn``, which makes its own.
Every process of a host lives in its network namespace, so killing them all (``down``
does, by namespace) ends the host and releases its mounts; nothing needs unmounting.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

from gpu_docker.lab.boot import BootSpec
from gpu_docker.lab.rootfs import SUDO_PASSWORD_USER, SUDO_USER
from gpu_docker.lab.state import LabHost


def host_dir(state_dir: Path, host: LabHost) -> Path:
    """The host's private files: overlay upper, docker data, host key, console log."""
    return state_dir / "hosts" / host.name


def start(
    host: LabHost, lower: list[Path], state_dir: Path, authorized_key: str, password_hash: str
) -> LabHost:
    """Launch the host in the background; return it with the pid teardown must kill.

    The host's key pair must already be in its directory (see ``ssh.generate_key``).
    ``password_hash`` (crypt format) becomes the password sudo asks the opspw user for.
    """
    directory = host_dir(state_dir, host)
    spec = BootSpec(
        name=host.name,
        lower=[str(path) for path in lower],
        host_dir=str(directory),
        authorized_key=authorized_key + "\n",
        init=host.init,
        netns=host.netns,
        users=[SUDO_USER, SUDO_PASSWORD_USER],
        password_hash=password_hash,
    )
    namespaces = ["--mount"]
    if host.init == "sysv":
        namespaces += ["--pid", "--uts", "--fork", "--kill-child"]
    argv = [
        "nsenter",
        f"--net=/run/netns/{host.netns}",
        "unshare",
        *namespaces,
        "--propagation",
        "private",
        sys.executable,
        "-m",
        "gpu_docker.lab.boot",
        json.dumps(asdict(spec)),
    ]
    with (directory / "console.log").open("wb") as console:
        process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=console,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return replace(host, pid=process.pid)


def _gone(pid: int) -> bool:
    """True once ``pid`` has exited (reaping it if it was our own child)."""
    try:
        reaped, _ = os.waitpid(pid, os.WNOHANG)
        return reaped == pid
    except ChildProcessError:
        pass
    try:
        status = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return True
    return status.rsplit(")", 1)[1].split()[0] == "Z"


def kill(pids: list[int], timeout: float = 10.0) -> None:
    """SIGKILL every pid and wait until all of them are gone."""
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            continue
    deadline = time.monotonic() + timeout
    pending = list(pids)
    while pending and time.monotonic() < deadline:
        pending = [pid for pid in pending if not _gone(pid)]
        if pending:
            time.sleep(0.05)
