"""The steps of the converge (:func:`gpu_docker.deploys.converge`), one function each, so
that the deploy reads as its plan: read the host, preflight, install, configure each
engine, apply, verify.

The steps are plain functions, not ``@deploy`` ones: a nested deploy would put its name
in front of its operations' names, which the run prints and the tests read. pyinfra
orders a deploy's operations by the line numbers of the calls that reach them, so the
converge calling its steps in order keeps every operation where it was.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pyinfra import host
from pyinfra.api.operation import OperationMeta

from gpu_docker import preflight, rootless, run, runtime_config, toolkit
from gpu_docker.bundle.manifest import Manifest
from gpu_docker.cdi import daemon_json_owned, docker_supports_cdi
from gpu_docker.daemon_json import DaemonJsonError, deep_merge, render_owned, template_path
from gpu_docker.facts import host_state
from gpu_docker.facts.containerd import ContainerdFacts
from gpu_docker.facts.files import RemoteFileText
from gpu_docker.facts.preflight import HostPreflight
from gpu_docker.facts.rootless import RootlessDocker
from gpu_docker.nvml import UDEV_RULE, UDEV_RULE_PATH
from gpu_docker.operations import cdi, containerd, daemon_json, docker, dpkg, engines, nvml
from gpu_docker.operations import runtime_config as runtime_config_ops
from gpu_docker.operations.files import root_file
from gpu_docker.preflight import Preflight
from gpu_docker.settings import Settings


@dataclass
class Found:
    """The host as the preflight found it: what stops the converge (``issues``), and what
    the later steps take from it rather than read again."""

    facts: Preflight
    #: The verified offline bundle; ``None`` installs from NVIDIA's apt source.
    manifest: Manifest | None
    #: The daemon.json keys gpu-docker owns, rendered from the template.
    owned: dict[str, Any]
    #: The runtime keys of the toolkit's config.toml (empty: the file is left alone).
    runtime_owned: dict[str, Any]
    #: The system docker is neither up nor enabled: only rootless users are configured.
    rootless_only: bool
    #: The line for operator edits dockerd has not loaded yet ('' if none).
    unloaded: str = ""
    #: containerd's service manager (``systemd`` or ``initd``), when containerd is used.
    containerd_service: str = ""
    issues: list[str] = field(default_factory=list)

    @property
    def docker_version(self) -> str:
        """The running docker's version, else the installed dockerd's (it may be down)."""
        return self.facts.docker.server_version if self.facts.docker else self.facts.dockerd_version

    def applies_to_docker(self, settings: Settings) -> bool:
        """The system docker gets the runtime: it is a named engine and not left to rootless
        users."""
        return settings.uses_docker and not self.rootless_only


def read_host(settings: Settings, project_root: Path | None) -> Found:
    """Read the host (one round trip) and check everything before any change, so that a
    host that cannot converge fails with every reason at once and is left untouched."""
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
    found = Found(
        facts=facts,
        manifest=manifest,
        owned=owned,
        runtime_owned=runtime_config.owned(settings),
        rootless_only=rootless.rootless_only(
            settings, facts.docker is not None, facts.docker_enabled
        ),
        issues=issues,
    )
    _engine_problems(settings, found)
    return found


def _engine_problems(settings: Settings, found: Found) -> None:
    """Add to ``found`` why an engine ``container_engine`` names, a rootless user or the
    toolkit's config.toml cannot take the runtime, read in that order."""
    if found.applies_to_docker(settings):
        problems, found.unloaded = docker.startup_problems(settings.daemon_json_path, found.owned)
        found.issues += problems
    if settings.uses_containerd:
        containerd_host = host_state.read(ContainerdFacts, path=settings.containerd_config_path)
        found.containerd_service = containerd_host.service
        found.issues += preflight.containerd_problems(settings, containerd_host)
    if settings.uses_podman and "podman" not in found.facts.tools:
        found.issues.append("podman is not installed (no podman on PATH); set container_engine")
    for user in settings.rootless_users:
        found_user = host.get_fact(RootlessDocker, user=user)
        found.issues += rootless.problems(settings, found_user, found.facts.dockerd_version)
    if found.runtime_owned:
        current = host.get_fact(RemoteFileText, path=runtime_config.CONFIG_PATH)
        found.issues += runtime_config.problems(current, found.runtime_owned)


def warn_vulnerable_pin(settings: Settings) -> None:
    """Say once per host, in the preview and the run, that the pin lacks a published
    security fix: an operator rolling out a pin must know before the fleet runs it
    (``vulnerable_pin=refuse`` stopped such a host in preflight already)."""
    exposure = preflight.pin_exposure(settings)
    if exposure:
        runtime_config_ops.warn(f"the pin: {exposure} (vulnerable_pin=refuse stops such a pin)")


