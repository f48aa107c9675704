"""The apt install: nothing to do (and apt's own package list not read) when every package
is already at its version."""

from fake_host import fact

from gpu_docker.facts.dpkg import InstalledPackages
from gpu_docker.operations import apt

VERSIONS = {"libnvidia-container1": "1.17.8-1", "nvidia-container-toolkit": "1.17.8-1"}


def test_packages_at_their_versions_need_no_command_and_no_apt_fact(run_op):
    installed = {fact(InstalledPackages, packages=tuple(VERSIONS)): dict(VERSIONS)}
    commands, host = run_op(apt.install, installed, versions=VERSIONS, lock_timeout=300)
    assert commands == []
    assert host.noops == ["2 packages already installed at their versions"]
