"""Downloading NVIDIA's release tarball and checksums, then importing them.

Run on a machine with internet access; the result (``files/debs/<V>/<arch>/``) is
what gets carried into the firewalled lab. Only the standard library is used, so the
tool works wherever gpu-docker is installed. ``--base-url`` points at a mirror with the
same asset names; ``{version}`` in it is replaced by the upstream version.
"""

from __future__ import annotations

import sys
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from typing import TextIO

from gpu_docker.bundle.errors import BundleError
from gpu_docker.bundle.importer import ImportResult, import_sources
from gpu_docker.bundle.manifest import upstream_version

DEFAULT_BASE_URL = (
    "https://github.com/NVIDIA/nvidia-container-toolkit/releases/download/v{version}/"
)
_CHUNK = 64 * 1024
_BAR_WIDTH = 30


def asset_names(version: str, arch: str) -> tuple[str, str]:
    """NVIDIA's release asset names: (deb tarball, checksums file)."""
    return (
        f"nvidia-container-toolkit_{version}_deb_{arch}.tar.gz",
        f"nvidia-container-toolkit_{version}_checksums.txt",
    )


def asset_url(base_url: str, version: str, name: str) -> str:
    """``base_url`` (with ``{version}`` filled in) joined with an asset name."""
    return base_url.replace("{version}", version).rstrip("/") + "/" + name


class Progress:
    """A download progress bar on a terminal, or one plain line per file otherwise."""

    def __init__(self, stream: TextIO, name: str, total: int | None) -> None:
        self.stream, self.name, self.total, self.done = stream, name, total, 0
        self.live = stream.isatty()
        if not self.live:
            size = f" ({total} bytes)" if total else ""
            print(f"downloading {name}{size}", file=stream, flush=True)

    def update(self, count: int) -> None:
        """Account for ``count`` more bytes and redraw the bar on a terminal."""
        self.done += count
        if not self.live:
            return
        if self.total:
            filled = min(_BAR_WIDTH, self.done * _BAR_WIDTH // self.total)
            bar = "#" * filled + "." * (_BAR_WIDTH - filled)
            percent = min(100, self.done * 100 // self.total)
            line = f"\r{self.name} [{bar}] {percent:3d}% {self.done / 1048576:.1f} MiB"
        else:
            line = f"\r{self.name} {self.done / 1048576:.1f} MiB"
        self.stream.write(line)
        self.stream.flush()

    def finish(self) -> None:
        """End the bar's line, or report the size received."""
        if self.live:
            self.stream.write("\n")
        else:
            print(f"downloaded {self.name}: {self.done} bytes", file=self.stream)
        self.stream.flush()


def download(url: str, dest: Path, stream: TextIO, timeout: float = 60.0) -> Path:
    """Fetch ``url`` into ``dest``; BundleError naming the URL on any failure."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, dest.open("wb") as out:
            length = response.headers.get("Content-Length")
            progress = Progress(stream, dest.name, int(length) if length else None)
            for chunk in iter(lambda: response.read(_CHUNK), b""):
                out.write(chunk)
                progress.update(len(chunk))
            progress.finish()
    except urllib.error.HTTPError as exc:
        raise BundleError(f"download failed: {url}: HTTP {exc.code} {exc.reason}") from exc
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise BundleError(f"download failed: {url}: {exc}") from exc
    return dest


def fetch_release(
    version: str,
    arch: str,
    dest_root: Path,
    base_url: str = DEFAULT_BASE_URL,
    stream: TextIO | None = None,
) -> ImportResult:
    """Download the release tarball and checksums for ``version``/``arch``, verify, import."""
    upstream = upstream_version(version)
    out = stream if stream is not None else sys.stderr
    with tempfile.TemporaryDirectory(prefix="gpu-docker-fetch-") as tmp:
        paths = [
            download(asset_url(base_url, upstream, name), Path(tmp) / name, out)
            for name in asset_names(upstream, arch)
        ]
        tarball, checksums = paths
        return import_sources([tarball], dest_root, checksums)
