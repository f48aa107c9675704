"""What an install may do to the host's packages: holds, downgrades, dpkg's lock.

Both install methods (apt, offline dpkg) follow the same rules, said before anything is
written: a toolkit package the operator put on hold is not moved unless
``release_holds`` allows it, and then the hold is put back at the pin; a package newer
than the pin is downgraded only after a line saying so; and a dpkg/apt lock held by
another process (unattended-upgrades at boot) is waited for up to ``dpkg_lock_timeout``
before the host fails naming the holder.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from debian.debian_support import Version
from pyinfra import host
from pyinfra.api import FactBase, StringCommand, operation
from pyinfra.operations import apt

from gpu_docker import operations, sh
from gpu_docker.bundle.manifest import BundleEntry


@dataclass(frozen=True)
class Selection:
    """One package as dpkg sees it: version, ``db:Status-Abbrev`` and the wanted state."""

    version: str
    status: str
    want: str


class PackageSelections(FactBase[dict[str, Selection]]):
    """Package -> :class:`Selection` for the given packages dpkg knows of."""

    @staticmethod
    def default() -> dict[str, Selection]:
        return {}

    def command(self, packages: tuple[str, ...]) -> StringCommand:
        return sh.inline(
            "dpkg-query -W -f='${Package}\\t${Version}\\t${db:Status-Abbrev}\\t"
            '${db:Status-Want}\\n\' "$@" 2>/dev/null; true',
            *packages,
        )

    def process(self, output: list[str]) -> dict[str, Selection]:
        found = {}
        for line in output:
            name, version, status, want = ([*line.split("\t"), "", "", ""])[:4]
            if name and status.strip():
                found[name] = Selection(version, status.strip(), want.strip())
        return found


def held_to_move(selections: Mapping[str, Selection], wanted: str) -> list[str]:
    """Held packages the install would change (not already installed at ``wanted``)."""
    return sorted(
        name
        for name, sel in selections.items()
        if sel.want == "hold" and not (sel.status[1:2] == "i" and sel.version == wanted)
    )


def downgrades(selections: Mapping[str, Selection], wanted: str) -> list[tuple[str, str]]:
    """(package, installed version) for installed packages newer than ``wanted``."""
    return sorted(
        (name, sel.version)
        for name, sel in selections.items()
        if sel.version
        and sel.status[1:2] in ("i", "U", "F", "W", "t")
        and Version(sel.version) > Version(wanted)
    )


def lock_wait(timeout: int) -> StringCommand:
    """The command that waits for dpkg's and apt's locks (see ``sh/dpkg_lock.sh``)."""
    return sh.command("dpkg_lock", str(timeout))


def _selections(names: Iterable[str], state: str) -> StringCommand:
    """``dpkg --set-selections`` putting every package in ``names`` to ``state``."""
    text = "".join(f"{name} {state}\n" for name in names)
    return sh.inline('printf %s "$1" | dpkg --set-selections', text)


@operation()
def check_packages(packages: Sequence[str], wanted: str, release_holds: bool):
    """
    Refuse to move held toolkit packages (unless allowed), and name a downgrade.

    + packages: the toolkit's packages
    + wanted: the deb version of the pin
    + release_holds: allowed to move held packages (the hold is put back afterwards)

    Runs before anything is written, so a refused host is left exactly as it was.
    """
    selections = host.get_fact(PackageSelections, packages=tuple(packages))
    held = held_to_move(selections, wanted)
    if held and not release_holds:
        yield from operations.fail._inner(
            f"held packages would change: {', '.join(held)} (apt-mark showhold); nothing "
            f"installed: unhold them, or set release_holds=True to move them to {wanted} "
            "and hold them there"
        )
        return
    for name, version in downgrades(selections, wanted):
        host.log(f"gpu-docker: {name} {version} is newer than the pin: downgrading to {wanted}")
    host.noop("no held package in the way")


def _guarded(
    commands: list, packages: Sequence[str], lock_timeout: int
) -> Iterator[StringCommand | object]:
    """``commands`` (an install), after the lock wait, with held packages released before
    and held again after (check_packages refused the host unless that was allowed)."""
    if not commands:
        return
    selections = host.get_fact(PackageSelections, packages=tuple(packages))
    held = sorted(name for name, sel in selections.items() if sel.want == "hold")
    yield lock_wait(lock_timeout)
    if held:
        yield _selections(held, "install")
    yield from commands
    if held:
        yield _selections(held, "hold")


@operation()
def install_apt(versions: Mapping[str, str], lock_timeout: int):
    """
    Install the packages at their versions with apt, once dpkg's lock is free.

    + versions: package -> deb version
    + lock_timeout: seconds to wait for another apt or dpkg to finish
    """
    inner = apt.packages._inner(
        packages=[f"{name}={version}" for name, version in versions.items()],
        extra_install_args=f"--allow-downgrades -o DPkg::Lock::Timeout={lock_timeout}",
    )
    yield from _guarded(list(inner), tuple(versions), lock_timeout)


@operation()
def install_bundle(entries: Sequence[BundleEntry], remote_dir: str, lock_timeout: int):
    """
    Install an offline bundle (see ``operations.install_bundle``) once dpkg's lock is free.

    + entries, remote_dir: as ``operations.install_bundle``
    + lock_timeout: seconds to wait for another apt or dpkg to finish
    """
    inner = operations.install_bundle._inner(entries=entries, remote_dir=remote_dir)
    yield from _guarded(list(inner), tuple(e.package for e in entries), lock_timeout)
