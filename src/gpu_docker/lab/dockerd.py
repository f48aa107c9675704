"""Each lab host's dockerd, seen from the controller's root namespace: found, pinged, checked.

Every host's init starts dockerd (``docker.service`` on systemd hosts, the init script on
sysv hosts), and tests snapshot hosts (``/etc/docker`` among them) right after ``lab up``:
a dockerd still starting then writes its first files mid-test. So ``lab up`` returns only
once every dockerd answers ``/_ping`` and each host's cgroup controllers take a new cgroup
(what runc does for every container): a host that cannot run containers fails the lab
loudly, naming it, instead of failing some test later with runc's ``read-only file
system``. The benchmark uses the same functions to wait for dockerds it restarted and to
count restarts by pid.

Everything here reads ``/proc`` and the hosts' own sockets through ``/proc/<pid>/root``:
no SSH session, so nothing shows in the hosts' sshd CPU (which the benchmark measures) or
their logs.
"""

from __future__ import annotations

import socket
import subprocess
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from gpu_docker.lab import network
from gpu_docker.lab.errors import LabError
from gpu_docker.lab.state import LabHost

#: Seconds between two looks at the hosts that have not answered yet.
POLL_INTERVAL = 0.1
#: cgroup v1 hierarchies runc makes no container cgroup in: systemd's own named hierarchy
#: and the hybrid layout's cgroup2 mount (docker's cgroupfs driver uses the controllers).
SKIPPED_HIERARCHIES = ("/sys/fs/cgroup/systemd", "/sys/fs/cgroup/unified")
#: Every lab host shares the machine's controller hierarchies (no cgroup namespace on v1),
#: so a probe cgroup's name is random: hosts booting together must not meet each other's.
PROBE_PREFIX = "gpu-docker-lab-probe-"


def dockerd_pids(hosts: Iterable[LabHost]) -> dict[str, int]:
    """Each host's dockerd pid (as the root namespace numbers it); absent when not running."""
    found: dict[str, int] = {}
    for host in hosts:
        for pid in network.netns_pids(host.netns):
            try:
                comm = Path(f"/proc/{pid}/comm").read_text().strip()
            except (FileNotFoundError, ProcessLookupError):
                continue
            if comm == "dockerd":
                found[host.name] = pid
    return found


def docker_answers(pid: int, timeout: float = 2.0) -> bool:
    """Whether the dockerd ``pid`` answers ``/_ping`` on its socket inside the host.

    dockerd serves its API only once the daemon is initialised (its files written), so an
    answer means it has settled, not just that the socket exists (systemd's socket unit
    makes /run/docker.sock before dockerd even starts).
    """
    path = f"/proc/{pid}/root/run/docker.sock"
    try:
        with socket.socket(socket.AF_UNIX) as conn:
            conn.settimeout(timeout)
            conn.connect(path)
            conn.sendall(b"GET /_ping HTTP/1.0\r\n\r\n")
            return b" 200 " in conn.recv(64)
    except OSError:
        return False


def silent_message(silent: Mapping[str, int | None], timeout: float) -> str:
    """One line naming each silent host and whether its dockerd runs at all (pid or None)."""
    parts = [
        f"{name} ({'no dockerd process' if pid is None else f'dockerd pid {pid} silent'})"
        for name, pid in sorted(silent.items())
    ]
    return f"dockerd did not answer /_ping within {timeout:.0f} s on {', '.join(parts)}"


def wait_for_docker(hosts: Sequence[LabHost], timeout: float) -> None:
    """Block until every host's dockerd answers; after ``timeout`` s, LabError naming the rest.

    Only the hosts still silent are looked at again, so a big lab's last stragglers do not
    cost a scan of every host's processes each round.
    """
    deadline = time.monotonic() + timeout
    pending = list(hosts)
    while True:
        pids = dockerd_pids(pending)
        silent = [h for h in pending if not (h.name in pids and docker_answers(pids[h.name]))]
        if not silent:
            return
        if time.monotonic() > deadline:
            raise LabError(silent_message({h.name: pids.get(h.name) for h in silent}, timeout))
        pending = silent
        time.sleep(POLL_INTERVAL)


