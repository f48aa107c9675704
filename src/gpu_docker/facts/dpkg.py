"""The host's packages as dpkg sees them: versions, states, holds, an interrupted run."""

from __future__ import annotations

from pyinfra.api import FactBase, StringCommand

from gpu_docker import sh
from gpu_docker.packages import Selection


class InstalledPackages(FactBase[dict[str, str]]):
    """Package -> version for the given packages that dpkg calls fully installed (``ii``).

    Half-installed or half-configured packages (an interrupted dpkg) are left out, so the
    deploy installs them again rather than trusting them.
    """

    @staticmethod
    def default() -> dict[str, str]:
        return {}

    def command(self, packages: tuple[str, ...]) -> StringCommand:
        return sh.inline(
            "dpkg-query -W -f='${Package}\\t${Version}\\t${db:Status-Abbrev}\\n' \"$@\" 2>/dev/null; true",
            *packages,
        )

    def process(self, output: list[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        for line in output:
            name, version, status = ([*line.split("\t"), "", ""])[:3]
            if version and status.startswith("ii"):
                found[name] = version
        return found


class PackageSelections(FactBase[dict[str, Selection]]):
    """Package -> :class:`~gpu_docker.packages.Selection` for the given packages dpkg knows of."""

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


class DpkgAudit(FactBase[list[str]]):
    """What ``dpkg --audit`` reports: empty unless a dpkg run was interrupted.

    apt refuses to install anything after an interrupted dpkg ("dpkg was interrupted,
    you must manually run 'dpkg --configure -a'"), so the deploy checks this first.
    """

    @staticmethod
    def default() -> list[str]:
        return []

    def command(self) -> str:
        return "dpkg --audit 2>&1; true"

    def process(self, output: list[str]) -> list[str]:
        return [line for line in output if line.strip()]
