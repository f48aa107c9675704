"""NVIDIA's release tarball and checksums file: checking and unpacking them safely.

Operators carry ``nvidia-container-toolkit_<V>_deb_<arch>.tar.gz`` (debs under
``release-v<V>-stable/packages/ubuntu18.04/<arch>/``) and ``..._checksums.txt`` into a
firewalled lab. The tarball is checked against the checksums file before anything is
unpacked, and only ``.deb`` members are taken out, each by its base name, so a hostile
archive cannot write outside the scratch directory.
"""

from __future__ import annotations

import re
import shutil
import tarfile
from collections.abc import Sequence
from pathlib import Path

from gpu_docker.bundle.debs import sha256_file
from gpu_docker.bundle.errors import BundleError

_CHECKSUM_LINE = re.compile(r"^([0-9a-fA-F]{64}) [ *](.+)$")


def parse_checksums(path: Path) -> dict[str, str]:
    """Read a ``sha256sum``-format file into base name -> lowercase hex digest."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise BundleError(f"cannot read checksums file {path}: {exc}") from exc
    sums: dict[str, str] = {}
    for number, line in enumerate(lines, 1):
        if not line.strip() or line.startswith("#"):
            continue
        match = _CHECKSUM_LINE.match(line.strip())
        if not match:
            raise BundleError(f"{path}:{number}: not a sha256sum line: {line.strip()!r}")
        sums[Path(match.group(2)).name] = match.group(1).lower()
    return sums


def check_checksum(path: Path, sums: dict[str, str], checksums_file: Path) -> None:
    """BundleError unless ``path`` is listed in the checksums with a matching digest."""
    if path.name not in sums:
        raise BundleError(f"{path.name} is not listed in {checksums_file}")
    digest = sha256_file(path)
    if digest != sums[path.name]:
        raise BundleError(
            f"checksum mismatch for {path}: sha256 {digest}, "
            f"{checksums_file} says {sums[path.name]}"
        )


def extract_debs(tarball: Path, dest: Path) -> list[Path]:
    """Copy every ``.deb`` member of ``tarball`` into ``dest`` by base name."""
    if not tarfile.is_tarfile(tarball):
        raise BundleError(f"not a tarball: {tarball}")
    found: list[Path] = []
    try:
        with tarfile.open(tarball) as tar:
            for member in tar:
                name = Path(member.name).name
                if not member.isfile() or not name.endswith(".deb"):
                    continue
                target = dest / name
                if target.exists():
                    raise BundleError(f"{tarball}: {name} appears twice")
                source = tar.extractfile(member)
                if source is None:
                    continue
                with source, target.open("wb") as out:
                    shutil.copyfileobj(source, out)
                found.append(target)
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise BundleError(f"cannot read tarball {tarball}: {exc}") from exc
    if not found:
        raise BundleError(f"no .deb files inside {tarball}")
    return sorted(found)


def collect_debs(sources: Sequence[Path], workdir: Path, checksums: Path | None) -> list[Path]:
    """Resolve import sources (tarballs, directories, .deb files) into .deb paths.

    With ``checksums``, each tarball or loose .deb must be listed there and match before
    it is used; files found in a directory are checked the same way.
    """
    sums = parse_checksums(checksums) if checksums else None
    debs: list[Path] = []
    for index, source in enumerate(sources):
        if source.is_dir():
            candidates = sorted(path for path in source.rglob("*.deb") if path.is_file())
            if not candidates:
                raise BundleError(f"no .deb files in directory {source}")
        elif source.is_file():
            candidates = [source]
        else:
            raise BundleError(f"no such file or directory: {source}")
        for candidate in candidates:
            if sums is not None and checksums is not None:
                check_checksum(candidate, sums, checksums)
            if candidate.suffix == ".deb":
                debs.append(candidate)
            else:
                scratch = workdir / f"tarball-{index}"
                scratch.mkdir()
                debs += extract_debs(candidate, scratch)
    return debs
