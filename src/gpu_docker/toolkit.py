"""NVIDIA Container Toolkit as gpu-docker installs it: the packages, the apt files the deploy
owns, and the version rules.

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
