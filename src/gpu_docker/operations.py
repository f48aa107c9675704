"""gpu-docker's pyinfra operations: each reads its facts when it runs, decides, yields.

Operations run twice in pyinfra 3: once while planning (to preview, ``--dry``) and again
when executing, reading the host afresh. Everything that depends on the host's current
state (daemon.json's content, which debs are installed) is therefore decided here, never
at the top of a deploy file. When there is nothing to do an operation says why with
``host.noop``.

Scripts are fixed strings; host data reaches them only as quoted positional arguments.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence
from io import StringIO
from pathlib import PurePosixPath
from typing import Any

from pyinfra import host, logger
from pyinfra.api import FileUploadCommand, FunctionCommand, QuoteString, StringCommand, operation
from pyinfra.api.arguments import ConnectorArguments
from pyinfra.api.host import Host
from pyinfra.api.operation import OperationMeta
from pyinfra.api.state import State
from pyinfra.operations.util.files import generate_color_diff

from gpu_docker import daemon_json, restart, sh
from gpu_docker.bundle.manifest import BundleEntry
from gpu_docker.dockerd_gpus import ApplyPlan, RunningDockerd, plan_apply
from gpu_docker.facts import (
    DpkgAudit,
    InstalledPackages,
    Preflight,
    RemoteFileText,
    RemoteSha256,
)
from gpu_docker.report import describe
from gpu_docker.verification import GpuDockerVerification

BACKUP_TAG = "gpu-docker"


def backup_suffix(now: datetime.datetime | None = None) -> str:
    """The suffix of this run's daemon.json backup; one per run, shared by every host."""
    stamp = (now or datetime.datetime.now(datetime.timezone.utc)).strftime("%Y%m%dT%H%M%SZ")
    return f".{BACKUP_TAG}-{stamp}.bak"


def _fail_command(message: str) -> StringCommand:
    """A command that fails the host with one line on stderr: pyinfra prints it per host.

    ``printf %s``, not ``echo``: dash's echo turns a ``\\n`` in the message (a setting's
    repr) into a line break, splitting the one line.
    """
    return StringCommand(
        "printf", "'%s\\n'", QuoteString(f"gpu-docker: {message}"), ">&2;", "exit", "1"
    )


@operation()
def fail(message: str):
    """
    Fail this host with one clear line, changing nothing (the other hosts go on).

    + message: what is wrong and what to do about it
    """
    if not host.state.is_executing:  # a preview: no command runs to print the reason
        host.log_styled(f"gpu-docker: {message}", fg="red", log_func=logger.error)
    yield _fail_command(message)


@operation()
def daemon_json_merge(path: str, owned: Mapping[str, Any], backup: str):
    """
    Merge the settings gpu-docker owns into daemon.json, keeping everything else.

    + path: daemon.json (a symlink is followed: the target is edited, the link stays)
    + owned: the object rendered from ``templates/daemon.json.j2``
    + backup: suffix of the backup copy of the previous file (see ``backup_suffix``)

    Read and merged when the operation runs, so the merge sees the file as it is then.
    Written only when the parsed content changes: a temp file beside the target, mode
    0644 root, then an atomic rename; the old content is kept as ``<target><backup>``
    (mode 0600), or an ``.absent`` marker when there was no file, for rollback.
    A file we cannot merge is left untouched and the host fails with the reason.
    """
    current = host.get_fact(RemoteFileText, path=path)
    try:
        result = daemon_json.merge(current.text, owned)
    except daemon_json.DaemonJsonError as exc:
        yield from fail._inner(f"{current.target}: {exc}; left untouched, fix it and run again")
        return
    if not result.changed:
        host.noop(f"{current.target} already has the owned settings")
        return

    if host.state.config.DIFF:
        host.log(f"Will {'modify' if current.text is not None else 'create'} {current.target}")
        old_lines = (current.text or "").splitlines(keepends=True)
        for line in generate_color_diff(old_lines, result.text.splitlines(keepends=True)):
            logger.info("  %s", line)

    target = PurePosixPath(current.target)
    temp = str(target.with_name(f".{target.name}.{BACKUP_TAG}.tmp"))
    yield StringCommand("mkdir", "-p", QuoteString(str(target.parent)))
    yield WithConnectorArguments(upload_beside, (result.text, temp, str(target)), {})
    yield sh.command("swap_in", temp, str(target), str(target) + backup)


