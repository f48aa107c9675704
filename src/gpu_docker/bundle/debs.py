"""Reading a .deb: its control data (via python-debian) and its checksum.

Both the importer and the verifier need the same facts about a package file, so they
come from one place and are compared field by field.
"""

from __future__ import annotations

import hashlib
import tarfile
from dataclasses import dataclass
from pathlib import Path

from debian.arfile import ArError
from debian.debfile import DebError, DebFile

from gpu_docker.bundle.errors import BundleError

_CHUNK = 1 << 20


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in chunks so large debs do not fill memory."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class DebInfo:
    """What the bundle needs to know about one package file."""

    path: Path
    package: str
    version: str
    arch: str
    depends: str
    pre_depends: str
    size: int
    sha256: str


def read_deb(path: Path) -> DebInfo:
    """Read ``path``'s control data; BundleError naming the file if it is not a deb."""
    try:
        control = DebFile(str(path)).debcontrol()
    except (ArError, DebError, tarfile.TarError, OSError, EOFError, KeyError, ValueError) as exc:
        raise BundleError(f"not a Debian package: {path} ({exc})") from exc
    missing = [key for key in ("Package", "Version", "Architecture") if key not in control]
    if missing:
        raise BundleError(f"{path}: control data lacks {', '.join(missing)}")
    return DebInfo(
        path=path,
        package=control["Package"],
        version=control["Version"],
        arch=control["Architecture"],
        depends=" ".join(control.get("Depends", "").split()),
        pre_depends=" ".join(control.get("Pre-Depends", "").split()),
        size=path.stat().st_size,
        sha256=sha256_file(path),
    )
