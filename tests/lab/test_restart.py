"""Safe docker restarts on real dockerd: validate first, roll back, spare running containers.

Both code paths run for real: ``lab-online-1``/``-2`` have bookworm's docker.io 20.10 (no
``dockerd --validate``: a bad file is caught by the restart and rolled back), ``lab-online-3``
has trixie's 26.1.5 (``--validate`` rejects the file before docker is touched). Every test
asserts on the host: daemon.json's bytes, dockerd's pid, ``docker info``, container pids.
"""

from __future__ import annotations

import re

import pytest
from hosts_state import output
from lab_docker import container_pid, daemon_json, docker_info, dockerd_pid, run, start_container

from gpu_docker.lab.lifecycle import running_lab

pytestmark = pytest.mark.lab

BOOKWORM, BOOKWORM_2, TRIXIE = "lab-online-1", "lab-online-2", "lab-online-3"
FLAVOURS = pytest.mark.parametrize("name", [BOOKWORM, TRIXIE], ids=["docker20", "docker26"])
DAEMON_JSON = "/etc/docker/daemon.json"
# Short enough for CI, long enough for a dockerd start on a loaded runner.
TIMEOUT = "restart_timeout=30"


@pytest.fixture(scope="module")
def lab():
    """Three online hosts, the last with trixie's docker; no restricted hosts needed."""
    with running_lab(3, 0, 1) as state:
        yield state


def state(lab, host_exec, name: str) -> tuple[str, str]:
    return daemon_json(lab, host_exec, name), dockerd_pid(lab, host_exec, name)


def deploy(run_pyinfra, *data: str, limit: str | None = None, extra=(), yes: bool = True):
    args = ["deploys/gpu_docker.py", *extra]
    if limit:
        args += ["--limit", limit]
    for item in (TIMEOUT, *data):
        args += ["--data", item]
    return run_pyinfra(*args, yes=yes)


def failure_lines(done, name: str) -> list[str]:
    """The gpu-docker lines pyinfra printed for a host's failed command, from ``gpu-docker:``
    on (pyinfra's ``[host]`` prefix cut)."""
    return [
        line[line.index("gpu-docker:") :]
        for line in output(done).splitlines()
        if f"[{name}]" in line and "gpu-docker:" in line
    ]


@pytest.fixture(scope="module")
def converged(lab, run_pyinfra):
    """Every host with the toolkit and the nvidia runtime: the starting point of each test."""
    done = run_pyinfra("deploys/gpu_docker.py")
    assert done.returncode == 0, output(done)
    return lab


@FLAVOURS
def test_rejected_setting_leaves_the_old_file_and_docker_running(
    converged, host_exec, run_pyinfra, name
):
    lab = converged
    before_file, before_pid = state(lab, host_exec, name)
    done = deploy(run_pyinfra, 'daemon_json_extra={"gd-bogus-key": 1}', limit=name)
    assert done.returncode != 0, output(done)
    assert daemon_json(lab, host_exec, name) == before_file
    assert "nvidia" in docker_info(lab, host_exec, name)["Runtimes"]
    lines = failure_lines(done, name)
    assert len(lines) == 1, output(done)
    assert "gd-bogus-key" in lines[0]  # dockerd's own words
    # 26.1.5 by --validate, 20.10 by loading the file unprivileged: never restarted.
    checker = "dockerd --validate" if name == TRIXIE else "dockerd"
    assert lines[0].startswith(f"gpu-docker: {checker} rejected the new {DAEMON_JSON}"), lines
    assert lines[0].endswith("previous daemon.json restored, docker not restarted"), lines
    assert dockerd_pid(lab, host_exec, name) == before_pid