class WithConnectorArguments(FunctionCommand):
    """A ``FunctionCommand`` that hands the operation's connector arguments (``_sudo``...) on.

    pyinfra's own drops them, so an upload made from one runs as the SSH login user and
    fails on /etc/docker when the deploy logs in as a sudo user; the function gets them as
    ``arguments``, as pyinfra's ``FileUploadCommand`` passes them to ``put_file``. Every
    Python step of ours that runs commands or uploads on the host goes through it.
    """

    def execute(self, state: State, host: Host, connector_arguments: ConnectorArguments) -> Any:
        return self.function(state, host, *self.args, arguments=connector_arguments, **self.kwargs)


def upload_beside(
    state: State, host: Host, text: str, temp: str, target: str, arguments: ConnectorArguments
) -> bool:
    """Upload the new daemon.json to ``temp``, beside its target, or fail the host cleanly.

    An upload that fails (a full disk, most often) would leave a truncated temp file and
    pyinfra's "size mismatch in put!"; instead the partial file is removed, the target is
    untouched, and the one line printed says why, with the free space left.
    """
    try:
        if host.put_file(StringIO(text), temp, **arguments):
            return True
        error = "the upload failed"
    except OSError as exc:
        error = str(exc)
    parent = str(PurePosixPath(target).parent)
    ok, output = host.run_shell_command(sh.command("upload_failed", temp, parent), **arguments)
    free = output.stdout.strip() if ok else ""
    needed = len(text.encode())
    if free.isdigit() and int(free) * 1024 < needed:
        cause = (
            f"no space left on the device holding {parent} ({free} KiB free, {needed} bytes needed)"
        )
    else:
        cause = f"could not write {temp} ({error})"
    host.log_styled(
        f"gpu-docker: {cause}; {target} left untouched", fg="red", log_func=logger.error
    )
    return False


@operation()
def dpkg_repair(lock_wait: StringCommand | None = None):
    """
    Finish an interrupted dpkg run (``dpkg --configure -a``) before apt or a bundle installs.

    + lock_wait: a command run first that waits for another apt or dpkg to finish

    A dpkg killed mid-install leaves packages unpacked or half-installed, and apt then
    refuses every install until ``dpkg --configure -a`` has run. Half-installed packages
    stay for the install that follows to reinstall. Nothing is done when the audit is clean.
    """
    if not host.get_fact(DpkgAudit):
        host.noop("dpkg state is consistent")
        return
    if lock_wait is not None:
        yield lock_wait
    yield "DEBIAN_FRONTEND=noninteractive dpkg --force-confold --configure -a"


@operation()
def start_docker(init: str, timeout: int):
    """
    Start docker, which was not running when the deploy began, and wait until it answers.

    + init: ``systemd`` or ``sysv`` (the init script)
    + timeout: seconds to wait for ``docker info`` to answer

    Installing the toolkit and registering the runtime need a running docker to verify
    against; the preflight fails the host instead when ``start_docker`` is off.
    """
    yield sh.command("start_docker", init, str(timeout))


