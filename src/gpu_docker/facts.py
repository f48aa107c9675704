"""Facts gpu-docker reads from a host, in pyinfra's shape (one class per fact).

Round trips are what a fleet run spends its time on, so the preflight is one fact that
answers every question the deploy asks before changing anything. Each script is a fixed
string; host data reaches it only as quoted positional arguments (``"$1"``), so a path
with spaces or ``;`` in the settings cannot run a command.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field

from pyinfra.api import FactBase, StringCommand

from gpu_docker import sh


def _key_values(output: list[str]) -> dict[str, list[str]]:
    """Lines of ``key=value`` into key -> values (a key may repeat, e.g. ``pkg``)."""
    found: dict[str, list[str]] = {}
    for line in output:
        key, sep, value = line.partition("=")
        if sep:
            found.setdefault(key, []).append(value)
    return found


@dataclass(frozen=True)
class Package:
    """One dpkg database entry: ``installed`` is False for half-installed or removed ones."""

    name: str
    version: str
    status: str

    @property
    def installed(self) -> bool:
        return self.status.startswith("ii")


@dataclass(frozen=True)
class DockerInfo:
    """What a running dockerd says about itself."""

    server_version: str
    live_restore: bool
    containers_running: int
    runtimes: tuple[str, ...]


@dataclass(frozen=True)
class Preflight:
    """Everything the deploy checks before it changes a host."""

    os_id: str = ""
    os_version: str = ""
    arch: str = ""
    driver: str = ""
    gpus: int = 0
    dockerd_version: str = ""
    docker_validate: bool = False
    init: str = "sysv"
    docker: DockerInfo | None = None
    docker_error: str = ""
    tools: frozenset[str] = frozenset()
    packages: dict[str, Package] = field(default_factory=dict)
    docker_enabled: bool = False  # the system docker starts at boot
    rootless: tuple[str, ...] = ()  # users with a rootless docker (running, or its unit)

    def installed_versions(self) -> dict[str, str]:
        """Package -> version, for packages dpkg calls fully installed."""
        return {p.name: p.version for p in self.packages.values() if p.installed}


def _parse_docker_info(text: str) -> DockerInfo | None:
    parts = text.split("|", 3)
    if len(parts) != 4:
        return None
    version, live_restore, running, runtimes = parts
    try:
        names = tuple(sorted(json.loads(runtimes)))
        count = int(running)
    except (ValueError, TypeError):
        return None
    return DockerInfo(version, live_restore == "true", count, names)


class HostPreflight(FactBase[Preflight]):
    """OS, architecture, driver, docker, tools and the given packages, in one round trip."""

    def command(self, packages: tuple[str, ...] = ()) -> StringCommand:
        return sh.command("preflight", *packages)

    def process(self, output: list[str]) -> Preflight:
        kv = _key_values(output)

        def first(key: str) -> str:
            return kv.get(key, [""])[0].strip()

        packages: dict[str, Package] = {}
        for line in kv.get("pkg", []):
            name, _, rest = line.partition("\t")
            version, _, status = rest.partition("\t")
            if version:
                packages[name] = Package(name, version, status.strip())
        gpus = first("gpus")
        return Preflight(
            os_id=first("os_id"),
            os_version=first("os_version"),
            arch=first("arch"),
            driver=first("driver"),
            gpus=int(gpus) if gpus.isdigit() else 0,
            dockerd_version=first("dockerd"),
            docker_validate=first("validate") == "1",
            init=first("init") or "sysv",
            docker=_parse_docker_info(first("docker_info")),
            docker_error=first("docker_error"),
            tools=frozenset(kv.get("tool", [])),
            packages=packages,
            docker_enabled=first("docker_enabled") == "1",
            rootless=tuple(kv.get("rootless", [])),
        )


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


@dataclass(frozen=True)
class RemoteFile:
    """A file's bytes as text (``None`` = absent) and the path a symlink resolves to."""

    path: str
    target: str
    text: str | None


class RemoteFileText(FactBase[RemoteFile]):
    """A (small) text file's exact content, symlinks resolved, base64 on the wire.

    pyinfra's ``FileContents`` splits into lines and loses the final newline and a BOM;
    deciding "unchanged" needs the exact bytes.
    """

    def command(self, path: str) -> StringCommand:
        self.path = path
        return sh.command("read_file", path)

    def process(self, output: list[str]) -> RemoteFile:
        kv = _key_values(output)
        target = kv.get("target", [self.path])[0] or self.path
        encoded = kv.get("b64")
        text = None
        if encoded is not None:
            try:
                text = base64.b64decode(encoded[0]).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                text = "\x00"  # not UTF-8: the merge refuses it as not JSON
        return RemoteFile(self.path, target, text)


class KeyringFingerprints(FactBase[list[str]]):
    """Primary key fingerprints in a keyring file (empty when it does not exist)."""

    def command(self, path: str) -> StringCommand:
        return sh.command("keyring", path)

    @staticmethod
    def default() -> list[str]:
        return []

    def process(self, output: list[str]) -> list[str]:
        return [v.upper() for v in _key_values(output).get("fpr", [])]


class RemoteSha256(FactBase[dict[str, str]]):
    """sha256 of each existing file among the given paths, in one round trip."""

    @staticmethod
    def default() -> dict[str, str]:
        return {}

    def command(self, paths: tuple[str, ...]) -> StringCommand:
        return sh.inline('for f in "$@"; do [ -f "$f" ] && sha256sum -- "$f"; done; true', *paths)

    def process(self, output: list[str]) -> dict[str, str]:
        sums: dict[str, str] = {}
        for line in output:
            digest, _, path = line.partition("  ")
            if path:
                sums[path] = digest
        return sums
