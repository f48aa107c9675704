"""The converge, composed from operations as ``@deploy`` functions other deploys can reuse.

    from gpu_docker.deploys import converge
    converge()

reads like the design: settings, preflight, install (apt or offline), daemon.json,
apply to docker, verify. Every host-dependent decision lives in an operation; this module
only reads the preflight fact (read-only) and the controller's bundle, and wires the rest.
"""

from __future__ import annotations

import functools
import weakref
from importlib import resources
from io import StringIO
from pathlib import Path
from typing import Any

from pyinfra import host, state
from pyinfra.api import deploy
from pyinfra.api.operation import OperationMeta
from pyinfra.api.state import State
from pyinfra.operations import files

from gpu_docker import (
    apt_ops,
    cdi,
    cdi_ops,
    containerd_ops,
    dockerd_flags,
    dpkg_guard,
    fleet_report,
    nvml,
    nvml_ops,
    operations,
    preflight,
    rollback_ops,
    rootless,
    rootless_ops,
    runtime_config,
    runtime_config_ops,
    summary,
    toolkit,
)
from gpu_docker.bundle.depends import unmet_dependencies
from gpu_docker.bundle.errors import BundleError
from gpu_docker.bundle.manifest import Manifest, load_manifest, verify_bundle
from gpu_docker.connection import contain_connection_loss
from gpu_docker.containerd_ops import ContainerdFacts, ContainerdHost
from gpu_docker.daemon_json import DaemonJsonError, deep_merge, parse, render_owned
from gpu_docker.dockerd_flags import HostDockerdStartup
from gpu_docker.facts import (
    HostPreflight,
    Preflight,
    RemoteFileText,
)
from gpu_docker.report import describe
from gpu_docker.rootless_ops import RootlessDocker
from gpu_docker.settings import Settings, SettingsError, load_settings
from gpu_docker.verification import GpuDockerVerification

TEMPLATE = Path("templates") / "daemon.json.j2"

# One backup stamp per controller run, so every host's backup carries the same name.
_RUN_STAMPS: weakref.WeakKeyDictionary[State, str] = weakref.WeakKeyDictionary()


def _start_run() -> str:
    """What every deploy does first, at run time rather than import time: keep one host's
    lost SSH connection from ending the run for all, and name this run's backups.

    Returns the backup suffix of this run (one per pyinfra state, shared by every host).
    """
    contain_connection_loss()
    return _RUN_STAMPS.setdefault(host.state, operations.backup_suffix())


def _pre_rollback_suffix(backup: str) -> str:
    """What a rollback keeps of the file it replaces: not a backup a later rollback picks."""
    return backup.removesuffix(".bak") + ".pre-rollback"


def template_path(project_root: Path | None) -> Path:
    """The daemon.json template: the project's ``templates/daemon.json.j2`` when the deploy
    runs from a checkout that has one (the file an operator edits), else the package's."""
    if project_root is not None and (project_root / TEMPLATE).is_file():
        return project_root / TEMPLATE
    return Path(str(resources.files("gpu_docker").joinpath(str(TEMPLATE))))


def current_settings() -> Settings:
    """This host's validated settings (group data, host data and ``--data`` combined)."""
    return load_settings(host.name, host.data.dict())


def _settings_or_fail() -> Settings | None:
    """This host's settings, or ``None`` after failing the host with the bad key named."""
    try:
        return current_settings()
    except SettingsError as exc:
        operations.fail(name="Check settings", message=exc.problem)
        return None


def _daemon_json_problems(path: str, owned: dict[str, Any], validate: bool) -> list[str]:
    """Why the host's daemon.json cannot be merged, or why dockerd would not start again
    with it (a key also given as a flag, a latent edit dockerd rejects), found before
    anything is installed.

    The merge checks again when it runs; this early look keeps such a host entirely
    untouched instead of half-converged (toolkit installed, docker down or runtime missing).
    """
    current = host.get_fact(RemoteFileText, path=path)
    try:
        keys = parse(current.text or "").keys() | owned.keys()
    except DaemonJsonError as exc:
        return [f"{current.target}: {exc}; left untouched, fix it and run again"]
    startup = host.get_fact(HostDockerdStartup, path=path, validate=validate)
    unloaded = dockerd_flags.unloaded_changes(startup, current.target)
    if unloaded:
        host.log(unloaded)
    return dockerd_flags.problems(startup, keys, current.target)


