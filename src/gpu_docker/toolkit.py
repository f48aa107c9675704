"""NVIDIA Container Toolkit as gpu-docker installs it: the packages, the apt files the deploy
owns (paths and content), and the version rules.

One place for what the deploy, the bundle tool, the lab's test fixtures and the tests all
need to agree on. Pure: no pyinfra import.
"""

from __future__ import annotations

#: The four runtime packages, in the order their Depends need (a host installs these and
#: nothing else of the release: -dev, -dbg and operator-extensions are not for hosts).
PACKAGES = (
    "libnvidia-container1",
    "libnvidia-container-tools",
    "nvidia-container-toolkit-base",
    "nvidia-container-toolkit",
)
#: The apt source the online install writes.
SOURCE_LIST = "/etc/apt/sources.list.d/nvidia-container-toolkit.list"
#: The apt preferences file that holds the four packages at the pinned version.
APT_PIN = "/etc/apt/preferences.d/nvidia-container-toolkit"
#: NVIDIA's debs carry Debian revision 1.
DEB_REVISION = "1"


def source_line(keyring: str, repo_url: str) -> str:
    """The one line of the apt source for NVIDIA's flat repository (no newline), trusting
    only the pinned keyring."""
    return f"deb [signed-by={keyring}] {repo_url} /"


def apt_pin(deb_version: str) -> str:
    """apt preferences holding the four packages at the pin against ``apt upgrade``.

    A 1.17.7 auto-upgrade broke users (nvidia-container-toolkit #1091); since 1.18 the
    packages depend on each other's exact version, so they move together or not at all.
    """
    return (
        "# Managed by gpu-docker: the toolkit moves only when its pinned version does.\n"
        f"Package: {' '.join(PACKAGES)}\n"
        f"Pin: version {deb_version}\n"
        "Pin-Priority: 1001\n"
    )


def upstream_version(version: str) -> str:
    """``1.17.8-1`` -> ``1.17.8`` (Debian's rule: the revision follows the last hyphen);
    an upstream version, as bundle directories are named, is returned unchanged."""
    version = version.strip()
    if ":" in version:
        version = version.partition(":")[2]
    return version.rpartition("-")[0] if "-" in version else version


def deb_version(version: str) -> str:
    """``1.17.8`` -> ``1.17.8-1``; a version that already has a revision is kept."""
    version = version.strip()
    return version if "-" in version else f"{version}-{DEB_REVISION}"
