"""The NVML mitigation applies where docker's cgroup driver is systemd, or when forced."""

import pytest

from gpu_docker.nvml import UDEV_RULE, describe, wanted


@pytest.mark.parametrize(
    ("setting", "driver", "expected"),
    [
        ("auto", "systemd", True),
        ("auto", "cgroupfs", False),
        ("auto", "", False),
        ("on", "cgroupfs", True),
        ("off", "systemd", False),
    ],
)
def test_wanted_follows_the_cgroup_driver_unless_forced(setting, driver, expected):
    assert wanted(setting, driver) is expected


def test_the_line_names_dockers_cgroup_driver_and_the_decision():
    assert describe("auto", "cgroupfs") == (
        "docker uses the cgroupfs cgroup driver: no NVML symlinks needed "
        "(only the systemd driver loses devices)"
    )
    assert describe("auto", "systemd").startswith(
        "docker uses the systemd cgroup driver: /dev/char"
    )
    assert describe("off", "systemd").endswith("NVML symlinks off (nvml_symlinks=off)")
    assert describe("on", "").startswith("docker's cgroup driver is unknown")


def test_udev_rule_is_nvidias_and_runs_the_same_command():
    assert (
        'ACTION=="add", DEVPATH=="/bus/pci/drivers/nvidia", '
        'RUN+="/usr/bin/nvidia-ctk system create-dev-char-symlinks --create-all"\n'
    ) in UDEV_RULE
