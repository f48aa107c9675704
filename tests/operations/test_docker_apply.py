"""docker.apply from the changes alone (the rollback): nothing when nothing changed, the
strategy and the host's init and validation handed to the script, the preview's words."""

from gpu_docker.operations import docker
from gpu_docker.preflight import DockerInfo, Preflight


class Meta:
    def __init__(self, changed: bool):
        self.changed = changed


DOCKER = DockerInfo("26.1.5", live_restore=False, containers_running=2, runtimes=("runc",))


def apply(run_op, changed, **overrides):
    kwargs = {
        "changes": [Meta(False), Meta(changed)],
        "strategy": "restart",
        "daemon_json_path": "/etc/docker/daemon.json",
        "backup": ".b",
        "runtime_name": "nvidia",
        "timeout": 60,
        "preflight": Preflight(init="systemd", docker_validate=True, docker=DOCKER),
    } | overrides
    return run_op(docker.apply, {}, **kwargs)


def test_docker_is_left_running_when_nothing_changed(run_op):
    commands, host = apply(run_op, changed=False)
    assert commands == []
    assert host.noops == ["nothing changed: docker left running"]


def test_restart_script_gets_init_system_and_validation(run_op):
    for init, validate, flag in (("systemd", True, "1"), ("sysv", False, "0")):
        facts = Preflight(init=init, docker_validate=validate, docker=DOCKER)
        commands, _ = apply(run_op, changed=True, preflight=facts, live_restore=True)
        assert commands[0].endswith(
            f"gpu-docker restart /etc/docker/daemon.json .b nvidia 60 {init} {flag} 1 "
            "/run/gpu-docker/dockerd-reloaded"
        )


STOPS = (
    "docker will be restarted; 2 containers running; live-restore off: the restart will stop them"
)


def test_a_run_without_preview_says_the_restart_stops_containers_before_it(run_op):
    """-y shows no preview: the line is said when the restart is applied too."""
    commands, host = apply(run_op, changed=True)
    assert host.logs == [STOPS] and len(commands) == 1
    # Nothing to say where the containers keep running or there are none.
    for overrides in (
        {"live_restore": True},
        {"strategy": "reload"},
        {"preflight": Preflight(init="systemd", docker=DockerInfo("26.1.5", True, 2, ()))},
        {"preflight": Preflight(init="systemd", docker=DockerInfo("26.1.5", False, 0, ()))},
    ):
        _, quiet = apply(run_op, changed=True, **overrides)
        assert STOPS not in quiet.logs, overrides


def test_preview_says_what_the_restart_does_to_running_containers(run_op):
    _, host = apply(run_op, changed=True, executing=False)
    assert host.logs == [
        STOPS,
        "dockerd 26.1.5 validates the new daemon.json (--validate) before applying it",
    ]


def test_never_strategy_reports_a_pending_restart_instead(run_op):
    commands, host = apply(run_op, changed=True, strategy="never")
    assert commands == []
    assert host.logs == ["gpu-docker: docker restart pending (restart_strategy=never)"]
    _, preview = apply(run_op, changed=True, strategy="never", executing=False)
    assert (
        preview.logs[0] == "docker restart pending (restart_strategy=never); 2 containers running"
    )


UNLOADED = "/etc/docker/daemon.json was changed after dockerd started: a restart also applies"


def test_unloaded_edits_are_said_only_where_docker_is_restarted(run_op):
    line = f"{UNLOADED} those unloaded changes"
    _, preview = apply(run_op, changed=True, executing=False, unloaded=line)
    assert preview.logs[-1] == line
    _, run = apply(run_op, changed=True, unloaded=line)
    assert run.logs == [STOPS, line]
    # A reload does not apply them all, and with nothing to do nothing is said.
    _, reload = apply(run_op, changed=True, executing=False, strategy="reload", unloaded=line)
    assert line not in reload.logs
    _, nothing = apply(run_op, changed=False, executing=False, unloaded=line)
    assert nothing.logs == [] and nothing.noops == ["nothing changed: docker left running"]
