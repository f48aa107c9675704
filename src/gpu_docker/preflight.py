"""Is this host one gpu-docker can converge? Pure checks over the preflight fact.

Every problem is one sentence an operator can act on; the deploy prints them prefixed
with the host name and changes nothing on that host. The host state the checks read
(:class:`Preflight`, filled by ``gpu_docker.facts.preflight.HostPreflight``) is declared
here, without pyinfra, so the checks and the restart preview are tested as plain code.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from gpu_docker import advisories, rootless
from gpu_docker.bundle.depends import unmet_dependencies
from gpu_docker.bundle.errors import BundleError
from gpu_docker.bundle.manifest import Manifest, load_manifest, verify_bundle
from gpu_docker.containerd import ContainerdHost, plan
from gpu_docker.settings import Settings
from gpu_docker.toml_merge import TomlMergeError

SUPPORTED_RELEASES: dict[str, tuple[str, ...]] = {
    "debian": ("11", "12", "13"),
    "ubuntu": ("20.04", "22.04", "24.04"),
}
SUPPORTED_ARCHES = ("amd64", "arm64")


@dataclass(frozen=True)
class Package:
    """One dpkg database entry: ``installed`` is False for half-installed or removed ones."""

    name: str
    version: str
    status: str

    @property
    def installed(self) -> bool:
        return self.status.startswith("ii")


@dataclass(frozen=True)
class DockerInfo:
    """What a running dockerd says about itself."""

    server_version: str
    live_restore: bool
    containers_running: int
    runtimes: tuple[str, ...]


@dataclass(frozen=True)
class Preflight:
    """Everything the deploy checks before it changes a host."""

    os_id: str = ""
    os_version: str = ""
    arch: str = ""
    driver: str = ""
    gpus: int = 0
    dockerd_version: str = ""
    docker_validate: bool = False
    init: str = "sysv"
    docker: DockerInfo | None = None
    docker_error: str = ""
    tools: frozenset[str] = frozenset()
    packages: dict[str, Package] = field(default_factory=dict)
    docker_enabled: bool = False  # the system docker starts at boot
    rootless: tuple[str, ...] = ()  # users with a rootless docker (running, or its unit)

    def installed_versions(self) -> dict[str, str]:
        """Package -> version, for packages dpkg calls fully installed."""
        return {p.name: p.version for p in self.packages.values() if p.installed}


def problems(settings: Settings, facts: Preflight, *, unmet: Sequence[str] = ()) -> list[str]:
    """Reasons this host cannot be converged; empty when it is ready.

    ``unmet`` are the offline bundle's external dependencies the host lacks (the caller
    computes them from the manifest, which this module does not read).
    """
    found: list[str] = []
    releases = SUPPORTED_RELEASES.get(facts.os_id)
    if releases is None or facts.os_version not in releases:
        supported = ", ".join(f"{os} {'/'.join(v)}" for os, v in SUPPORTED_RELEASES.items())
        found.append(
            f"unsupported OS {facts.os_id or '?'} {facts.os_version or '?'} (supported: {supported})"
        )
    if facts.arch not in SUPPORTED_ARCHES:
        found.append(f"unsupported architecture {facts.arch or '?'} (supported: amd64, arm64)")
    if settings.require_driver and not facts.driver:
        found.append(
            "no NVIDIA driver (no working nvidia-smi, no /proc/driver/nvidia/version); "
            "install the driver first, or set require_driver=False to bake an image"
        )
    rootful = (facts.docker is not None, facts.docker_enabled)
    unconfigured = rootless.unconfigured(facts.rootless, settings)
    if not settings.uses_docker:
        pass  # a containerd-only node: containerd_problems checks containerd
    elif rootless.rootless_only(settings, *rootful):
        pass  # rootless_problems checks each user's docker
    elif unconfigured and not any(rootful):
        found.append(unconfigured)
    elif not facts.dockerd_version or "docker" not in facts.tools:
        found.append("docker is not installed (no dockerd/docker on PATH)")
    elif facts.docker is None and not settings.start_docker:
        found.append(
            f"docker is not running ({facts.docker_error or 'docker info failed'}); "
            "start it, or set start_docker=True to let the deploy start it"
        )
    conflict = rootless.conflict(settings, *rootful)
    if conflict:
        found.append(conflict)
    if settings.install_method == "apt":
        missing = sorted({"curl", "gpg"} - facts.tools)
        if missing:
            found.append(f"the apt install needs {' and '.join(missing)} on the host")
    if "dpkg" not in facts.tools:
        found.append("dpkg is missing: only Debian and Ubuntu hosts are supported")
    if unmet:
        found.append(
            "the offline bundle needs packages the host lacks and cannot fetch: " + ", ".join(unmet)
        )
    exposure = pin_exposure(settings)
    if exposure and settings.vulnerable_pin == "refuse":
        found.append(
            f"{exposure}: pin {advisories.first_safe(advisories.affecting(settings.toolkit_version))}"
            " or newer (vulnerable_pin=refuse)"
        )
    return found


def pin_exposure(settings: Settings) -> str:
    """The open NVIDIA security bulletins of the pinned version, in one line ("" if none)."""
    found = advisories.affecting(settings.toolkit_version)
    return advisories.summary(settings.toolkit_version, found) if found else ""


def containerd_problems(settings: Settings, facts: ContainerdHost) -> list[str]:
    """Why containerd on this host cannot get the runtime; found before anything changes."""
    if not facts.version:
        return ["containerd is not installed (no containerd on PATH); set container_engine"]
    found = []
    if not facts.service:
        found.append(
            "containerd has no systemd unit and no /etc/init.d/containerd: gpu-docker could "
            "not restart it after changing its config"
        )
    try:
        plan(settings, facts)
    except TomlMergeError as exc:
        found.append(f"{facts.target}: {exc}; left untouched, fix it and run again")
    return found


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


def offline_checks(
    settings: Settings, facts: Preflight, project_root: Path | None
) -> tuple[Manifest | None, list[str]]:
    """The verified bundle for this host's arch, or the problems that stop the install."""
    root = resolve_bundle_root(settings, project_root)
    try:
        manifest = checked_bundle(root, settings.upstream_version, facts.arch or "unknown")
    except BundleError as exc:
        return None, [f"offline bundle: {'; '.join(exc.problems)}"]
    unmet = unmet_dependencies(manifest.external_depends, facts.installed_versions())
    return manifest, problems(settings, facts, unmet=unmet)
