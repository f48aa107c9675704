"""gpu-docker's ``@deploy`` functions: converge, verify, rollback, and the installs they
compose. Other deploys can reuse them:

    from gpu_docker.deploys import converge
    converge()

``converge`` reads as its plan: settings, read the host and preflight, install (apt or
offline), configure each engine, apply, verify; each step is a function of
:mod:`gpu_docker.plan`. Every host-dependent decision lives in an operation
(``gpu_docker.operations``); the deploys and their steps only read the preflight facts
(read-only) and the controller's bundle, and wire the operations together.
"""

from __future__ import annotations

from pathlib import Path

from pyinfra import host, state
from pyinfra.api import deploy
from pyinfra.api.operation import OperationMeta

from gpu_docker import fleet_report, plan, run, runtime_config, toolkit
from gpu_docker.bundle.manifest import Manifest
from gpu_docker.facts.containerd import ContainerdFacts
from gpu_docker.facts.preflight import HostPreflight
from gpu_docker.files import pre_rollback_suffix
from gpu_docker.operations import (
    apt,
    cdi,
    containerd,
    docker,
    dpkg,
)
from gpu_docker.operations import files as root_files
from gpu_docker.operations import rootless as rootless_ops
from gpu_docker.operations.files import root_file
from gpu_docker.operations.util import fail
from gpu_docker.settings import Settings, SettingsError


@deploy("Install NVIDIA Container Toolkit (apt)")
def install_online(settings: Settings, backup: str) -> OperationMeta:
    """NVIDIA's source (probed first), version pin, then the four packages at the pin.

    Returns the package install, whose change docker must pick up."""
    repository = apt.repository(
        name="Add the toolkit apt source (tried on its own first, key fingerprint checked)",
        key_url=settings.apt_key_url,
        fingerprint=settings.apt_key_fingerprint,
        keyring=settings.apt_keyring_path,
        repo_url=settings.apt_repo_url,
        list_path=toolkit.SOURCE_LIST,
        line=toolkit.source_line(settings.apt_keyring_path, settings.apt_repo_url),
        backup=backup,
    )
    pin = root_file(
        name="Pin the toolkit packages to the version",
        dest=toolkit.APT_PIN,
        content=toolkit.apt_pin(settings.deb_version),
    )
    wanted = {name: settings.deb_version for name in toolkit.PACKAGES}
    lock = dpkg.lock_wait(settings.dpkg_lock_timeout)
    apt.refresh(
        name="Refresh NVIDIA's apt source if needed",
        # A new source comes with its indexes (its probe's); a new pin (a version bump)
        # needs lists holding it, however fresh the last refresh.
        fetched=repository,
        changes=[pin],
        wanted=wanted,
        cache_time=settings.apt_cache_valid_seconds,
        list_path=toolkit.SOURCE_LIST,
        lock_wait=lock,
    )
    dpkg.repair(name="Finish an interrupted dpkg run, if any", lock_wait=lock)
    packages = apt.install(
        name=f"Install the toolkit packages at {settings.deb_version}",
        versions=wanted,
        lock_timeout=settings.dpkg_lock_timeout,
    )
    return packages


@deploy("Install NVIDIA Container Toolkit (offline bundle)")
def install_offline(settings: Settings, manifest: Manifest) -> OperationMeta:
    """The manifest's debs, uploaded when missing and installed with dpkg in its order.

    Returns the package install, whose change docker must pick up."""
    root_file(
        name="Pin the toolkit packages to the version",
        dest=toolkit.APT_PIN,
        content=toolkit.apt_pin(settings.deb_version),
    )
    lock = dpkg.lock_wait(settings.dpkg_lock_timeout)
    dpkg.repair(name="Finish an interrupted dpkg run, if any", lock_wait=lock)
    packages = dpkg.install_bundle(
        name=f"Install the bundle {manifest.version}/{manifest.arch} with dpkg",
        entries=manifest.entries,
        remote_dir=f"{settings.remote_cache_dir}/{manifest.version}/{manifest.arch}",
        lock_timeout=settings.dpkg_lock_timeout,
    )
    return packages


@deploy("gpu-docker")
def converge(project_root: Path | None = None) -> None:
    """Take the current host from "docker can't see the GPU" to "GPU containers run".

    ``project_root`` is the checkout holding ``templates/`` and ``files/debs``; without it
    the package's own template is used and a relative ``bundle_dir`` is read from the cwd.
    Each step is a function of :mod:`gpu_docker.plan`, which says why it is there.
    """
    backup = run.start("converged")
    settings = run.settings_or_fail()
    if settings is None:
        return
    found = plan.read_host(settings, project_root)
    if found.issues:
        fail(name="Preflight", message="; ".join(found.issues))
        return
    plan.warn_vulnerable_pin(settings)
    plan.clear_packages(settings, backup)
    owned = plan.docker_owned(settings, found)
    plan.start_docker(settings, found)
    if found.manifest is not None:
        installed = install_offline(settings=settings, manifest=found.manifest)
    else:
        installed = install_online(settings=settings, backup=backup)
    plan.configure_toolkit(settings, found, backup)
    if settings.uses_containerd:
        plan.converge_containerd(settings, found, backup)
    if settings.uses_podman:
        plan.verify_podman(settings)
    for user in settings.rootless_users:
        rootless_user(
            settings=settings,
            user=user,
            installed=installed,
            backup=backup,
            docker_version=found.docker_version,
        )
    if not found.applies_to_docker(settings):
        return
    plan.link_nvml_devices(settings)
    plan.apply_to_docker(settings, found, owned, installed, backup)
    plan.verify_docker(settings)


