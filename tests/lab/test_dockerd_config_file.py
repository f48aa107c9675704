"""A dockerd started with ``--config-file`` elsewhere, end to end on one systemd lab host.

Debian's docker.service passes ``$DOCKER_OPTS`` from /etc/default/docker; an operator who
put ``--config-file /srv/docker/daemon.json`` there has a dockerd that never reads
/etc/docker/daemon.json. A merge there would never be loaded: every run would restart
docker, miss the runtime, roll back and fail. The preflight refuses the host instead,
naming the file dockerd reads, and the host is left as it was.
"""

from __future__ import annotations

import pytest
from hosts_state import (
    docker_runtimes,
    docker_snapshot,
    dpkg_state,
    host_lines,
    lab_of,
    output,
    read_bytes,
    summary,
)

pytestmark = pytest.mark.lab

HOST = "lab-online-1"
OTHER = "/srv/docker/daemon.json"


@pytest.fixture(scope="module")
def lab(host_exec):
    with lab_of(1, 0) as state:
        done = host_exec(
            state,
            HOST,
            f"mkdir -p /srv/docker && echo '{{}}' > {OTHER} && "
            f"echo 'DOCKER_OPTS=\"--config-file {OTHER}\"' > /etc/default/docker && "
            "systemctl restart docker && "
            f"tr '\\0' ' ' < /proc/$(cat /var/run/docker.pid)/cmdline",
        )
        assert done.returncode == 0 and OTHER in done.stdout, done.stdout + done.stderr
        yield state


def test_the_host_is_refused_naming_the_file_dockerd_reads(lab, host_exec, run_pyinfra):
    before = docker_snapshot(lab, host_exec, HOST)
    done = run_pyinfra("deploys/gpu_docker.py")
    assert done.returncode != 0, output(done)
    (line,) = host_lines(done, HOST)
    assert line == (
        f"gpu-docker: dockerd runs with --config-file {OTHER}, not /etc/docker/daemon.json:"
        f" a merge there would never be loaded (set daemon_json_path to {OTHER});"
        " nothing changed"
    ), line
    assert HOST in summary(done)
    assert docker_snapshot(lab, host_exec, HOST) == before  # same files, same dockerd
    status, _ = dpkg_state(lab, host_exec, HOST)
    assert status == {}  # nothing installed


def test_pointing_daemon_json_path_there_converges(lab, host_exec, run_pyinfra):
    done = run_pyinfra("deploys/gpu_docker.py", "--data", f"daemon_json_path={OTHER}")
    assert done.returncode == 0, output(done)
    assert "nvidia" in (docker_runtimes(lab, host_exec, HOST) or [])
    assert read_bytes(lab, host_exec, HOST, "/etc/docker/daemon.json") is None