@FLAVOURS
def test_dockerd_that_does_not_come_back_is_rolled_back(converged, host_exec, run_pyinfra, name):
    lab = converged
    before_file, _ = state(lab, host_exec, name)
    # The operator's mode and owner, which the automatic rollback must put back too.
    run(lab, host_exec, name, f"chown root:adm {DAEMON_JSON} && chmod 0640 {DAEMON_JSON}")
    # A data-root under a regular file: every docker version accepts the setting, then
    # fails to start with it.
    done = deploy(
        run_pyinfra, 'daemon_json_extra={"data-root": "/etc/hostname/docker"}', limit=name
    )
    assert done.returncode != 0, output(done)
    assert daemon_json(lab, host_exec, name) == before_file
    info = docker_info(lab, host_exec, name)
    assert info["DockerRootDir"] == "/var/lib/docker"
    assert "nvidia" in info["Runtimes"]
    (line,) = failure_lines(done, name)
    assert "dockerd exited after the restart (dockerd: Unable to get the full path" in line
    assert run(lab, host_exec, name, f"stat -c '%a %U:%G' {DAEMON_JSON}") == "640 root:adm"
    assert "previous daemon.json restored and docker restarted: it runs as before" in line


@FLAVOURS
def test_preview_counts_running_containers_and_changes_nothing(
    converged, host_exec, run_pyinfra, name
):
    lab = converged
    start_container(lab, host_exec, name, "keep")
    before = state(lab, host_exec, name)
    done = deploy(run_pyinfra, "runtime_name=gd-preview", limit=name, extra=["--dry"], yes=False)
    assert done.returncode == 0, output(done)
    assert state(lab, host_exec, name) == before
    assert (
        f"[{name}] docker will be restarted; 1 container running; live-restore off: "
        "the restart will stop them"
    ) in output(done)
    validates = "validates the new daemon.json" if name == TRIXIE else "as an unprivileged user"
    assert re.search(rf"\[{name}\] dockerd .*{validates}", output(done)), output(done)


@FLAVOURS
def test_reload_adds_a_runtime_without_stopping_a_container(
    converged, host_exec, run_pyinfra, name
):
    lab = converged
    keep = start_container(lab, host_exec, name, "keep")
    pid = dockerd_pid(lab, host_exec, name)
    done = deploy(run_pyinfra, "runtime_name=gd-reload", "restart_strategy=reload", limit=name)
    assert done.returncode == 0, output(done)
    assert "gd-reload" in docker_info(lab, host_exec, name)["Runtimes"]
    assert dockerd_pid(lab, host_exec, name) == pid
    assert container_pid(lab, host_exec, name, "keep") == keep


@FLAVOURS
def test_live_restore_keeps_a_container_running_across_the_restart(
    converged, host_exec, run_pyinfra, name
):
    lab = converged
    keep = start_container(lab, host_exec, name, "keep")
    pid = dockerd_pid(lab, host_exec, name)
    assert docker_info(lab, host_exec, name)["LiveRestoreEnabled"] is False
    done = deploy(run_pyinfra, "runtime_name=gd-live", "live_restore=true", limit=name)
    assert done.returncode == 0, output(done)
    info = docker_info(lab, host_exec, name)
    assert info["LiveRestoreEnabled"] is True
    assert "gd-live" in info["Runtimes"]
    assert dockerd_pid(lab, host_exec, name) != pid  # really restarted
    assert container_pid(lab, host_exec, name, "keep") == keep


def test_never_reports_a_pending_restart_and_leaves_docker_alone(converged, host_exec, run_pyinfra):
    lab = converged
    pid = dockerd_pid(lab, host_exec, BOOKWORM)
    done = deploy(run_pyinfra, "runtime_name=gd-never", "restart_strategy=never", limit=BOOKWORM)
    # Pending is not converged: the host fails saying so (tests/lab/test_gpus.py has more).
    assert done.returncode != 0, output(done)
    (line,) = failure_lines(done, BOOKWORM)
    assert "docker restart pending (restart_strategy=never)" in line
    assert '"gd-never"' in run(lab, host_exec, BOOKWORM, f"cat {DAEMON_JSON}")
    assert dockerd_pid(lab, host_exec, BOOKWORM) == pid
    assert "gd-never" not in docker_info(lab, host_exec, BOOKWORM)["Runtimes"]