def resolve_bundle_root(settings: Settings, project_root: Path | None) -> Path:
    """A relative ``bundle_dir`` is relative to the project (else the cwd), whatever the cwd."""
    path = Path(settings.bundle_dir).expanduser()
    if path.is_absolute():
        return path
    return (project_root or Path.cwd()) / path


@functools.cache
def checked_bundle(bundle_root: Path, version: str, arch: str) -> Manifest:
    """Load and verify a bundle once per controller run, however many hosts use it."""
    manifest = load_manifest(bundle_root, version, arch)
    verify_bundle(manifest)
    return manifest


def source_line(settings: Settings) -> str:
    """The apt source for NVIDIA's flat repository, trusting only the pinned keyring."""
    return f"deb [signed-by={settings.apt_keyring_path}] {settings.apt_repo_url} /\n"


def apt_pin(settings: Settings) -> str:
    """apt preferences holding the four packages at the pin against ``apt upgrade``.

    A 1.17.7 auto-upgrade broke users (nvidia-container-toolkit #1091); since 1.18 the
    packages depend on each other's exact version, so they move together or not at all.
    """
    return (
        "# Managed by gpu-docker: the toolkit moves only when its pinned version does.\n"
        f"Package: {' '.join(toolkit.PACKAGES)}\n"
        f"Pin: version {settings.deb_version}\n"
        "Pin-Priority: 1001\n"
    )


def _root_file(name: str, dest: str, content: str) -> OperationMeta:
    """A small config file we own: root-owned, 0644, diffed in previews."""
    return files.put(
        name=name, src=StringIO(content), dest=dest, user="root", group="root", mode="644"
    )


@deploy("Install NVIDIA Container Toolkit (apt)")
def install_online(settings: Settings, backup: str) -> list[OperationMeta]:
    """NVIDIA's source (probed first), version pin, then the four packages at the pin."""
    repository = apt_ops.apt_repository(
        name="Add the toolkit apt source (tried on its own first, key fingerprint checked)",
        key_url=settings.apt_key_url,
        fingerprint=settings.apt_key_fingerprint,
        keyring=settings.apt_keyring_path,
        repo_url=settings.apt_repo_url,
        list_path=toolkit.SOURCE_LIST,
        line=source_line(settings).rstrip("\n"),
        backup=backup,
    )
    _root_file("Pin the toolkit packages to the version", toolkit.APT_PIN, apt_pin(settings))
    wanted = {name: settings.deb_version for name in toolkit.PACKAGES}
    lock = dpkg_guard.lock_wait(settings.dpkg_lock_timeout)
    apt_ops.apt_refresh(
        name="Refresh NVIDIA's apt source if needed",
        changes=[repository],
        wanted=wanted,
        cache_time=settings.apt_cache_valid_seconds,
        list_path=toolkit.SOURCE_LIST,
        lock_wait=lock,
    )
    operations.dpkg_repair(name="Finish an interrupted dpkg run, if any", lock_wait=lock)
    packages = dpkg_guard.install_apt(
        name=f"Install the toolkit packages at {settings.deb_version}",
        versions=wanted,
        lock_timeout=settings.dpkg_lock_timeout,
    )
    return [packages]


@deploy("Install NVIDIA Container Toolkit (offline bundle)")
def install_offline(settings: Settings, manifest: Manifest) -> list[OperationMeta]:
    """The manifest's debs, uploaded when missing and installed with dpkg in its order."""
    _root_file("Pin the toolkit packages to the version", toolkit.APT_PIN, apt_pin(settings))
    lock = dpkg_guard.lock_wait(settings.dpkg_lock_timeout)
    operations.dpkg_repair(name="Finish an interrupted dpkg run, if any", lock_wait=lock)
    packages = dpkg_guard.install_bundle(
        name=f"Install the bundle {manifest.version}/{manifest.arch} with dpkg",
        entries=manifest.entries,
        remote_dir=f"{settings.remote_cache_dir}/{manifest.version}/{manifest.arch}",
        lock_timeout=settings.dpkg_lock_timeout,
    )
    return [packages]


def _offline_checks(
    settings: Settings, facts: Preflight, project_root: Path | None
) -> tuple[Manifest | None, list[str]]:
    """The verified bundle for this host's arch, or the problems that stop the install."""
    root = resolve_bundle_root(settings, project_root)
    try:
        manifest = checked_bundle(root, settings.upstream_version, facts.arch or "unknown")
    except BundleError as exc:
        return None, [f"offline bundle: {'; '.join(exc.problems)}"]
    unmet = unmet_dependencies(manifest.external_depends, facts.installed_versions())
    return manifest, preflight.problems(settings, facts, unmet=unmet)


