"""docker on the host: started when it was not running, made to pick up a new toolkit or
daemon.json (and to serve ``--gpus``) safely, and asked whether GPU containers run.

The decisions are pure modules: :mod:`gpu_docker.dockerd_gpus` (restart, reload, nothing
or pending), :mod:`gpu_docker.dockerd_flags` (would dockerd start again),
:mod:`gpu_docker.restart_preview` (what the preview says) and :mod:`gpu_docker.verify`
(the report and its verdict).
"""

from __future__ import annotations

from collections.abc import Generator, Mapping, Sequence
from typing import Any

from pyinfra import host
from pyinfra.api import StringCommand, operation
from pyinfra.api.operation import OperationMeta

from gpu_docker import daemon_json, dockerd_flags, fleet_report, restart_preview, sh
from gpu_docker.dockerd_gpus import Action, ApplyPlan, plan_apply
from gpu_docker.facts import host_state
from gpu_docker.facts.docker import GpuDockerVerification, HostDockerdStartup, RunningDockerd
from gpu_docker.facts.files import RemoteFileText
from gpu_docker.operations.util import conclude_verification, fail
from gpu_docker.preflight import Preflight
from gpu_docker.verify import describe


def startup_problems(path: str, owned: Mapping[str, Any]) -> tuple[list[str], str]:
    """Why the host's daemon.json cannot be merged, or why dockerd would not start again
    with it (a key also given as a flag, a latent edit dockerd rejects), found before
    anything is installed; and the line for operator edits dockerd has not loaded yet
    ('' if none), which :func:`apply` says where it restarts docker.

    The merge checks again when it runs; this early look keeps such a host entirely
    untouched instead of half-converged (toolkit installed, docker down or runtime missing).
    The unloaded edits are read here, before this run writes the file itself.
    """
    current = host_state.read(RemoteFileText, path=path)
    try:
        keys = daemon_json.parse(current.text or "").keys() | owned.keys()
    except daemon_json.DaemonJsonError as exc:
        return [f"{current.target}: {exc}; left untouched, fix it and run again"], ""
    startup = host_state.read(HostDockerdStartup, path=path, validate=None)
    unloaded = dockerd_flags.unloaded_changes(startup, current.target)
    return dockerd_flags.problems(startup, keys, current.target, path), unloaded


@operation()
def start(init: str, timeout: int) -> Generator[StringCommand, None, None]:
    """
    Start docker, which was not running when the deploy began, and wait until it answers.

    + init: ``systemd`` or ``sysv`` (the init script)
    + timeout: seconds to wait for ``docker info`` to answer

    Installing the toolkit and registering the runtime need a running docker to verify
    against; the preflight fails the host instead when ``start_docker`` is off.

    **Example:**

    .. code:: python

        docker.start(name="Start docker (it was not running)", init="systemd", timeout=60)
    """
    yield sh.command("start_docker", init, str(timeout))


def _apply_plan(
    changes: Sequence[OperationMeta], strategy: str, daemon_json_path: str, serve_gpus: bool
) -> ApplyPlan:
    """The plan for docker: from the changes alone, or (``serve_gpus``) also from the
    running dockerd, read now: it may lack the --gpus device driver with nothing changed."""
    changed = any(meta.changed for meta in changes)
    if not serve_gpus:
        if not changed:
            return ApplyPlan("none")
        actions: dict[str, Action] = {"never": "pending", "reload": "reload"}
        return ApplyPlan(actions.get(strategy, "restart"))
    current = host_state.read(RemoteFileText, path=daemon_json_path)
    try:
        wanted = list(daemon_json.parse(current.text or "").get("runtimes", {}))
    except daemon_json.DaemonJsonError:
        wanted = []  # the merge fails the host with the reason
    return plan_apply(strategy, changed, host_state.read(RunningDockerd), wanted)


