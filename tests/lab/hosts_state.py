"""Reading, seeding and snapshotting lab hosts, for the end-to-end tests.

Shared by every lab module (``output`` and the host readers), and shaped by the
reliability suite (tests/lab/test_reliability_*.py): each reliability module brings up its own lab sized to its cases, gives every case its own
host through a temporary inventory (the lab's host data plus that case's settings), runs
the real pyinfra CLI once over all of them, and then checks each host: the one line
pyinfra printed for it, the closing summary, and the host's real state (file bytes, dpkg,
docker), against a snapshot taken before the run.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from gpu_docker import toolkit
from gpu_docker.lab import network
from gpu_docker.lab.hosts import host_dir
from gpu_docker.lab.inventory import host_data
from gpu_docker.lab.lifecycle import running_lab
from gpu_docker.lab.ssh import ssh_command
from gpu_docker.lab.state import Init, LabState, state_dir

PROJECT = Path(__file__).resolve().parents[2]
DEPLOY = PROJECT / "deploys" / "gpu_docker.py"
PACKAGES = toolkit.PACKAGES
HostExec = Callable[..., subprocess.CompletedProcess[str]]

# Everything the deploy may touch on a host, one sha256 line per file, plus dpkg's view
# and the dockerd pid: equal before and after means the run changed nothing there.
SNAPSHOT = r"""
for p in /etc/docker /etc/apt /usr/share/keyrings /var/cache/gpu-docker /var/lib/dpkg/status; do
    [ -e "$p" ] && find "$p" -xdev \( -type f -o -type l \) -print0 | sort -z \
        | xargs -0 -r sha256sum 2>/dev/null
done
ls -la /etc/docker 2>/dev/null
cat /var/run/docker.pid 2>/dev/null
true
"""
DOCKER_SNAPSHOT = r"""
find /etc/docker -xdev \( -type f -o -type l \) -print0 | sort -z | xargs -0 -r sha256sum
find /etc/docker -xdev -mindepth 1 -printf '%p %m %u:%g %s %T@\n' | sort
cat /var/run/docker.pid 2>/dev/null; true
"""


@contextmanager
def lab_of(
    online: int, restricted: int, trixie: int = 0, init: Init = "systemd"
) -> Iterator[LabState]:
    """A lab of this size for one module (root only), always torn down."""
    if os.geteuid() != 0:
        pytest.skip("the sandbox lab needs root (network namespaces, mounts, bridges)")
    with running_lab(online, restricted, trixie, init=init) as state:
        yield state


def write_inventory(
    path: Path,
    lab: LabState,
    cases: Mapping[str, Mapping[str, Any]],
    extra: Mapping[str, Any],
    drop: tuple[str, ...] = (),
) -> Path:
    """An inventory of the lab's hosts, each with the lab's data plus its case's settings.

    ``cases`` maps host name -> settings overriding the lab's; ``extra`` adds hosts that
    are not lab hosts (name -> full host data). Groups keep the lab's, so group_data is
    not involved unless the caller puts a ``group_data`` folder beside ``path``; ``drop``
    removes lab data keys from every host so that such group data decides them.
    """
    groups: dict[str, list[tuple[str, dict[str, Any]]]] = {"online": [], "restricted": []}
    for host in lab.hosts:
        data = {**host_data(lab, host), **cases.get(host.name, {})}
        for key in drop:
            data.pop(key, None)
        groups[host.group].append((host.name, data))
    groups["online"] += [(name, dict(data)) for name, data in extra.items()]
    lines = [f"{group} = {entries!r}" for group, entries in groups.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def pyinfra(
    inventory: Path, *args: str, cwd: Path = PROJECT, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    """``pyinfra -y INVENTORY DEPLOY ARGS`` from ``cwd``; never raises on failure."""
    exe = Path(sys.executable).parent / "pyinfra"
    return subprocess.run(
        [str(exe), "-y", str(inventory), str(DEPLOY), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def output(run: subprocess.CompletedProcess[str]) -> str:
    """pyinfra writes progress, per-host lines and results to stderr."""
    return run.stdout + run.stderr


#: The converge's note of a pin with open NVIDIA security bulletins (tests/lab/test_upgrade.py
#: checks it): said besides a host's one failure line, not instead of it.
PIN_WARNING = "gpu-docker: the pin: "


def host_lines(run: subprocess.CompletedProcess[str], name: str) -> list[str]:
    """The ``[name] gpu-docker: ...`` lines pyinfra printed for one host (with ``-vv`` and
    more, not the ``>>>`` lines echoing the commands that print them), but the pin's
    security note (many cases pin an old release on purpose)."""
    prefix = f"[{name}]"
    found = [
        line.strip()[len(prefix) :].strip()
        for line in output(run).splitlines()
        if line.strip().startswith(prefix) and "gpu-docker:" in line
    ]
    return [line for line in found if not line.startswith((">>>", PIN_WARNING))]


def summary(run: subprocess.CompletedProcess[str]) -> dict[str, str]:
    """The closing summary: host -> cause, or {"*": verdict} when every host finished."""
    text = output(run)
    start = text.rfind("--> gpu-docker:")
    assert start >= 0, f"no gpu-docker summary in:\n{text}"
    lines = text[start:].splitlines()
    if "not " not in lines[0]:
        return {"*": lines[0]}
    found = {}
    for line in lines[1:]:
        name, _, cause = line.strip().partition("] ")
        if not name.startswith("["):
            break
        found[name[1:]] = cause
    return found


def snapshot(lab: LabState, host_exec: HostExec, name: str) -> str:
    """The host's SNAPSHOT (see above)."""
    run = host_exec(lab, name, SNAPSHOT)
    assert run.returncode == 0, f"{name}: {run.stderr}"
    return run.stdout


