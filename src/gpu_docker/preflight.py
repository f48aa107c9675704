"""Is this host one gpu-docker can converge? Pure checks over the preflight fact.

Every problem is one sentence an operator can act on; the deploy prints them prefixed
with the host name and changes nothing on that host.
"""

from __future__ import annotations

from collections.abc import Sequence

from gpu_docker import rootless
from gpu_docker.facts import Preflight
from gpu_docker.settings import Settings

SUPPORTED_RELEASES: dict[str, tuple[str, ...]] = {
    "debian": ("11", "12", "13"),
    "ubuntu": ("20.04", "22.04", "24.04"),
}
SUPPORTED_ARCHES = ("amd64", "arm64")


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
        pass  # a containerd-only node: gpu_docker.containerd_ops checks containerd
    elif rootless.rootless_only(settings, *rootful):
        pass  # gpu_docker.rootless_ops checks each user's docker
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
    return found