def test_serial_rollout_stops_at_the_first_failed_host(converged, host_exec, run_pyinfra):
    lab = converged
    online = [h.name for h in lab.group("online")]
    before = {name: state(lab, host_exec, name) for name in online}
    done = deploy(
        run_pyinfra,
        'daemon_json_extra={"gd-bogus-key": 1}',
        extra=["--serial", "--fail-percent", "0"],
    )
    assert done.returncode != 0, output(done)
    # pyinfra picks the serial order from a set: whichever host went first must be the only
    # one that failed; it was rolled back, and the run stopped before the others.
    failed = [name for name in online if failure_lines(done, name)]
    assert len(failed) == 1, output(done)
    (first,) = failed
    assert len(failure_lines(done, first)) == 1, output(done)
    assert daemon_json(lab, host_exec, first) == before[first][0]
    assert "nvidia" in docker_info(lab, host_exec, first)["Runtimes"]
    for name in online:
        if name != first:
            assert state(lab, host_exec, name) == before[name], name


DROP_IN = "/etc/systemd/system/docker.service.d/gd-test.conf"


def with_drop_in(lab, host_exec, name: str, text: str) -> None:
    """docker.service as a host may have it; ``without_drop_in`` puts it back."""
    run(
        lab,
        host_exec,
        name,
        f"mkdir -p {DROP_IN.rsplit('/', 1)[0]} && printf '%s\\n' '{text}' > {DROP_IN}"
        " && systemctl daemon-reload",
    )


def without_drop_in(lab, host_exec, name: str) -> None:
    run(lab, host_exec, name, f"rm -f {DROP_IN} && systemctl daemon-reload")


def test_a_start_that_never_returns_is_rolled_back(converged, host_exec, run_pyinfra):
    """docker.service has TimeoutStartSec=infinity: a start that hangs (here an
    ExecStartPre, while daemon.json names gd-hang) must end in the rollback, not hang."""
    lab = converged
    name = BOOKWORM_2
    assert run(lab, host_exec, name, "systemctl show docker -p TimeoutStartUSec") == (
        "TimeoutStartUSec=infinity"
    )
    before = daemon_json(lab, host_exec, name)
    hang = "if grep -q gd-hang /etc/docker/daemon.json; then exec sleep infinity; fi"
    with_drop_in(lab, host_exec, name, f'[Service]\nExecStartPre=/bin/sh -c "{hang}"')
    try:
        done = deploy(run_pyinfra, "runtime_name=gd-hang", "restart_timeout=10", limit=name)
    finally:
        without_drop_in(lab, host_exec, name)
    assert done.returncode != 0, output(done)
    (line,) = failure_lines(done, name)
    assert "docker did not come back within 10s after the restart" in line, line
    assert "previous daemon.json restored and docker restarted: it runs as before" in line
    assert daemon_json(lab, host_exec, name) == before
    assert run(lab, host_exec, name, "systemctl is-active docker") == "active"
    assert "nvidia" in docker_info(lab, host_exec, name)["Runtimes"]


def test_live_restore_that_stays_off_leaves_docker_and_its_containers_alone(
    converged, host_exec, run_pyinfra
):
    """dockerd ignores the reload (here docker.service's ExecReload does nothing, as when
    docker 20.10 refuses it): no restart, the container keeps running, the file is back."""
    lab = converged
    name = BOOKWORM_2
    keep = start_container(lab, host_exec, name, "keep")
    pid = dockerd_pid(lab, host_exec, name)
    run(lab, host_exec, name, f"chmod 640 {DAEMON_JSON} && chown root:adm {DAEMON_JSON}")
    before = daemon_json(lab, host_exec, name)
    with_drop_in(lab, host_exec, name, "[Service]\nExecReload=\nExecReload=/bin/true")
    try:
        done = deploy(run_pyinfra, "runtime_name=gd-lr", "live_restore=true", limit=name)
    finally:
        without_drop_in(lab, host_exec, name)
    assert done.returncode != 0, output(done)
    (line,) = failure_lines(done, name)
    assert line.endswith(
        "gpu-docker: live-restore could not be switched on live: 1 container would stop; "
        f"{DAEMON_JSON} put back, docker not restarted"
    ), line
    assert daemon_json(lab, host_exec, name) == before
    assert run(lab, host_exec, name, f"stat -c '%a %U:%G' {DAEMON_JSON}") == "640 root:adm"
    assert dockerd_pid(lab, host_exec, name) == pid
    assert container_pid(lab, host_exec, name, "keep") == keep
