"""What gpu-docker may do to the host's packages: pure rules over dpkg's view of them.

Both install methods (apt, offline dpkg) follow the same rules, said before anything is
written: a toolkit package the operator put on hold is not moved unless
``release_holds`` allows it, and then the hold is put back at the pin; a package newer
than the pin is downgraded only after a line saying so. A removal (rollback) takes the
toolkit in any dpkg state, and first the installed packages that depend on it.
The operations that apply them are in :mod:`gpu_docker.operations.dpkg`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from debian.debian_support import Version


@dataclass(frozen=True)
class Selection:
    """One package as dpkg sees it: version, ``db:Status-Abbrev`` and the wanted state."""

    version: str
    status: str
    want: str


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
