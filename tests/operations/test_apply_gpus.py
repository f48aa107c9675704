"""docker.apply with serve_gpus: docker acts when dockerd cannot serve --gpus, even with
no file changed; reload becomes restart when only that registers the device driver."""

import pytest

from gpu_docker.dockerd_gpus import RELOAD_IS_NOT_ENOUGH, DockerdGpus
from gpu_docker.facts.docker import RunningDockerd
from gpu_docker.facts.files import RemoteFileText
from gpu_docker.files import RemoteFile
from gpu_docker.operations import docker
from gpu_docker.preflight import DockerInfo, Preflight

CONF = '{"runtimes": {"nvidia": {"path": "nvidia-container-runtime"}}}'
DOCKER = DockerInfo("26.1.5", live_restore=True, containers_running=1, runtimes=("runc",))
HOOK = "/usr/bin/nvidia-container-runtime-hook"
SERVES = DockerdGpus("9", 200.0, "/usr/bin", HOOK, 100.0, ("nvidia", "runc"))
BEFORE_HOOK = DockerdGpus("9", 50.0, "/usr/bin", HOOK, 100.0, ("nvidia", "runc"))


class Meta:
    def __init__(self, changed: bool):
        self.changed = changed


def apply(run_op, dockerd, changed=False, **overrides):
    kwargs = {
        "changes": [Meta(changed)],
        "strategy": "restart",
        "daemon_json_path": "/etc/docker/daemon.json",
        "backup": ".b",
        "runtime_name": "nvidia",
        "timeout": 60,
        "preflight": Preflight(init="sysv", docker_validate=True, docker=DOCKER),
        "serve_gpus": True,
    } | overrides
    facts = {
        RunningDockerd: dockerd,
        RemoteFileText: RemoteFile("/etc/docker/daemon.json", "/etc/docker/daemon.json", CONF),
    }
    return run_op(docker.apply, facts, **kwargs)


def test_a_dockerd_that_serves_gpus_is_left_alone(run_op):
    commands, host = apply(run_op, SERVES)
    assert commands == []
    assert host.noops == ["nothing changed and dockerd serves --gpus: docker left running"]


@pytest.mark.parametrize("strategy", ["restart", "reload"])
def test_a_dockerd_started_before_the_hook_is_restarted_with_nothing_changed(run_op, strategy):
    commands, host = apply(run_op, BEFORE_HOOK, strategy=strategy)
    assert len(commands) == 1
    assert " gpu-docker restart /etc/docker/daemon.json " in commands[0]
    assert host.logs[0].startswith(
        "restarting docker: dockerd cannot serve --gpus: dockerd (pid 9)"
    )
    assert (RELOAD_IS_NOT_ENOUGH in host.logs) == (strategy == "reload")


def test_the_preview_says_why_and_that_containers_keep_running(run_op):
    _, host = apply(run_op, BEFORE_HOOK, strategy="reload", executing=False)
    assert host.logs[0].startswith("docker must pick up: dockerd cannot serve --gpus")
    assert RELOAD_IS_NOT_ENOUGH in host.logs
    assert "docker will be restarted; 1 container running; live-restore on: they keep running" in (
        host.logs
    )


def test_reload_stays_a_reload_when_only_a_runtime_is_missing(run_op):
    stale = DockerdGpus("9", 200.0, "/usr/bin", HOOK, 100.0, ("runc",))
    commands, _ = apply(run_op, stale, strategy="reload")
    assert " gpu-docker reload /etc/docker/daemon.json " in commands[0]


def test_never_fails_the_host_as_pending(run_op):
    commands, _ = apply(run_op, BEFORE_HOOK, strategy="never")
    (command,) = commands
    assert "gpu-docker: docker restart pending (restart_strategy=never): dockerd cannot" in command
    assert command.endswith("exit 1")
