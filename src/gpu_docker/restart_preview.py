"""What applying a change to docker will do to a host, said before it is done.

Restarting dockerd stops every container on the host unless the running daemon has
``live-restore`` on; a GPU box may be in the middle of a training run. The preview
(``--dry``) therefore prints, per host, how many containers run and what the chosen
strategy does to them, and whether dockerd can validate the new daemon.json first.
Pure functions over the preflight fact, so every sentence is unit-tested.
"""

from __future__ import annotations

from gpu_docker.preflight import Preflight


def _containers(count: int) -> str:
    return f"{count} container{'s' if count != 1 else ''} running"


def containers_line(strategy: str, facts: Preflight, live_restore_wanted: bool) -> str:
    """One sentence: what the strategy does to this host's running containers."""
    docker = facts.docker
    if docker is None:
        detail = f" ({facts.docker_error})" if facts.docker_error else ""
        return f"docker is not answering{detail}: it will be started"
    if strategy == "never":
        return f"docker restart pending (restart_strategy=never); {_containers(docker.containers_running)}"
    if strategy == "reload":
        if docker.containers_running == 0:
            return "docker will be reloaded (SIGHUP); no containers running"
        return (
            f"docker will be reloaded (SIGHUP); {_containers(docker.containers_running)}: "
            "they keep running"
        )
    if docker.containers_running == 0:
        return "docker will be restarted; no containers running"
    running = _containers(docker.containers_running)
    if docker.live_restore:
        return f"docker will be restarted; {running}; live-restore on: they keep running"
    if live_restore_wanted:
        return (
            f"docker will be restarted; {running}; live-restore is switched on live first: "
            "they keep running"
        )
    return f"docker will be restarted; {running}; live-restore off: the restart will stop them"


def stops_containers_line(strategy: str, facts: Preflight, live_restore_wanted: bool) -> str:
    """:func:`containers_line` where applying the strategy stops running containers (a
    restart with live-restore off and not switched on first), else ''. Said when the
    change is applied too, so a run without a preview (``-y``) says it as well."""
    docker = facts.docker
    if (
        strategy != "restart"
        or docker is None
        or docker.containers_running == 0
        or docker.live_restore
        or live_restore_wanted
    ):
        return ""
    return containers_line(strategy, facts, live_restore_wanted)


def validation_line(facts: Preflight) -> str:
    """Whether dockerd checks the new daemon.json before docker is touched."""
    version = facts.docker.server_version if facts.docker else facts.dockerd_version
    if facts.docker_validate:
        return f"dockerd {version} validates the new daemon.json (--validate) before applying it"
    return (
        f"dockerd {version} has no --validate (Docker < 23): it loads the new daemon.json as "
        "an unprivileged user before applying it; a rejected file is rolled back after the "
        "restart if that load could not tell"
    )


def preview(strategy: str, facts: Preflight, live_restore_wanted: bool) -> list[str]:
    """The lines the dry run prints for a host where docker must pick up a change."""
    lines = [containers_line(strategy, facts, live_restore_wanted)]
    if strategy != "never":
        lines.append(validation_line(facts))
    return lines
