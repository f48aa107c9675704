"""The per-host preview of what applying a change does to docker and its containers."""

import pytest

from gpu_docker.preflight import DockerInfo, Preflight
from gpu_docker.restart_preview import (
    containers_line,
    preview,
    stops_containers_line,
    validation_line,
)


def facts(running: int = 0, live: bool = False, validate: bool = False) -> Preflight:
    docker = DockerInfo("20.10.24", live_restore=live, containers_running=running, runtimes=())
    return Preflight(
        dockerd_version="Docker version 20.10.24", docker_validate=validate, docker=docker
    )


@pytest.mark.parametrize(
    ("strategy", "state", "wanted", "expected"),
    [
        ("restart", facts(0), False, "docker will be restarted; no containers running"),
        (
            "restart",
            facts(3),
            False,
            "docker will be restarted; 3 containers running; live-restore off: "
            "the restart will stop them",
        ),
        (
            "restart",
            facts(1, live=True),
            False,
            "docker will be restarted; 1 container running; live-restore on: they keep running",
        ),
        (
            "restart",
            facts(2),
            True,
            "docker will be restarted; 2 containers running; live-restore is switched on "
            "live first: they keep running",
        ),
        (
            "reload",
            facts(2),
            False,
            "docker will be reloaded (SIGHUP); 2 containers running: they keep running",
        ),
        ("reload", facts(0), False, "docker will be reloaded (SIGHUP); no containers running"),
        (
            "never",
            facts(4),
            False,
            "docker restart pending (restart_strategy=never); 4 containers running",
        ),
    ],
)
def test_containers_line_says_what_happens_to_running_containers(strategy, state, wanted, expected):
    assert containers_line(strategy, state, wanted) == expected


def test_docker_down_is_said_with_its_error():
    down = Preflight(docker=None, docker_error="Cannot connect to the Docker daemon")
    assert containers_line("restart", down, False) == (
        "docker is not answering (Cannot connect to the Docker daemon): it will be started"
    )


def test_validation_line_names_the_version_and_whether_it_is_skipped():
    assert "20.10.24 has no --validate" in validation_line(facts())
    assert "loads the new daemon.json as an unprivileged user" in validation_line(facts())
    assert validation_line(facts(validate=True)).startswith("dockerd 20.10.24 validates")


def test_never_has_no_validation_line():
    assert len(preview("never", facts(), False)) == 1
    assert len(preview("restart", facts(), False)) == 2


def test_the_stopping_line_is_only_for_a_restart_that_stops_containers() -> None:
    assert stops_containers_line("restart", facts(3), False) == (
        "docker will be restarted; 3 containers running; live-restore off: "
        "the restart will stop them"
    )
    assert stops_containers_line("restart", facts(0), False) == ""
    assert stops_containers_line("restart", facts(3, live=True), False) == ""
    assert stops_containers_line("restart", facts(3), True) == ""
    assert stops_containers_line("reload", facts(3), False) == ""
    assert stops_containers_line("restart", Preflight(), False) == ""
