"""gpu-docker's ``@deploy`` functions: converge, verify, rollback, and the installs they
compose. Other deploys can reuse them:

    from gpu_docker.deploys import converge
    converge()

``converge`` reads like the design: settings, preflight, install (apt or offline),
daemon.json, apply to docker, verify. Every host-dependent decision lives in an
operation (``gpu_docker.operations``); this module only reads the preflight facts
(read-only) and the controller's bundle, and wires the operations together.
"""

from __future__ import annotations

from pathlib import Path

from pyinfra import host, state
from pyinfra.api import deploy
from pyinfra.api.operation import OperationMeta

from gpu_docker import fleet_report, preflight, rootless, run, runtime_config, toolkit
from gpu_docker.bundle.manifest import Manifest
from gpu_docker.cdi import daemon_json_owned, docker_supports_cdi
from gpu_docker.daemon_json import DaemonJsonError, deep_merge, render_owned, template_path
from gpu_docker.facts import host_state
from gpu_docker.facts.containerd import ContainerdFacts
from gpu_docker.facts.files import RemoteFileText
from gpu_docker.facts.preflight import HostPreflight
from gpu_docker.facts.rootless import RootlessDocker
from gpu_docker.files import pre_rollback_suffix
from gpu_docker.nvml import UDEV_RULE, UDEV_RULE_PATH
from gpu_docker.operations import (
    apt,
    cdi,
    containerd,
    daemon_json,
    docker,
    dpkg,
    nvml,
)
from gpu_docker.operations import files as root_files
from gpu_docker.operations import rootless as rootless_ops
from gpu_docker.operations import runtime_config as runtime_config_ops
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
        # A new pin (a version bump) needs lists holding it, however fresh the last refresh.
        changes=[repository, pin],
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
    """
    backup = run.start("converged")
    settings = run.settings_or_fail()
    if settings is None:
        return
    run.read_host(settings)
    facts = host_state.read(HostPreflight)
    manifest = None
    if settings.install_method == "offline":
        manifest, issues = preflight.offline_checks(settings, facts, project_root)
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
    unloaded = ""
    rootless_only = rootless.rootless_only(settings, facts.docker is not None, facts.docker_enabled)
    if settings.uses_docker and not rootless_only:
        found, unloaded = docker.startup_problems(settings.daemon_json_path, owned)
        issues += found
    if settings.uses_containerd:
        containerd_host = host_state.read(ContainerdFacts, path=settings.containerd_config_path)
        issues += preflight.containerd_problems(settings, containerd_host)
    for user in settings.rootless_users:
        issues += rootless.problems(settings, host.get_fact(RootlessDocker, user=user))
    runtime_owned = runtime_config.owned(settings)
    if runtime_owned:
        current = host.get_fact(RemoteFileText, path=runtime_config.CONFIG_PATH)
        issues += runtime_config.problems(current, runtime_owned)
    if issues:
        fail(name="Preflight", message="; ".join(issues))
        return
    exposure = preflight.pin_exposure(settings)
    if exposure:
        runtime_config_ops.warn(f"the pin: {exposure} (vulnerable_pin=refuse stops such a pin)")

    dpkg.check_packages(
        name="Check held and newer toolkit packages",
        packages=toolkit.PACKAGES,
        wanted=settings.deb_version,
        release_holds=settings.release_holds,
    )
    dpkg.restore_kept(
        name="Put back a daemon.json an interrupted purge left aside",
        daemon_json_path=settings.daemon_json_path,
    )
    dpkg.purge_legacy(
        name="Purge NVIDIA's superseded packages (nvidia-docker2, nvidia-container-runtime)",
        packages=toolkit.LEGACY_PACKAGES,
        daemon_json_path=settings.daemon_json_path,
        keep=backup.removesuffix(".bak") + ".keep",
        toolkit=toolkit.PACKAGES,
        lock_wait=dpkg.lock_wait(settings.dpkg_lock_timeout),
    )
    docker_version = facts.docker.server_version if facts.docker else facts.dockerd_version
    if settings.cdi and settings.uses_docker and not docker_supports_cdi(docker_version):
        cdi.warn_docker_too_old(docker_version)
    owned = deep_merge(owned, daemon_json_owned(settings.cdi, docker_version))

    if settings.uses_docker and facts.docker is None and not rootless_only:
        docker.start(
            name="Start docker (it was not running)",
            init=facts.init,
            timeout=settings.restart_timeout,
        )
    if manifest is not None:
        installed = install_offline(settings=settings, manifest=manifest)
    else:
        installed = install_online(settings=settings, backup=backup)
    if runtime_owned:
        runtime_config_ops.merge(
            name="Merge the runtime settings into the toolkit's config.toml (no restart)",
            owned=runtime_owned,
            backup=backup,
        )
    for note in runtime_config.notes(settings):
        runtime_config_ops.warn(note)
    if settings.cdi:
        cdi.spec(name="Generate the CDI spec if it is missing or stale")
    if settings.uses_containerd:
        # The shim starts the runtime per container, so a new toolkit alone needs no restart.
        config_toml = containerd.merge(
            name="Merge the nvidia runtime into containerd's config.toml",
            settings=settings,
            backup=backup,
        )
        containerd.apply(
            name=f"Apply to containerd ({settings.restart_strategy} if its config changed)",
            changes=[config_toml],
            settings=settings,
            backup=backup,
            service=containerd_host.service,
        )
    for user in settings.rootless_users:
        rootless_user(settings=settings, user=user, installed=installed, backup=backup)
    if not settings.uses_docker or rootless_only:
        return
    if nvml.wanted(settings.nvml_symlinks):
        root_file(
            name="Install NVIDIA's udev rule for the /dev/char links",
            dest=UDEV_RULE_PATH,
            content=UDEV_RULE,
        )
        nvml.dev_char_symlinks(name="Create the /dev/char links of the NVIDIA devices")
    config = daemon_json.merge(
        name="Merge the nvidia runtime into daemon.json",
        path=settings.daemon_json_path,
        owned=owned,
        backup=backup,
    )
    docker.apply(
        name=f"Apply to docker ({settings.restart_strategy} if needed, for --gpus too)",
        changes=[installed, config],
        strategy=settings.restart_strategy,
        daemon_json_path=settings.daemon_json_path,
        backup=backup,
        runtime_name=settings.runtime_name,
        timeout=settings.restart_timeout,
        preflight=facts,
        live_restore=settings.live_restore,
        serve_gpus=True,
        unloaded=unloaded,
    )
    # A host left with a restart pending (restart_strategy=never) failed above: it is
    # neither converged nor verified.
    docker.verify(
        name="Verify GPU containers run (docker run --gpus all)",
        runtime_name=settings.runtime_name,
        smoke_test_image=settings.smoke_test_image,
        packages=toolkit.PACKAGES,
    )


@deploy("Rootless docker")
def rootless_user(settings: Settings, user: str, installed: OperationMeta, backup: str) -> None:
    """A rootless user's daemon.json merged (as them), their docker restarted through
    ``systemctl --user`` if it or the toolkit changed, then ``--gpus all`` run in it."""
    config = rootless_ops.merge(
        name=f"Merge the nvidia runtime into {user}'s rootless daemon.json",
        settings=settings,
        user=user,
        backup=backup,
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
    """Whether GPU containers work on the current host; fail it if not.

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
    docker.verify(
        name="Verify GPU containers run (docker run --gpus all)",
        runtime_name=settings.runtime_name,
        smoke_test_image=settings.smoke_test_image,
        packages=toolkit.PACKAGES,
        fleet=True,
        report_path=settings.report_path,
    )


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
