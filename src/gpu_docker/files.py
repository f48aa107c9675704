"""Files gpu-docker replaces on a host (daemon.json, config.toml, apt sources): read
exactly, backed up under the run's stamp, and picked back by a rollback. Pure.

Every run that changes a file leaves ``<target>.gpu-docker-<UTC stamp>.bak`` (the
previous file, 0600) or ``<target>.gpu-docker-<stamp>.bak.absent`` (there was none). One
stamp per run, shared by every host, so a fleet's backups carry one name. The stamps sort
in time order, so "latest" is the last one; an operator who wants the state before an
older run names its stamp.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

#: What names gpu-docker's backups and temp files beside the files it replaces.
BACKUP_TAG = "gpu-docker"
_BACKUP_RE = re.compile(r"\.gpu-docker-(\d{8}T\d{6}Z)\.bak(\.absent)?$")


@dataclass(frozen=True)
class RemoteFile:
    """A file's bytes as text (``None`` = absent), the path a symlink resolves to, the
    file's mode, owner and group as ``stat -c '%a %U %G'`` prints them (``644 root root``),
    and whether the target's directory exists."""

    path: str
    target: str
    text: str | None
    meta: str = ""
    parent_exists: bool = False


@dataclass(frozen=True)
class MergeResult:
    """What a merge into a config file decided (daemon.json, a TOML config): the new text,
    and whether writing it changes anything."""

    changed: bool
    text: str
    data: dict[str, Any]


def backup_suffix(now: datetime.datetime | None = None) -> str:
    """The suffix of this run's backups; one per run, shared by every host."""
    stamp = (now or datetime.datetime.now(datetime.timezone.utc)).strftime("%Y%m%dT%H%M%SZ")
    return f".{BACKUP_TAG}-{stamp}.bak"


def temp_beside(target: str) -> str:
    """The temp file a new version is uploaded to, beside ``target`` (same filesystem, so
    the swap-in is an atomic rename)."""
    path = PurePosixPath(target)
    return str(path.with_name(f".{path.name}.{BACKUP_TAG}.tmp"))


def pre_rollback_suffix(backup: str) -> str:
    """What a rollback keeps of the file it replaces: not a backup a later rollback picks."""
    return backup.removesuffix(".bak") + ".pre-rollback"


@dataclass(frozen=True)
class KeptAside:
    """daemon.json and the links an interrupted legacy purge left beside it.

    ``sh/legacy_purge.sh`` keeps daemon.json through ``dpkg --purge`` as a hard link
    ``<path>.gpu-docker-<stamp>.keep`` and renames it back after; a run that dies in
    between leaves the link, and the file may be gone (dpkg deleted it as a conffile).
    ``present``: daemon.json exists (a dangling symlink counts); ``keeps``: the links,
    oldest first, ``linked`` those that still are daemon.json itself (same inode).
    """

    present: bool
    keeps: tuple[str, ...]
    linked: tuple[str, ...]

    def to_put_back(self) -> str | None:
        """The link to rename back: the latest, when daemon.json is gone."""
        return None if self.present or not self.keeps else self.keeps[-1]

    def differing(self) -> tuple[str, ...]:
        """Links that are neither daemon.json nor put back: left for the operator."""
        back = self.to_put_back()
        return tuple(k for k in self.keeps if k not in self.linked and k != back)


class RollbackError(ValueError):
    """No backup to put back; the message says which exist."""


@dataclass(frozen=True)
class Backup:
    """One backup: its run's stamp, its path, and whether it records "no file"."""

    stamp: str
    path: str
    absent: bool


@dataclass(frozen=True)
class BackupListing:
    """daemon.json's resolved path and the gpu-docker backups beside it."""

    target: str
    paths: tuple[str, ...]


def parse_backups(target: str, paths: Iterable[str]) -> list[Backup]:
    """The backups of ``target`` among ``paths``, oldest first; other files are ignored."""
    found = []
    for path in paths:
        if not path.startswith(target):
            continue
        match = _BACKUP_RE.fullmatch(path[len(target) :])
        if match:
            found.append(Backup(match.group(1), path, absent=match.group(2) is not None))
    return sorted(found, key=lambda b: b.stamp)


def pick_backup(target: str, backups: list[Backup], wanted: str) -> Backup:
    """The backup ``wanted`` names (``latest`` or a stamp), or why there is none."""
    if not backups:
        raise RollbackError(f"no gpu-docker backup of {target}: nothing to roll back to")
    if wanted == "latest":
        return backups[-1]
    for backup in backups:
        if backup.stamp == wanted:
            return backup
    stamps = ", ".join(b.stamp for b in backups)
    raise RollbackError(f"no backup of {target} from {wanted} (there are: {stamps})")