@deploy("gpu-docker")
def converge(project_root: Path | None = None) -> None:
    """Take the current host from "docker can't see the GPU" to "GPU containers run".

    ``project_root`` is the checkout holding ``templates/`` and ``files/debs``; without it
    the package's own template is used and a relative ``bundle_dir`` is read from the cwd.
    """
    backup = _start_run()
    summary.register(state, "converged")
    settings = _settings_or_fail()
    if settings is None:
        return
    facts = host.get_fact(HostPreflight)
    manifest = None
    if settings.install_method == "offline":
        manifest, issues = _offline_checks(settings, facts, project_root)
    else:
        issues = preflight.problems(settings, facts)
    try:
        owned = render_owned(
            template_path(project_root),
            runtime_name=settings.runtime_name,
            runtime_path=settings.runtime_path,
            set_default_runtime=settings.set_default_runtime,
            live_restore=settings.live_restore,
            extra=settings.daemon_json_extra,
        )
    except DaemonJsonError as exc:
        issues.append(str(exc))
        owned = {}
    rootless_only = rootless.rootless_only(settings, facts.docker is not None, facts.docker_enabled)
    if settings.uses_docker and not rootless_only:
        issues += _daemon_json_problems(settings.daemon_json_path, owned, facts.docker_validate)
    for user in settings.rootless_users:
        issues += rootless_ops.problems(settings, host.get_fact(RootlessDocker, user=user))
    if settings.uses_containerd:
        containerd = host.get_fact(ContainerdFacts, path=settings.containerd_config_path)
        issues += containerd_ops.problems(settings, containerd)
    runtime_owned = runtime_config.owned(settings)
    issues += runtime_config_ops.problems(runtime_owned)
    if issues:
        operations.fail(name="Preflight", message="; ".join(issues))
        return

    dpkg_guard.check_packages(
        name="Check held and newer toolkit packages",
        packages=toolkit.PACKAGES,
        wanted=settings.deb_version,
        release_holds=settings.release_holds,
    )
    docker_version = facts.docker.server_version if facts.docker else facts.dockerd_version
    if settings.cdi and settings.uses_docker and not cdi.docker_supports_cdi(docker_version):
        cdi_ops.warn_docker_too_old(docker_version)
    owned = deep_merge(owned, cdi.daemon_json_owned(settings.cdi, docker_version))

    if settings.uses_docker and facts.docker is None and not rootless_only:
        operations.start_docker(
            name="Start docker (it was not running)",
            init=facts.init,
            timeout=settings.restart_timeout,
        )
    if manifest is not None:
        installs = install_offline(settings, manifest)
    else:
        installs = install_online(settings, backup)
    if runtime_owned:
        runtime_config_ops.config_merge(
            name="Merge the runtime settings into the toolkit's config.toml (no restart)",
            owned=runtime_owned,
            backup=backup,
        )
    for note in runtime_config.notes(settings):
        runtime_config_ops.warn(note)
    if settings.cdi:
        cdi_ops.cdi_spec(name="Generate the CDI spec if it is missing or stale")
    if settings.uses_containerd:
        _containerd(settings, containerd, backup)
    for user in settings.rootless_users:
        _rootless_user(settings, user, installs, backup)
    if not settings.uses_docker or rootless_only:
        return
    _nvml(settings)
    config = operations.daemon_json_merge(
        name="Merge the nvidia runtime into daemon.json",
        path=settings.daemon_json_path,
        owned=owned,
        backup=backup,
    )
    changes = [*installs, config]
    operations.apply_to_docker(
        name=f"Apply to docker ({settings.restart_strategy} if needed, for --gpus too)",
        changes=changes,
        strategy=settings.restart_strategy,
        daemon_json_path=settings.daemon_json_path,
        backup=backup,
        runtime_name=settings.runtime_name,
        timeout=settings.restart_timeout,
        preflight=facts,
        live_restore=settings.live_restore,
        serve_gpus=True,
    )
    # A host left with a restart pending (restart_strategy=never) failed above: it is
    # neither converged nor verified.
    operations.verify(
        name="Verify GPU containers run (docker run --gpus all)",
        runtime_name=settings.runtime_name,
        smoke_test_image=settings.smoke_test_image,
        packages=toolkit.PACKAGES,
    )