def clear_packages(settings: Settings, backup: str) -> None:
    """Before installing: stop at held or newer toolkit packages, put back a daemon.json an
    interrupted purge left aside, and purge NVIDIA's superseded packages."""
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


def docker_owned(settings: Settings, found: Found) -> dict[str, Any]:
    """The daemon.json keys gpu-docker owns with CDI's (``features.cdi``) where this docker
    reads them; a docker too old for CDI is said, not failed."""
    if settings.cdi and settings.uses_docker and not docker_supports_cdi(found.docker_version):
        cdi.warn_docker_too_old(found.docker_version)
    return deep_merge(found.owned, daemon_json_owned(settings.cdi, found.docker_version))


def start_docker(settings: Settings, found: Found) -> None:
    """Start a system docker that is down: the install and the merge need it answering."""
    if found.applies_to_docker(settings) and found.facts.docker is None:
        docker.start(
            name="Start docker (it was not running)",
            init=found.facts.init,
            timeout=settings.restart_timeout,
        )


def configure_toolkit(settings: Settings, found: Found, backup: str) -> None:
    """The toolkit's own config.toml (read per container: no restart), warnings about
    settings that will not do what the operator likely wants, and the CDI spec."""
    if found.runtime_owned:
        runtime_config_ops.merge(
            name="Merge the runtime settings into the toolkit's config.toml (no restart)",
            owned=found.runtime_owned,
            backup=backup,
        )
    for note in runtime_config.notes(settings):
        runtime_config_ops.warn(note)
    if settings.uses_cdi:
        cdi.spec(name="Generate the CDI spec if it is missing or stale")


def converge_containerd(settings: Settings, found: Found, backup: str) -> None:
    """containerd's config.toml merged, containerd restarted only if it changed (the shim
    starts the runtime per container, so a new toolkit alone needs no restart), verified."""
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
        service=found.containerd_service,
    )
    verify_containerd(settings)


def _report(settings: Settings, report: bool) -> dict[str, Any]:
    """The verify deploy's own arguments: the host joins the fleet report (``report``)."""
    return {"fleet": True, "report_path": settings.report_path} if report else {}


def verify_containerd(settings: Settings, report: bool = False) -> None:
    """A GPU container through the runtime CRI's handler names, as a pod would run."""
    engines.verify_containerd(
        name=f"Verify a GPU container runs through containerd's {settings.runtime_name} runtime",
        config_path=settings.containerd_config_path,
        runtime_name=settings.runtime_name,
        cdi=settings.cdi,
        **_report(settings, report),
    )


def verify_podman(settings: Settings, report: bool = False) -> None:
    """podman reads the CDI spec per container: there is nothing to apply, only to prove."""
    engines.verify_podman(
        name="Verify a GPU container runs through podman (CDI)", **_report(settings, report)
    )


def link_nvml_devices(settings: Settings) -> None:
    """The /dev/char links of the NVIDIA devices and NVIDIA's udev rule that keeps them,
    where ``nvml_symlinks`` wants them (``auto``: docker uses the systemd cgroup driver)."""
    if nvml.wanted(settings.nvml_symlinks):
        root_file(
            name="Install NVIDIA's udev rule for the /dev/char links",
            dest=UDEV_RULE_PATH,
            content=UDEV_RULE,
        )
        nvml.dev_char_symlinks(name="Create the /dev/char links of the NVIDIA devices")


def apply_to_docker(
    settings: Settings,
    found: Found,
    owned: dict[str, Any],
    installed: OperationMeta,
    backup: str,
) -> None:
    """daemon.json merged, then docker restarted or reloaded (per ``restart_strategy``) if
    it or the toolkit changed, or if dockerd cannot yet serve ``--gpus``."""
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
        preflight=found.facts,
        live_restore=settings.live_restore,
        serve_gpus=True,
        unloaded=found.unloaded,
    )


def verify_docker(settings: Settings, report: bool = False) -> None:
    """``docker run --gpus all`` with the runtime. A host left with a restart pending
    (``restart_strategy=never``) failed in the apply: it is neither converged nor verified."""
    docker.verify(
        name="Verify GPU containers run (docker run --gpus all)",
        runtime_name=settings.runtime_name,
        smoke_test_image=settings.smoke_test_image,
        packages=toolkit.PACKAGES,
        **_report(settings, report),
    )
