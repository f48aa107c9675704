"""apt on the host: its source files (with architecture and proxy) and a keyring's keys."""

from __future__ import annotations

import base64
import binascii

from pyinfra.api import FactBase, StringCommand

from gpu_docker import sh
from gpu_docker.apt_sources import AptSourceFiles


class HostAptSources(FactBase[AptSourceFiles]):
    """sources.list, sources.list.d/*.list and *.sources, with the bytes of each."""

    def command(self) -> StringCommand:
        return sh.command("apt_sources")

    def process(self, output: list[str]) -> AptSourceFiles:
        files: dict[str, str] = {}
        arch = proxy = ""
        for line in output:
            key, _, value = line.partition("=")
            if key == "src":
                path, _, encoded = value.partition("\t")
                try:
                    files[path] = base64.b64decode(encoded).decode("utf-8", "replace")
                except binascii.Error:
                    continue
            elif key == "arch":
                arch = value.strip()
            elif key == "proxy" and not proxy:
                proxy = value.strip()
        return AptSourceFiles(files, arch, proxy)


class KeyringFingerprints(FactBase[list[str]]):
    """Primary key fingerprints in a keyring file (empty when it does not exist)."""

    def command(self, path: str) -> StringCommand:
        return sh.command("keyring", path)

    @staticmethod
    def default() -> list[str]:
        return []

    def process(self, output: list[str]) -> list[str]:
        return [v.upper() for v in sh.key_values(output).get("fpr", [])]
