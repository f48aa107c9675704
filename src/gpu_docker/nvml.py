"""The NVML "Unknown Error" mitigation (setting ``nvml_symlinks``).

With docker's systemd cgroup driver, a ``systemctl daemon-reload`` makes systemd rewrite
the device cgroup of running containers from their unit, which knows the NVIDIA devices
only by ``/dev/char/<major>:<minor>`` links: where those links are missing, every long-
running GPU container loses its devices and nvidia-smi answers "Failed to initialize NVML:
Unknown Error" (nvidia-container-toolkit #48). NVIDIA's fix: create the links
(``nvidia-ctk system create-dev-char-symlinks --create-all``) and a udev rule that
creates them again whenever the driver loads. The cgroupfs driver is not affected, so
``auto`` (the default) applies the fix only where docker uses the systemd driver.
Plain functions; the pyinfra side is ``gpu_docker.facts.nvml`` and
``gpu_docker.operations.nvml``.
"""

from __future__ import annotations

from dataclasses import dataclass

from gpu_docker.settings import NvmlSymlinks

UDEV_RULE_PATH = "/etc/udev/rules.d/71-nvidia-dev-char.rules"
UDEV_RULE = (
    '# Managed by gpu-docker: NVIDIA\'s fix for "Failed to initialize NVML: Unknown Error"\n'
    "# after systemctl daemon-reload (nvidia-container-toolkit #48).\n"
    'ACTION=="add", DEVPATH=="/bus/pci/drivers/nvidia", '
    'RUN+="/usr/bin/nvidia-ctk system create-dev-char-symlinks --create-all"\n'
)
CREATE_COMMAND = "nvidia-ctk system create-dev-char-symlinks --create-all"


@dataclass(frozen=True)
class NvmlHost:
    """docker's cgroup driver; NVIDIA device nodes and how many lack a /dev/char link."""

    cgroup_driver: str
    nodes: int
    missing: int


def wanted(setting: NvmlSymlinks, cgroup_driver: str) -> bool:
    """Whether the links and the rule belong on this host."""
    return setting == "on" or (setting == "auto" and cgroup_driver == "systemd")


def describe(setting: NvmlSymlinks, cgroup_driver: str) -> str:
    """One line for previews and runs: docker's cgroup driver and what follows from it."""
    driver = (
        f"docker uses the {cgroup_driver} cgroup driver"
        if cgroup_driver
        else ("docker's cgroup driver is unknown (docker did not answer)")
    )
    if wanted(setting, cgroup_driver):
        return f"{driver}: /dev/char links for the NVIDIA devices and their udev rule"
    if setting == "off":
        return f"{driver}: NVML symlinks off (nvml_symlinks=off)"
    return f"{driver}: no NVML symlinks needed (only the systemd driver loses devices)"