@operation()
def install_bundle(entries: Sequence[BundleEntry], remote_dir: str):
    """
    Install an offline bundle's debs with dpkg, in the manifest's order.

    + entries: the manifest's entries, already verified on the controller, in install order
    + remote_dir: cache directory on the host; uploads are kept for the next run

    Packages already installed at their version are skipped; when none is left nothing is
    uploaded. A deb already in the cache with the manifest's sha256 is not uploaded again.
    ``dpkg -i`` only: no ``apt-get -f`` reaching for a network a restricted host lacks.
    """
    names = tuple(e.package for e in entries)
    installed = host.get_fact(InstalledPackages, packages=names)
    needed = [e for e in entries if installed.get(e.package) != e.version]
    if not needed:
        host.noop(f"{len(entries)} bundle packages already installed at {entries[0].version}")
        return

    paths = {e.file: f"{remote_dir}/{e.file}" for e in needed}
    present = host.get_fact(RemoteSha256, paths=tuple(paths.values()))
    yield StringCommand("install", "-d", "-m", "0755", QuoteString(remote_dir))
    for entry in needed:
        remote = paths[entry.file]
        if present.get(remote) != entry.sha256:
            yield FileUploadCommand(
                str(entry.path), remote, remote_temp_filename=host.get_temp_filename(remote)
            )
    yield sh.command("dpkg_install", remote_dir, *(f"{e.file}={e.sha256}" for e in needed))


def _apply_plan(
    changes: Sequence[OperationMeta], strategy: str, daemon_json_path: str, serve_gpus: bool
) -> ApplyPlan:
    """The plan for docker: from the changes alone, or (``serve_gpus``) also from the
    running dockerd, read now: it may lack the --gpus device driver with nothing changed."""
    changed = any(meta.changed for meta in changes)
    if not serve_gpus:
        if not changed:
            return ApplyPlan("none")
        action = {"never": "pending", "reload": "reload"}.get(strategy, "restart")
        return ApplyPlan(action)  # type: ignore[arg-type]
    current = host.get_fact(RemoteFileText, path=daemon_json_path)
    try:
        wanted = list(daemon_json.parse(current.text or "").get("runtimes", {}))
    except daemon_json.DaemonJsonError:
        wanted = []  # the merge fails the host with the reason
    return plan_apply(strategy, changed, host.get_fact(RunningDockerd), wanted)


@operation()
def apply_to_docker(
    changes: Sequence[OperationMeta],
    strategy: str,
    daemon_json_path: str,
    backup: str,
    runtime_name: str,
    timeout: int,
    preflight: Preflight,
    live_restore: bool = False,
    serve_gpus: bool = False,
):
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

    The preview says per host why docker must act and what happens to its running
    containers. Where dockerd has ``--validate`` (Docker 23+) the file is checked first:
    rejected, the previous file is put back and docker is not touched. If docker does not
    list the runtime in time, the previous daemon.json is put back, docker restarted (or
    reloaded) again, and the host fails saying so: it ends as it began. With ``never`` a
    host that needs docker to act fails saying the restart is pending: it is not converged.
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
            for line in restart.preview(strategy, preflight, live_restore):
                host.log(line)
        host.log_styled("gpu-docker: docker restart pending (restart_strategy=never)", fg="yellow")
        return
    if host.state.is_executing:
        if plan.reasons:
            host.log(f"{plan.action}ing docker: {'; '.join(plan.reasons)}")
        if plan.note:
            host.log(plan.note)
    else:
        for line in [*plan.lines(), *restart.preview(plan.action, preflight, live_restore)]:
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
    )


@operation()
def verify(runtime_name: str, smoke_test_image: str | None = None, packages: Sequence[str] = ()):
    """
    Report whether GPU containers work on this host, after the changes are applied.

    + runtime_name: docker must list it; the runtime check runs through it
    + smoke_test_image: an operator's image with nvidia-smi, one more check where GPUs answer
    + packages: the toolkit packages whose versions the report lists

    Runs what users run: ``docker run --gpus all`` on the probe image ``gpu-docker-probe``
    (made on the host from its own glibc on first use) on every host, and ``nvidia-smi -L``
    in containers where GPUs answer. Changes nothing else; fails the host naming the first
    check that failed, or the driver's own words when nvidia-smi fails.
    """
    if not host.state.is_executing:
        host.noop("verification runs once the changes are applied")
        return
    report = host.get_fact(
        GpuDockerVerification,
        runtime_name=runtime_name,
        image=smoke_test_image or "",
        packages=tuple(packages),
    )
    lines, problem = describe(report, runtime_name, smoke_test_image)
    for line in lines:
        host.log(line)
    if problem:
        yield from fail._inner(problem)
    else:
        host.noop("verified")
