"""containerd on the host: its version, how to restart it, and its config file."""

from __future__ import annotations

import base64
import binascii

from pyinfra.api import FactBase, StringCommand

from gpu_docker import sh
from gpu_docker.containerd import ContainerdHost


class ContainerdFacts(FactBase[ContainerdHost]):
    """containerd's version, service manager and config bytes, in one round trip."""

    def command(self, path: str) -> StringCommand:
        self.path = path
        return sh.command("containerd_facts", path)

    def process(self, output: list[str]) -> ContainerdHost:
        found: dict[str, str] = {}
        for line in output:
            key, sep, value = line.partition("=")
            if sep:
                found.setdefault(key, value)
        text = None
        if "b64" in found:
            try:
                text = base64.b64decode(found["b64"]).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                text = "\x00"  # not UTF-8: refused as not TOML
        return ContainerdHost(
            version=found.get("version", "").strip(),
            service=found.get("service", ""),
            target=found.get("target") or self.path,
            text=text,
        )
