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


@dataclass(frozen=True)
class Removal:
    """What a package removal must do: toolkit packages to purge (in any dpkg state but
    not-installed, half-installed ``iHR`` and unpacked ``iU`` included), and installed
    packages depending on them, which dpkg would otherwise refuse to leave broken."""

    purge: tuple[str, ...]
    dependents: tuple[str, ...]


def removal_plan(packages: Iterable[str], states: dict[str, tuple[str, str]]) -> Removal:
    """``states``: package -> (``db:Status-Abbrev``, its Depends and Pre-Depends), for every
    package dpkg knows. Toolkit packages come back dependents first (reverse order)."""
    ours = list(packages)
    purge = tuple(
        name for name in reversed(ours) if name in states and states[name][0][1:2] not in ("n", "")
    )
    depends_on_ours = re.compile(
        r"(?:^|[,|]\s*)(" + "|".join(map(re.escape, ours)) + r")(?=[\s,(:|]|$)"
    )
    dependents = tuple(
        sorted(
            name
            for name, (status, depends) in states.items()
            if name not in ours
            and status[1:2] not in ("n", "c", "")
            and depends_on_ours.search(depends.strip())
        )
    )
    return Removal(purge, dependents)