def docker_snapshot(lab: LabState, host_exec: HostExec, name: str) -> str:
    """/etc/docker's files (bytes, modes) and the dockerd pid: equal before and after means
    daemon.json untouched, no temp file or backup left behind, docker not restarted."""
    run = host_exec(lab, name, DOCKER_SNAPSHOT)
    assert run.returncode == 0, f"{name}: {run.stderr}"
    return run.stdout


def read_bytes(lab: LabState, host_exec: HostExec, name: str, path: str) -> bytes | None:
    """A file's exact bytes on the host (base64 on the wire), ``None`` when absent."""
    run = host_exec(lab, name, f"test -f '{path}' && base64 -w0 '{path}' || echo ABSENT")
    assert run.returncode == 0, run.stderr
    if run.stdout.strip() == "ABSENT":
        return None
    return base64.b64decode(run.stdout.strip())


def seed_file(lab: LabState, host_exec: HostExec, name: str, path: str, data: bytes) -> None:
    """Write exact bytes to a file on the host (creating its directory)."""
    encoded = base64.b64encode(data).decode()
    run = subprocess.run(
        [*_ssh(lab, name), f"mkdir -p \"$(dirname '{path}')\" && base64 -d > '{path}'"],
        input=encoded,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    assert read_bytes(lab, host_exec, name, path) == data


def upload(lab: LabState, name: str, local: Path, remote: str) -> None:
    """Copy a controller file to the host over ssh."""
    with local.open("rb") as src:
        run = subprocess.run(
            [*_ssh(lab, name), f"mkdir -p \"$(dirname '{remote}')\" && cat > '{remote}'"],
            stdin=src,
            capture_output=True,
            timeout=60,
        )
    assert run.returncode == 0, run.stderr


def _ssh(lab: LabState, name: str) -> list[str]:
    return ssh_command(lab, lab.host(name), "")[:-1]


def dpkg_state(lab: LabState, host_exec: HostExec, name: str) -> tuple[dict[str, str], str]:
    """(package -> ``db:Status-Abbrev`` + version for the toolkit, ``dpkg --audit`` output)."""
    run = host_exec(
        lab,
        name,
        "dpkg-query -W -f='${Package} ${db:Status-Abbrev}${Version}\\n' "
        f"{' '.join(PACKAGES)} 2>/dev/null; echo '--audit--'; dpkg --audit 2>&1; true",
    )
    listing, _, audit = run.stdout.partition("--audit--\n")
    status = {}
    for line in listing.splitlines():
        package, _, rest = line.partition(" ")
        if rest.strip():
            status[package] = rest.replace(" ", "")
    return status, audit.strip()


def docker_runtimes(lab: LabState, host_exec: HostExec, name: str) -> list[str] | None:
    """The runtimes dockerd lists, ``None`` when docker does not answer."""
    run = host_exec(lab, name, "docker info --format '{{json .Runtimes}}'")
    return sorted(json.loads(run.stdout)) if run.returncode == 0 else None


def host_processes(lab: LabState, name: str, comm: str) -> list[int]:
    """Pids of the host's processes called ``comm``, seen from the controller."""
    pids = []
    for pid in network.netns_pids(lab.host(name).netns):
        try:
            if Path(f"/proc/{pid}/comm").read_text().strip() == comm:
                pids.append(pid)
        except FileNotFoundError:
            continue
    return pids


def kill_sshd(lab: LabState, name: str) -> None:
    """SIGKILL the host's sshd: the listener and every session (pyinfra's too)."""
    for pid in host_processes(lab, name, "sshd"):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            continue


def start_sshd(lab: LabState, name: str) -> None:
    """Start a sysv host's sshd again through its init script, inside the host's namespaces."""
    (init,) = host_processes(lab, name, "init")
    subprocess.run(
        [
            "nsenter",
            "-t",
            str(init),
            "-m",
            "-u",
            "-n",
            "-p",
            "-r",
            "-w",
            "/etc/init.d/ssh",
            "start",
        ],
        check=True,
        capture_output=True,
        timeout=30,
    )


def upper(lab: LabState, name: str) -> Path:
    """The host's overlay upper directory: files the host wrote, readable from here."""
    return host_dir(state_dir(), lab.host(name)) / "upper"
