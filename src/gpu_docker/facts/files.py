"""Files on the host: exact text, checksums, age, and the backups and links gpu-docker left."""

from __future__ import annotations

import base64
import binascii

from pyinfra.api import FactBase, StringCommand

from gpu_docker import sh
from gpu_docker.files import BackupListing, KeptAside, RemoteFile


class RemoteFileText(FactBase[RemoteFile]):
    """A (small) text file's exact content, symlinks resolved, base64 on the wire.

    pyinfra's ``FileContents`` splits into lines and loses the final newline and a BOM;
    deciding "unchanged" needs the exact bytes.
    """

    def command(self, path: str) -> StringCommand:
        self.path = path
        return sh.command("read_file", path)

    def process(self, output: list[str]) -> RemoteFile:
        kv = sh.key_values(output)
        target = kv.get("target", [self.path])[0] or self.path
        encoded = kv.get("b64")
        text = None
        if encoded is not None:
            try:
                text = base64.b64decode(encoded[0]).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                text = "\x00"  # not UTF-8: the merge refuses it as not JSON
        meta = kv.get("meta", [""])[0].strip()
        return RemoteFile(self.path, target, text, meta, parent_exists="parent" in kv)


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


class FileAge(FactBase["int | None"]):
    """Seconds since a file was last modified, by the host's clock (``None``: no file)."""

    def command(self, path: str) -> StringCommand:
        return sh.inline('[ -e "$1" ] && echo $(( $(date +%s) - $(stat -c %Y "$1") )); true', path)

    def process(self, output: list[str]) -> int | None:
        text = output[0].strip() if output else ""
        return int(text) if text.lstrip("-").isdigit() else None


class FileBackups(FactBase[BackupListing]):
    """The backups gpu-docker runs left beside a file it replaces (daemon.json, containerd's
    or the toolkit's config.toml; a symlink is followed)."""

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


class DaemonJsonKept(FactBase[KeptAside]):
    """daemon.json's links an interrupted legacy purge left beside it (``files.KeptAside``)."""

    @staticmethod
    def default() -> KeptAside:
        # No output at all: no daemon.json and no link (pyinfra skips process()).
        return KeptAside(present=False, keeps=(), linked=())

    def command(self, path: str) -> StringCommand:
        return sh.command("list_kept", path)

    def process(self, output: list[str]) -> KeptAside:
        kv = sh.key_values(output)
        present = kv.get("present", [""])[0]
        keeps, linked = [], []
        for line in kv.get("keep", []):
            inode, _, path = line.partition(" ")
            keeps.append(path)
            if present and inode == present:
                linked.append(path)
        return KeptAside(bool(present), tuple(sorted(keeps)), tuple(sorted(linked)))