def _nvml(settings: Settings) -> None:
    """The NVML "Unknown Error" fix where docker's cgroup driver calls for it; the run
    (and its preview) says which driver docker uses."""
    found = host.get_fact(nvml_ops.NvmlFacts)
    host.log(nvml.describe(settings.nvml_symlinks, found.cgroup_driver))
    if not nvml.wanted(settings.nvml_symlinks, found.cgroup_driver):
        return
    _root_file(
        "Install NVIDIA's udev rule for the /dev/char links", nvml.UDEV_RULE_PATH, nvml.UDEV_RULE
    )
    nvml_ops.dev_char_symlinks(name="Create the /dev/char links of the NVIDIA devices")


def _rootless_user(
    settings: Settings, user: str, installs: list[OperationMeta], backup: str
) -> None:
    """A rootless user's daemon.json merged (as them), their docker restarted through
    ``systemctl --user`` if it or the toolkit changed, then ``--gpus all`` run in it."""
    config = rootless_ops.daemon_json_merge(
        name=f"Merge the nvidia runtime into {user}'s rootless daemon.json",
        settings=settings,
        user=user,
        backup=backup,
    )
    rootless_ops.apply_to_rootless_docker(
        name=f"Apply to {user}'s rootless docker (systemctl --user, if anything changed)",
        changes=[*installs, config],
        settings=settings,
        user=user,
        backup=backup,
    )
    rootless_ops.verify_rootless(name=f"Verify {user}'s rootless docker runs --gpus all", user=user)


def _containerd(settings: Settings, containerd: ContainerdHost, backup: str) -> None:
    """The runtime merged into containerd's config.toml, containerd restarted if it changed.

    The shim starts the runtime per container, so a new toolkit alone needs no restart.
    """
    config = containerd_ops.config_merge(
        name="Merge the nvidia runtime into containerd's config.toml",
        settings=settings,
        backup=backup,
    )
    containerd_ops.apply_to_containerd(
        name=f"Apply to containerd ({settings.restart_strategy} if its config changed)",
        changes=[config],
        settings=settings,
        backup=backup,
        service=containerd.service,
    )


@deploy("gpu-docker verify")
def report() -> None:
    """Read-only: whether GPU containers work on the current host; fail it if not.

    Each host's result also goes to the fleet report: a table when the run ends, and a
    JSON document at ``report_path`` when set.
    """
    _start_run()
    summary.register(state, "verified")
    fleet = fleet_report.collector(state)
    try:
        settings = current_settings()
    except SettingsError as exc:
        fleet.add(fleet_report.absent(host.name, "failed", exc.problem), None)
        operations.fail(name="Check settings", message=exc.problem)
        return
    found = host.get_fact(
        GpuDockerVerification,
        runtime_name=settings.runtime_name,
        image=settings.smoke_test_image or "",
        packages=toolkit.PACKAGES,
    )
    lines, problem = describe(found, settings.runtime_name, settings.smoke_test_image)
    fleet.add(
        fleet_report.record(host.name, found, settings.runtime_name, problem),
        settings.report_path,
    )
    for line in lines:
        host.log(line)
    if problem:
        operations.fail(name="Verify", message=problem)


@deploy("gpu-docker rollback")
def rollback() -> None:
    """Put back the daemon.json a run replaced, restart docker safely, optionally purge the
    toolkit: the undo of ``converge``, with the same preview and the same safety net."""
    keep = _pre_rollback_suffix(_start_run())
    summary.register(state, "rolled back")
    settings = _settings_or_fail()
    if settings is None:
        return
    facts = host.get_fact(HostPreflight)
    restored = rollback_ops.restore_daemon_json(
        name=f"Restore daemon.json from its backup ({settings.rollback_backup})",
        path=settings.daemon_json_path,
        wanted=settings.rollback_backup,
        keep=keep,
    )
    operations.apply_to_docker(
        name=f"Apply to docker ({settings.restart_strategy} if anything changed)",
        changes=[restored],
        strategy=settings.restart_strategy,
        daemon_json_path=settings.daemon_json_path,
        backup=keep,
        runtime_name="",
        timeout=settings.restart_timeout,
        preflight=facts,
    )
    if settings.rollback_remove_packages:
        rollback_ops.remove_packages(
            name="Remove the toolkit packages",
            packages=toolkit.PACKAGES,
            pin=toolkit.APT_PIN,
            lock_wait=dpkg_guard.lock_wait(settings.dpkg_lock_timeout),
        )
        cdi_ops.remove_spec(name="Remove the CDI spec (it calls the removed toolkit's hook)")