@deploy("Rootless docker")
def rootless_user(
    settings: Settings, user: str, installed: OperationMeta, backup: str, docker_version: str
) -> None:
    """A rootless user's daemon.json merged (as them), their docker restarted through
    ``systemctl --user`` if it or the toolkit changed, then ``--gpus all`` run in it."""
    config = rootless_ops.merge(
        name=f"Merge the nvidia runtime into {user}'s rootless daemon.json",
        settings=settings,
        user=user,
        backup=backup,
        docker_version=docker_version,
    )
    rootless_ops.apply(
        name=f"Apply to {user}'s rootless docker (systemctl --user, if anything changed)",
        changes=[installed, config],
        settings=settings,
        user=user,
        backup=backup,
    )
    rootless_ops.verify(name=f"Verify {user}'s rootless docker runs --gpus all", user=user)


@deploy("gpu-docker verify")
def verify() -> None:
    """Whether GPU containers work on the current host through each engine
    ``container_engine`` names (docker, containerd, podman), and only those; fail it if not.

    Each host's result also goes to the fleet report: a table when the run ends, and a
    JSON document at ``report_path`` when set. The host is read by an operation, so only
    an applied run makes the probe image; ``--dry`` previews read-only.
    """
    run.start("verified")
    try:
        settings = run.host_settings()
    except SettingsError as exc:
        fleet = fleet_report.collector(state)
        fleet.add(fleet_report.absent(host.name, "failed", exc.problem), None)
        fail(name="Check settings", message=exc.problem)
        return
    # The engines container_engine names, and only those.
    if settings.uses_docker:
        plan.verify_docker(settings, report=True)
    if settings.uses_containerd:
        plan.verify_containerd(settings, report=True)
    if settings.uses_podman:
        plan.verify_podman(settings, report=True)


@deploy("gpu-docker rollback")
def rollback() -> None:
    """Put back every file a run replaced (daemon.json, containerd's and the toolkit's
    config.toml, rootless users' daemon.json), restart what reads them safely, optionally
    purge the toolkit: the undo of ``converge``, with the same preview and safety net.

    Each file's backup is picked by the same rule (``rollback_backup``); a file with no
    backup was never changed by gpu-docker and is left alone (said). Only daemon.json is
    required on a docker-only host: there it is what a rollback is for.
    """
    keep = pre_rollback_suffix(run.start("rolled back"))
    settings = run.settings_or_fail()
    if settings is None:
        return
    facts = host.get_fact(HostPreflight)
    wanted = settings.rollback_backup
    # Read per container, so no restart follows.
    root_files.restore(
        name=f"Restore the toolkit's config.toml from its backup ({wanted})",
        path=runtime_config.CONFIG_PATH,
        wanted=wanted,
        keep=keep,
        required=False,
    )
    containerd_host = host.get_fact(ContainerdFacts, path=settings.containerd_config_path)
    config_toml = root_files.restore(
        name=f"Restore containerd's config.toml from its backup ({wanted})",
        path=settings.containerd_config_path,
        wanted=wanted,
        keep=keep,
        required=False,
    )
    containerd.apply(
        name=f"Apply to containerd ({settings.restart_strategy} if its config changed)",
        changes=[config_toml],
        settings=settings,
        backup=keep,
        service=containerd_host.service,
    )
    for user in settings.rootless_users:
        restored_user = rootless_ops.restore(
            name=f"Restore {user}'s rootless daemon.json from its backup ({wanted})",
            user=user,
            wanted=wanted,
            keep=keep,
        )
        rootless_ops.apply(
            name=f"Apply to {user}'s rootless docker (systemctl --user, if it changed)",
            changes=[restored_user],
            settings=settings,
            user=user,
            backup=keep,
            runtime_name="",
        )
    if settings.uses_docker:
        restored = root_files.restore(
            name=f"Restore daemon.json from its backup ({wanted})",
            path=settings.daemon_json_path,
            wanted=wanted,
            keep=keep,
            required=settings.container_engine == "docker",
        )
        docker.apply(
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
        dpkg.remove_packages(
            name="Remove the toolkit packages",
            packages=toolkit.PACKAGES,
            pin=toolkit.APT_PIN,
            lock_wait=dpkg.lock_wait(settings.dpkg_lock_timeout),
        )
        cdi.remove_spec(name="Remove the CDI spec (it calls the removed toolkit's hook)")