@operation()
def apply(
    changes: Sequence[OperationMeta],
    strategy: str,
    daemon_json_path: str,
    backup: str,
    runtime_name: str,
    timeout: int,
    preflight: Preflight,
    live_restore: bool = False,
    serve_gpus: bool = False,
    unloaded: str = "",
) -> Generator[StringCommand, None, None]:
    """
    Make docker pick up a new toolkit or daemon.json, and make it able to serve --gpus.

    + changes: the operations whose change calls for it (install, daemon.json)
    + strategy: ``restart``, ``reload`` (SIGHUP; running containers survive) or ``never``
    + daemon_json_path, backup: the file and this run's backup suffix, for the rollback
    + runtime_name: docker must list it afterwards (empty: docker must only answer)
    + timeout: seconds to wait for docker to answer
    + preflight: the preflight fact (init system, ``dockerd --validate``, what docker runs now)
    + live_restore: the new daemon.json turns live-restore on: switch it on live first,
      so the restart itself already spares the running containers
    + serve_gpus: also act when nothing changed but the running dockerd cannot serve
      ``--gpus`` or lacks a runtime of daemon.json (see ``gpu_docker.dockerd_gpus``);
      ``reload`` becomes a restart when only a restart registers the device driver
    + unloaded: the line for daemon.json edits dockerd has not loaded (read before the
      run, see :func:`startup_problems`): said only where docker is restarted, since only
      a restart applies them all

    The preview says per host why docker must act and what happens to its running
    containers. Where dockerd has ``--validate`` (Docker 23+) the file is checked first:
    rejected, the previous file is put back and docker is not touched. If docker does not
    list the runtime in time, the previous daemon.json is put back, docker restarted (or
    reloaded) again, and the host fails saying so: it ends as it began. With ``never`` a
    host that needs docker to act fails saying the restart is pending: it is not converged.

    **Example:**

    .. code:: python

        docker.apply(
            name="Apply to docker (restart if needed, for --gpus too)",
            changes=[packages, config],
            strategy="restart",
            daemon_json_path="/etc/docker/daemon.json",
            backup=backup,
            runtime_name="nvidia",
            timeout=60,
            preflight=host.get_fact(HostPreflight),
            serve_gpus=True,
        )
    """
    plan = _apply_plan(changes, strategy, daemon_json_path, serve_gpus)
    if plan.action == "none":
        serves = " and dockerd serves --gpus" if serve_gpus else ""
        host.noop(f"nothing changed{serves}: docker left running")
        return
    if plan.action == "pending" and serve_gpus:
        yield from fail._inner(plan.pending_message())
        return
    if plan.action == "pending":  # a rollback with never: the file is back, docker waits
        if not host.state.is_executing:
            for line in restart_preview.preview(strategy, preflight, live_restore):
                host.log(line)
        host.log_styled("gpu-docker: docker restart pending (restart_strategy=never)", fg="yellow")
        return
    also = [unloaded] if unloaded and plan.action == "restart" else []
    if host.state.is_executing:
        if plan.reasons:
            host.log(f"{plan.action}ing docker: {'; '.join(plan.reasons)}")
        if plan.note:
            host.log(plan.note)
        # -y runs show no preview: the restart stopping containers is said here as well.
        stops = restart_preview.stops_containers_line(plan.action, preflight, live_restore)
        if stops:
            host.log_styled(stops, fg="yellow")
    else:
        also = [
            *plan.lines(),
            *restart_preview.preview(plan.action, preflight, live_restore),
            *also,
        ]
    for line in also:
        host.log(line)
    yield sh.command(
        "apply",
        plan.action,
        daemon_json_path,
        backup,
        runtime_name,
        str(timeout),
        preflight.init,
        "1" if preflight.docker_validate else "0",
        "1" if live_restore else "0",
        dockerd_flags.RELOADED_STAMP,
    )


@operation()
def verify(
    runtime_name: str,
    smoke_test_image: str | None = None,
    packages: Sequence[str] = (),
    fleet: bool = False,
    report_path: str | None = None,
) -> Generator[StringCommand, None, None]:
    """
    Report whether GPU containers work on this host.

    + runtime_name: docker must list it; the runtime check runs through it
    + smoke_test_image: an operator's image with nvidia-smi, one more check where GPUs answer
    + packages: the toolkit packages whose versions the report lists
    + fleet: the verify deploy's own use: add the host to the run's fleet report, and
      preview the host as it is now (without it, the converge's use: a preview has
      nothing to verify before its changes are applied)
    + report_path: where the fleet report's JSON document goes (with ``fleet``)

    Runs what users run: ``docker run --gpus all`` on the probe image ``gpu-docker-probe``
    (made on the host from its own glibc on first use) on every host, and ``nvidia-smi -L``
    in containers where GPUs answer. Changes nothing else; fails the host naming the first
    check that failed, or the driver's own words when nvidia-smi fails.

    The host is read when the operation runs, not when the deploy is planned: the probe
    image is made then, so a ``--dry`` preview never makes one. A converge run with ``-y``
    takes the verification its one read made, where that ran every check and no
    operation has changed the host since. The preview reads the
    host without changing it: checks run only on a probe image already there, the others
    are named with the command a real verify runs.

    **Example:**

    .. code:: python

        docker.verify(
            name="Verify GPU containers run (docker run --gpus all)",
            runtime_name="nvidia",
            packages=toolkit.PACKAGES,
        )
    """
    executing = host.state.is_executing
    if not executing and not fleet:
        host.noop("verification runs once the changes are applied")
        return
    arguments = {
        "runtime_name": runtime_name,
        "image": smoke_test_image or "",
        "packages": tuple(packages),
    }
    # The converge's one read may have verified the host already (``-y`` runs); that
    # answer stands while nothing has changed the host since, and it ran every check.
    early = host_state.known(GpuDockerVerification, **arguments, dry=True)
    if executing and early is not None and early.complete:
        report = early
    else:
        report = host.get_fact(GpuDockerVerification, **arguments, dry=not executing)
    lines, problem = describe(report, runtime_name, smoke_test_image)
    entry = fleet_report.record(host.name, report, runtime_name, problem) if fleet else None
    yield from conclude_verification(lines, problem, entry, report_path)
