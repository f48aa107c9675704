"""containerd on the host: its version, how to restart it, its config file, the effective
config (``containerd config dump``) and the files that config imports."""

from __future__ import annotations

import base64
import binascii

from pyinfra.api import FactBase, StringCommand

from gpu_docker import sh
from gpu_docker.containerd import ContainerdHost


def _text(encoded: str) -> str:
    """base64 bytes as text; not UTF-8 (or not base64) reads as NUL, refused as not TOML."""
    try:
        return base64.b64decode(encoded).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return "\x00"


class ContainerdFacts(FactBase[ContainerdHost]):
    """containerd's version, service manager, config bytes, effective config and imported
    files, in one round trip."""

    def command(self, path: str) -> StringCommand:
        self.path = path
        return sh.command("containerd_facts", path)

    def process(self, output: list[str]) -> ContainerdHost:
        found: dict[str, str] = {}
        imports: dict[str, str] = {}
        for line in output:
            key, sep, value = line.partition("=")
            if not sep:
                continue
            if key == "import":
                path, _, content = value.partition(":")
                imports[_text(path)] = _text(content)
            else:
                found.setdefault(key, value)
        return ContainerdHost(
            version=found.get("version", "").strip(),
            service=found.get("service", ""),
            target=found.get("target") or self.path,
            text=_text(found["b64"]) if "b64" in found else None,
            dump=_text(found["dump"]) if "dump" in found else None,
            imports=imports,
        )
