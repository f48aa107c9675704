"""The apt install: nothing to do (and apt's own package list not read) when every package
is already at its version; holds released and put back in the install's one command. The
refresh: skipped for a fresh stamp unless the pin changed, and after a source whose probe
has just fetched its indexes."""

import inspect

from fake_host import Changed, Unchanged, fact

from gpu_docker import deploys, sh
from gpu_docker.facts.dpkg import InstalledPackages, PackageSelections
from gpu_docker.facts.files import FileAge
from gpu_docker.operations import apt, dpkg
from gpu_docker.packages import Selection

VERSIONS = {"libnvidia-container1": "1.17.8-1", "nvidia-container-toolkit": "1.17.8-1"}


def test_packages_at_their_versions_need_no_command_and_no_apt_fact(run_op):
    installed = {fact(InstalledPackages, packages=tuple(VERSIONS)): dict(VERSIONS)}
    commands, host = run_op(apt.install, installed, versions=VERSIONS, lock_timeout=300)
    assert commands == []
    assert host.noops == ["2 packages already installed at their versions"]


def test_only_packages_off_their_version_are_installed_after_the_lock_in_one_command(run_op):
    """No read of apt's package list (pyinfra's apt.packages would make one): the
    installed versions are known, and the lock wait shares the install's round trip."""
    installed = {
        fact(InstalledPackages, packages=tuple(VERSIONS)): {"libnvidia-container1": "1.17.8-1"}
    }
    selections = {fact(PackageSelections, packages=tuple(VERSIONS)): {}}
    commands, _ = run_op(apt.install, installed | selections, versions=VERSIONS, lock_timeout=60)
    (command,) = commands
    lock = dpkg.lock_wait(60).get_raw_value() + " && "
    assert (
        command
        == lock
        + sh.command("apt_install", "", "60", "nvidia-container-toolkit=1.17.8-1").get_raw_value()
    )


def test_held_packages_are_released_installed_and_held_again_in_one_command(run_op):
    """Release, install and re-hold in one shell command: a failed install cannot skip
    the re-hold (``sh/apt_install.sh``, tested in tests/unit/test_dpkg_scripts.py)."""
    installed = {fact(InstalledPackages, packages=tuple(VERSIONS)): {}}
    held = Selection("1.17.7-1", "hi", "hold")
    selections = {
        fact(PackageSelections, packages=tuple(VERSIONS)): {
            "nvidia-container-toolkit": held,
            "libnvidia-container1": held,
        }
    }
    commands, _ = run_op(apt.install, installed | selections, versions=VERSIONS, lock_timeout=60)
    (command,) = commands
    lock = dpkg.lock_wait(60).get_raw_value() + " && "
    wanted = [f"{name}={version}" for name, version in VERSIONS.items()]
    held_names = "libnvidia-container1 nvidia-container-toolkit"
    assert command == lock + sh.command("apt_install", held_names, "60", *wanted).get_raw_value()


LIST = "/etc/apt/sources.list.d/nvidia-container-toolkit.list"
OPTIONS = (
    f"-o Dir::Etc::sourcelist={LIST} -o Dir::Etc::sourceparts=- -o APT::Get::List-Cleanup=0"
).split()


def refresh(run_op, changes, age, fetched=None):
    installed = {fact(InstalledPackages, packages=tuple(VERSIONS)): {}}
    return run_op(
        apt.refresh,
        installed | {fact(FileAge, path=apt.REFRESH_STAMP): age},
        fetched=fetched or Unchanged(),
        changes=changes,
        wanted=VERSIONS,
        cache_time=86400,
        list_path=LIST,
        lock_wait=dpkg.lock_wait(60),
    )


def test_a_refresh_waits_updates_and_stamps_in_one_round_trip(run_op):
    commands, _ = refresh(run_op, [], None)
    (command,) = commands
    lock = dpkg.lock_wait(60).get_raw_value() + " && "
    assert (
        command
        == lock + sh.command("apt_refresh", apt.REFRESH_STAMP, "0", *OPTIONS).get_raw_value()
    )


def test_a_fresh_stamp_skips_the_refresh_when_nothing_changed(run_op):
    commands, host = refresh(run_op, [Unchanged()], 60)
    assert commands == []
    assert host.noops == [f"{LIST} refreshed less than 86400s ago"]


def test_a_changed_pin_forces_the_refresh_however_fresh_the_stamp(run_op):
    """A version bump writes the pin: lists refreshed an hour ago lack the new version,
    and ``apt-get install pkg=NEW`` would fail "not found" for a day."""
    commands, _ = refresh(run_op, [Changed()], 60)
    (command,) = commands
    assert command.endswith(
        sh.command("apt_refresh", apt.REFRESH_STAMP, "1", *OPTIONS).get_raw_value()
    )


def test_a_source_just_probed_needs_no_refresh_even_with_a_new_pin(run_op):
    """A fresh host: the repository operation's probe fetched the source's indexes into
    apt's lists (``sh/apt_commit.sh``) seconds before; a second fetch would only cost."""
    commands, host = refresh(run_op, [Changed()], None, fetched=Changed())
    assert commands == []
    assert host.noops == ["the source's probe just fetched its indexes: no apt-get update"]


def test_the_online_install_counts_the_pin_as_a_change_of_the_refresh():
    """``install_online`` hands the repository and pin operations to the refresh (the
    wiring the tests above rely on)."""
    source = inspect.getsource(deploys.install_online)
    assert "pin = root_file(" in source
    assert "fetched=repository," in source
    assert "changes=[pin]" in source
