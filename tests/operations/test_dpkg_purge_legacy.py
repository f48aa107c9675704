"""dpkg.purge_legacy: NVIDIA's superseded packages are purged (rc ones too, they may still
own daemon.json as a conffile), named, and daemon.json is handed to the script that keeps
it; a host without them gets nothing."""

from __future__ import annotations

from fake_host import fact
from pyinfra.api import StringCommand

from gpu_docker.facts.dpkg import PackageSelections
from gpu_docker.operations import dpkg
from gpu_docker.packages import Selection
from gpu_docker.toolkit import LEGACY_PACKAGES, PACKAGES

LOCK = StringCommand("wait-for-dpkg-lock")
KEEP = ".gpu-docker-20250101T000000Z.keep"


def purge(run_op, selections, executing=True):
    return run_op(
        dpkg.purge_legacy,
        {fact(PackageSelections, packages=LEGACY_PACKAGES): selections},
        executing=executing,
        packages=LEGACY_PACKAGES,
        daemon_json_path="/etc/docker/daemon.json",
        keep=KEEP,
        toolkit=PACKAGES,
        lock_wait=LOCK,
    )


def test_nothing_to_purge_on_a_host_without_them(run_op):
    gone = {"nvidia-container-runtime": Selection("3.13.0-1", "un", "unknown")}
    commands, host = purge(run_op, gone)
    assert commands == [] and host.noops == ["no nvidia-docker2 or nvidia-container-runtime"]


def test_installed_and_config_only_packages_are_purged_named_and_daemon_json_kept(run_op):
    selections = {
        "nvidia-docker2": Selection("2.13.0-1", "rc", "deinstall"),
        "nvidia-container-runtime": Selection("3.13.0-1", "ii", "install"),
    }
    for executing in (False, True):  # named alike in the preview and the run
        commands, host = purge(run_op, selections, executing=executing)
        (line,) = host.logs
        assert line.startswith(
            "gpu-docker: purging nvidia-container-runtime 3.13.0-1, "
            "nvidia-docker2 2.13.0-1 (config files only): superseded by nvidia-container-toolkit"
        )
        assert line.endswith("/etc/docker/daemon.json is kept as it is")
    lock, script = commands
    assert lock == "wait-for-dpkg-lock"
    assert script.endswith(
        f"gpu-docker /etc/docker/daemon.json {KEEP} '{' '.join(PACKAGES)}' "
        "nvidia-container-runtime nvidia-docker2"
    )