def cgroup_hierarchies(mounts: str) -> list[str]:
    """Mount points, in a ``/proc/<pid>/mounts`` text, where runc makes container cgroups.

    cgroup v1: every controller hierarchy (the lab's hosts: nspawn mounts them read-only
    and the hosts' boot remounts them read-write). A pure cgroup v2 host: the one cgroup2
    mount at /sys/fs/cgroup. systemd's named hierarchy and the hybrid cgroup2 mount are
    left out (see ``SKIPPED_HIERARCHIES``).
    """
    found: list[str] = []
    for line in mounts.splitlines():
        fields = line.split()
        if len(fields) < 4:
            continue
        point, kind, options = fields[1], fields[2], fields[3].split(",")
        if point in SKIPPED_HIERARCHIES or point in found:
            continue
        controller = kind == "cgroup" and not any(o.startswith("name=") for o in options)
        if controller or (kind == "cgroup2" and point == "/sys/fs/cgroup"):
            found.append(point)
    return found


def _refusing(pid: int) -> dict[str, str]:
    """Each hierarchy, in the mount namespace of process ``pid``, where no cgroup can be
    made, with the reason (``Read-only file system``).

    A probe cgroup is made and removed at the top of each one, where docker's cgroupfs
    driver puts its ``docker/<container>`` cgroups; the path goes through
    ``/proc/<pid>/root``, so the host's own mounts (and their read-only flags) apply.
    """
    mounts = Path(f"/proc/{pid}/mounts").read_text()
    failed = {}
    for point in cgroup_hierarchies(mounts):
        probe = Path(f"/proc/{pid}/root{point}") / f"{PROBE_PREFIX}{uuid.uuid4().hex}"
        try:
            probe.mkdir()
            probe.rmdir()
        except OSError as error:
            failed[point] = str(error.strerror)
    return failed


def unwritable_cgroups(pid: int) -> list[str]:
    """The hierarchies where no cgroup can be made, each with the reason
    (``/sys/fs/cgroup/cpuset: Read-only file system``)."""
    return [f"{point}: {reason}" for point, reason in _refusing(pid).items()]


def mend_cgroups(hosts: Sequence[LabHost]) -> list[str]:
    """Remount read-write, from outside, each hierarchy a host's boot left refusing cgroups;
    one line per host mended, saying which.

    The boot-time oneshot remounts and proves every controller before docker starts, yet
    CI has still seen a host (one in dozens, on busy boots) whose controllers were all
    read-only once dockerd answered; why is not known. The same remount, made in the
    host's mount namespace with nsenter, has mended every such host so far; what it
    cannot mend, ``check_cgroups`` then names.
    """
    mended = []
    for name, pid in dockerd_pids(hosts).items():
        try:
            points = list(_refusing(pid))
        except OSError:  # dockerd exited: check_cgroups names it
            continue
        for point in points:
            subprocess.run(
                ["nsenter", "-t", str(pid), "-m", "mount", "-o", "remount,bind,rw", point],
                capture_output=True,
                check=False,
            )
        if points:
            mended.append(f"{name}: remounted {', '.join(points)} read-write after its boot")
    return mended


def check_cgroups(hosts: Sequence[LabHost]) -> None:
    """LabError, one line naming each host whose dockerd could not make a container cgroup.

    Runs after ``wait_for_docker``: every host has a dockerd to look through.
    """
    pids = dockerd_pids(hosts)
    problems = []
    for host in hosts:
        if host.name not in pids:
            problems.append(f"{host.name} (dockerd exited)")
            continue
        try:
            failed = unwritable_cgroups(pids[host.name])
        except OSError as error:  # dockerd exited between the scan and the read
            failed = [f"/proc/{pids[host.name]}/mounts: {error.strerror}"]
        if failed:
            problems.append(f"{host.name} ({'; '.join(failed)})")
    if problems:
        raise LabError(
            "containers could not be started (no cgroup can be made) on " + ", ".join(problems)
        )


def wait_until_ready(hosts: Sequence[LabHost], timeout: float) -> list[str]:
    """Every host's dockerd answers and can make container cgroups (mended where the boot
    left them read-only: the lines returned say where), else LabError."""
    wait_for_docker(hosts, timeout)
    mended = mend_cgroups(hosts)
    check_cgroups(hosts)
    return mended
