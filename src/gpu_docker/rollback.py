"""Which daemon.json backup a rollback puts back: pure helpers over the backups' names.

Every run that changes daemon.json leaves ``<target>.gpu-docker-<UTC stamp>.bak`` (the
previous file, 0600) or ``<target>.gpu-docker-<stamp>.bak.absent`` (there was none). The
stamps sort in time order, so "latest" is the last one; an operator who wants the state
before an older run names its stamp.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

_BACKUP_RE = re.compile(r"\.gpu-docker-(\d{8}T\d{6}Z)\.bak(\.absent)?$")


class RollbackError(ValueError):
    """No backup to put back; the message says which exist."""


@dataclass(frozen=True)
class Backup:
    """One backup: its run's stamp, its path, and whether it records "no file"."""

    stamp: str
    path: str
    absent: bool


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
