"""pyinfra facts and operations of ``deploys/rollback.py``: put a daemon.json backup back,
optionally remove the toolkit packages.

Docker is then made to pick the file up by ``operations.apply_to_docker``, with the same
safety as the converge: validated first where dockerd can, rolled forward again (to the
file the rollback replaced) if docker does not come back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath

from pyinfra import host, logger
from pyinfra.api import FactBase, StringCommand, operation
from pyinfra.operations.util.files import generate_color_diff

from gpu_docker import operations, sh
from gpu_docker.facts import RemoteFileText, RemoteSha256
from gpu_docker.rollback import RollbackError, parse_backups, pick_backup, removal_plan


@dataclass(frozen=True)
class BackupListing:
    """daemon.json's resolved path and the gpu-docker backups beside it."""

    target: str
    paths: tuple[str, ...]


class DaemonJsonBackups(FactBase[BackupListing]):
    """The backups gpu-docker runs left beside daemon.json (a symlink is followed)."""

    def command(self, path: str) -> StringCommand:
        self.path = path
        return sh.command("list_backups", path)

    def process(self, output: list[str]) -> BackupListing:
        target, paths = self.path, []
        for line in output:
            key, _, value = line.partition("=")
            if key == "target" and value:
                target = value
            elif key == "backup":
                paths.append(value)
        return BackupListing(target, tuple(paths))


@operation()
def restore_daemon_json(path: str, wanted: str, keep: str):
    """
    Put back the daemon.json a gpu-docker run replaced.

    + path: daemon.json (a symlink is followed)
    + wanted: ``latest`` or the stamp of the run whose backup to restore
    + keep: suffix of the copy of the current file kept first (``<target><keep>``), which
      ``apply_to_docker`` restores if docker does not come back with the old file

    The backup's bytes are put back exactly (0644 root); an ``.absent`` backup means there
    was no daemon.json, so the file is removed. Nothing is written when the file already
    is the backup.
    """
    listing = host.get_fact(DaemonJsonBackups, path=path)
    try:
        backup = pick_backup(listing.target, parse_backups(listing.target, listing.paths), wanted)
    except RollbackError as exc:
        yield from operations.fail._inner(str(exc))
        return
    current = host.get_fact(RemoteFileText, path=path).text
    old = None if backup.absent else host.get_fact(RemoteFileText, path=backup.path).text
    if current == old:
        host.noop(f"{listing.target} already is the backup from {backup.stamp}")
        return
    if host.state.config.DIFF:
        verb = "remove" if old is None else "restore"
        host.log(f"Will {verb} {listing.target} (backup from {backup.stamp})")
        old_lines = (current or "").splitlines(keepends=True)
        for line in generate_color_diff(old_lines, (old or "").splitlines(keepends=True)):
            logger.info("  %s", line)
    yield sh.command("restore", listing.target, backup.path, listing.target + keep)


class DpkgDepends(FactBase[dict[str, tuple[str, str]]]):
    """Every package dpkg knows: name -> (``db:Status-Abbrev``, Depends and Pre-Depends)."""

    @staticmethod
    def default() -> dict[str, tuple[str, str]]:
        return {}

    def command(self) -> str:
        return "dpkg-query -W -f='${Package}\\t${db:Status-Abbrev}\\t${Depends}, ${Pre-Depends}\\n'"

    def process(self, output: list[str]) -> dict[str, tuple[str, str]]:
        found = {}
        for line in output:
            name, status, depends = ([*line.split("\t"), "", ""])[:3]
            if name:
                found[name] = (status.strip(), depends)
        return found


@operation()
def remove_packages(packages: Sequence[str], pin: str, lock_wait: StringCommand):
    """
    Remove the toolkit packages and their apt pin; what a first attempt left is finished.

    + packages: in install order; purged in reverse
    + pin: the apt preferences file the deploy wrote
    + lock_wait: the command that waits for another apt or dpkg to finish

    Packages in any state count, half-installed and unpacked ones too (an interrupted
    install or removal), so a second rollback completes the first. Other installed
    packages that depend on the toolkit (``nvidia-container-toolkit-operator-extensions``,
    ``nvidia-docker2``) are removed first, their configuration kept, and named: dpkg would
    refuse to leave them broken, and stop half-way.
    """
    plan = removal_plan(packages, host.get_fact(DpkgDepends))
    has_pin = host.get_fact(RemoteSha256, paths=(pin,)).get(pin)
    if not plan.purge and not has_pin:
        host.noop("no toolkit package installed, no pin")
        return
    yield lock_wait
    if plan.dependents:
        host.log(
            f"gpu-docker: also removing {', '.join(plan.dependents)} (they depend on the toolkit)"
        )
        yield StringCommand(
            "DEBIAN_FRONTEND=noninteractive",
            "dpkg",
            "--remove",
            "--force-remove-reinstreq",
            *plan.dependents,
        )
    if plan.purge:
        yield StringCommand(
            "DEBIAN_FRONTEND=noninteractive",
            "dpkg",
            "--purge",
            "--force-remove-reinstreq",
            *plan.purge,
        )
    yield StringCommand("rm", "-f", str(PurePosixPath(pin)))
