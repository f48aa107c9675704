"""Docker on a lab host, as the restart tests need it: dockerd's pid, a running container.

The lab hosts have no images and no registry, so ``import_image`` builds a tiny one from
the host's own ``sleep`` and the C library it needs (well under a second).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from subprocess import CompletedProcess
from typing import Any

from gpu_docker.lab.state import LabState

HostExec = Callable[..., CompletedProcess[str]]

IMAGE = "gdtest"
_IMPORT = f"""
docker image inspect {IMAGE} >/dev/null 2>&1 && exit 0
tar -C / -ch usr/bin/sleep lib64/ld-linux-x86-64.so.2 lib/x86_64-linux-gnu/libc.so.6 \
    | docker import - {IMAGE} >/dev/null
"""


def run(lab: LabState, host_exec: HostExec, name: str, command: str) -> str:
    """A command that must succeed on the host; its stdout, stripped."""
    done = host_exec(lab, name, command)
    assert done.returncode == 0, f"{name}: {command}: {done.stderr}"
    return done.stdout.strip()


def daemon_json(lab: LabState, host_exec: HostExec, name: str) -> str:
    """/etc/docker/daemon.json's exact bytes (base64), or ``ABSENT``: compared, never parsed."""
    return run(
        lab, host_exec, name, "base64 -w0 /etc/docker/daemon.json 2>/dev/null || echo ABSENT"
    )


def dockerd_pid(lab: LabState, host_exec: HostExec, name: str) -> str:
    """The running dockerd's pid: a restart changes it, a reload does not."""
    return run(
        lab, host_exec, name, "cat /var/run/docker.pid && kill -0 $(cat /var/run/docker.pid)"
    )


def docker_info(lab: LabState, host_exec: HostExec, name: str) -> dict[str, Any]:
    """``docker info`` as JSON; the assertion fails when docker does not answer."""
    return json.loads(run(lab, host_exec, name, "docker info --format '{{json .}}'"))


def start_container(lab: LabState, host_exec: HostExec, name: str, container: str) -> str:
    """Run a long ``sleep`` container (replacing one of the same name); its process id.

    ``--stop-timeout 1``: sleep ignores SIGTERM as PID 1, and a restart that stops it
    should not wait docker's default 10 s.
    """
    run(lab, host_exec, name, _IMPORT)
    run(
        lab,
        host_exec,
        name,
        f"docker rm -f {container} >/dev/null 2>&1; "
        f"docker run -d --stop-timeout 1 --name {container} {IMAGE} /usr/bin/sleep 3600",
    )
    return container_pid(lab, host_exec, name, container)


def container_pid(lab: LabState, host_exec: HostExec, name: str, container: str) -> str:
    """The container's process id, or ``0`` when it is not running."""
    return run(lab, host_exec, name, f"docker inspect -f '{{{{.State.Pid}}}}' {container}")
