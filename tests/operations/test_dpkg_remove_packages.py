"""dpkg.remove_packages: the toolkit purged in any state (a second rollback finishes what
an interrupted first left), other dependents removed first and named, the pin last; a
dpkg stopped half-way fails the host with one line saying to run the rollback again."""

from __future__ import annotations

import subprocess
from pathlib import Path

from fake_host import fact
from pyinfra.api import StringCommand

from gpu_docker import sh
from gpu_docker.facts.dpkg import DpkgDepends
from gpu_docker.facts.files import RemoteSha256
from gpu_docker.operations import dpkg
from gpu_docker.toolkit import APT_PIN, PACKAGES

LOCK = StringCommand("wait-for-dpkg-lock")


def remove(run_op, states, pinned=True):
    return run_op(
        dpkg.remove_packages,
        {
            DpkgDepends: states,
            fact(RemoteSha256, paths=(APT_PIN,)): {APT_PIN: "ab"} if pinned else {},
        },
        packages=PACKAGES,
        pin=APT_PIN,
        lock_wait=LOCK,
    )


def test_nothing_without_toolkit_packages_or_pin(run_op):
    commands, host = remove(run_op, {"bash": ("ii ", "")}, pinned=False)
    assert commands == [] and host.noops == ["no toolkit package installed, no pin"]


def test_what_an_interrupted_removal_left_is_purged_and_the_pin_removed(run_op):
    states = {
        "nvidia-container-toolkit": ("pn ", ""),  # already purged by the first attempt
        "nvidia-container-toolkit-base": ("pHR", ""),  # killed mid-purge
        "libnvidia-container-tools": ("ii ", "libnvidia-container1 (>= 1.17.8-1)"),
        "libnvidia-container1": ("ii ", ""),
    }
    commands, host = remove(run_op, states)
    lock, script = commands
    assert lock == "wait-for-dpkg-lock" and host.logs == []
    assert script.endswith(
        f"gpu-docker {APT_PIN} '' nvidia-container-toolkit-base libnvidia-container-tools "
        "libnvidia-container1"
    )


def test_other_dependents_are_removed_first_and_named(run_op):
    states = {
        "nvidia-container-toolkit": ("ii ", "nvidia-container-toolkit-base (= 1.17.8-1)"),
        "nvidia-container-toolkit-base": ("ii ", ""),
        "nvidia-container-toolkit-operator-extensions": ("ii ", "nvidia-container-toolkit"),
    }
    commands, host = remove(run_op, states)
    assert host.logs == [
        "gpu-docker: also removing nvidia-container-toolkit-operator-extensions "
        "(they depend on the toolkit)"
    ]
    assert commands[1].endswith(
        f"gpu-docker {APT_PIN} nvidia-container-toolkit-operator-extensions "
        "nvidia-container-toolkit nvidia-container-toolkit-base"
    )


def test_a_killed_dpkg_is_one_line_and_the_pin_stays(tmp_path: Path):
    """The script itself, with a stand-in ``dpkg`` that is SIGKILLed as the real one was."""
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "dpkg").write_text(
        '#!/bin/sh\necho "Removing nvidia-container-toolkit-base"\nkill -9 $$\n'
    )
    (fake / "dpkg").chmod(0o755)
    pin = tmp_path / "pin"
    pin.write_text("Package: *\n")
    command = sh.command("remove_packages", str(pin), "", "nvidia-container-toolkit-base")
    run = subprocess.run(
        ["sh", "-c", command.get_raw_value()],
        capture_output=True,
        text=True,
        env={"PATH": f"{fake}:/usr/bin:/bin"},
    )
    assert run.returncode == 1 and pin.exists()
    # The shell may say "Killed" on its own line first; gpu-docker says one line.
    (line,) = [x for x in run.stderr.splitlines() if x.startswith("gpu-docker:")]
    assert line == (
        "gpu-docker: dpkg --purge --force-remove-reinstreq nvidia-container-toolkit-base "
        "stopped half-way (killed by signal 9 after: Removing nvidia-container-toolkit-base):"
        " run the rollback again to finish the removal"
    )
