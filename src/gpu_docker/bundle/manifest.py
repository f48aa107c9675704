"""Bundle manifests: the record the offline install trusts, and checks against the files.

A bundle is ``<bundle_root>/<version>/<arch>/`` holding NVIDIA's runtime .debs and a
``manifest.json``. The manifest is committed to git; the debs may not be. The deploy's
offline path installs only what the manifest lists, in the manifest's order, after
:func:`verify_bundle` has matched every file's size, sha256 and control data, so a
tampered, truncated or hand-edited bundle is never installed.

Format (``"format": 1``)::

    {
      "format": 1,
      "version": "1.17.8",            # upstream version, also the directory name
      "arch": "amd64",
      "packages": [                   # in install order
        {"file": "...deb", "package": "...", "version": "1.17.8-1", "arch": "amd64",
         "size": 123, "sha256": "...", "order": 0, "depends": "...", "pre_depends": ""}
      ],
      "external_depends": ["libc6 (>= 2.27)", ...]   # the host must already satisfy
    }
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from debian.debian_support import Version

from gpu_docker import toolkit
from gpu_docker.bundle.debs import read_deb, sha256_file
from gpu_docker.bundle.depends import clause_names, external_relations, parse_relations
from gpu_docker.bundle.errors import BundleError

FORMAT = 1
MANIFEST_NAME = "manifest.json"

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9+.~_:-]*$")


@dataclass(frozen=True)
class BundleEntry:
    """One .deb of a bundle, as the manifest records it."""

    file: str
    package: str
    version: str
    arch: str
    size: int
    sha256: str
    order: int
    depends: str
    pre_depends: str = ""
    directory: Path = field(default=Path(), compare=False, repr=False)

    @property
    def path(self) -> Path:
        """Absolute path of the .deb on the controller."""
        return self.directory / self.file

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (without the directory, which is where the manifest is)."""
        data = asdict(self)
        del data["directory"]
        return data


@dataclass(frozen=True)
class Manifest:
    """A bundle: its upstream version, architecture, directory and entries in order."""

    version: str
    arch: str
    directory: Path
    entries: list[BundleEntry]
    external_depends: list[str]

    @property
    def path(self) -> Path:
        """Where the manifest file lives."""
        return self.directory / MANIFEST_NAME

    @property
    def total_size(self) -> int:
        """Bytes of all debs together."""
        return sum(entry.size for entry in self.entries)

    def to_json(self) -> str:
        """Stable JSON text: the same bundle always writes the same bytes."""
        data = {
            "format": FORMAT,
            "version": self.version,
            "arch": self.arch,
            "packages": [entry.to_dict() for entry in self.entries],
            "external_depends": self.external_depends,
        }
        return json.dumps(data, indent=2, sort_keys=True) + "\n"


def upstream_version(version: str) -> str:
    """``"1.17.8-1"`` -> ``"1.17.8"``; an upstream version is returned unchanged."""
    try:
        Version(version.strip())
    except ValueError as exc:
        raise BundleError(f"invalid version {version!r}: {exc}") from exc
    return toolkit.upstream_version(version)


def bundle_directory(bundle_root: Path, version: str, arch: str) -> Path:
    """``<bundle_root>/<upstream version>/<arch>``, absolute."""
    upstream = upstream_version(version)
    for part in (upstream, arch):
        if not _SAFE_NAME.match(part):
            raise BundleError(f"{part!r} cannot name a bundle directory")
    return bundle_root.absolute() / upstream / arch


def load_manifest(bundle_root: Path, version: str, arch: str) -> Manifest:
    """Read and validate ``<bundle_root>/<version>/<arch>/manifest.json``.

    ``version`` may be upstream (``1.17.8``) or a deb version (``1.17.8-1``). Raises
    BundleError naming the path when the manifest is missing or invalid; a missing one
    also lists the bundles the root does hold, so a wrong version or arch is plain to see.
    """
    path = bundle_directory(bundle_root, version, arch) / MANIFEST_NAME
    if not path.is_file():
        root = bundle_root.absolute()
        held = [
            f"{d.parent.name}/{d.name}"
            for d in (bundle_directories(root) if root.is_dir() else [])
            if (d / MANIFEST_NAME).is_file()
        ]
        raise BundleError(
            f"no bundle manifest at {path} (bundles under {root}: {', '.join(held) or 'none'})"
        )
    return read_manifest(path)


def read_manifest(path: Path) -> Manifest:
    """Read and validate one manifest file; its directory names the version and arch."""
    path = path.absolute()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise BundleError(f"no bundle manifest at {path}") from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BundleError(f"unreadable manifest {path}: {exc}") from exc
    try:
        return _parse(data, path.parent)
    except (KeyError, TypeError, ValueError) as exc:
        raise BundleError(f"invalid manifest {path}: {exc}") from exc


def _get(data: dict[str, Any], key: str, kind: type) -> Any:
    """``data[key]``, insisting on its JSON type so a hand edit cannot smuggle in junk."""
    if not isinstance(data, dict):
        raise TypeError("expected a JSON object")
    if key not in data:
        raise KeyError(f"missing field {key!r}")
    value = data[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise TypeError(f"field {key!r} must be {kind.__name__}, not {value!r}")
    return value


def _parse(data: Any, directory: Path) -> Manifest:
    """Build a Manifest from JSON data, checking every invariant the deploy relies on."""
    if _get(data, "format", int) != FORMAT:
        raise ValueError(
            f"format {data['format']} is not supported (this gpu-docker reads {FORMAT})"
        )
    version, arch = _get(data, "version", str), _get(data, "arch", str)
    if (directory.parent.name, directory.name) != (version, arch):
        raise ValueError(
            f"says {version}/{arch} but sits in {directory.parent.name}/{directory.name}"
        )
    entries = [_parse_entry(item, directory) for item in _get(data, "packages", list)]
    if not entries:
        raise ValueError("lists no packages")
    external = _get(data, "external_depends", list)
    if not all(isinstance(item, str) for item in external):
        raise TypeError("external_depends must be a list of strings")
    for relation in external:
        parse_relations(relation)
    _check_entries(entries)
    return Manifest(version, arch, directory, entries, list(external))


def _parse_entry(item: Any, directory: Path) -> BundleEntry:
    """One ``packages`` item, with a plain file name and a well-formed checksum."""
    entry = BundleEntry(
        file=_get(item, "file", str),
        package=_get(item, "package", str),
        version=_get(item, "version", str),
        arch=_get(item, "arch", str),
        size=_get(item, "size", int),
        sha256=_get(item, "sha256", str),
        order=_get(item, "order", int),
        depends=_get(item, "depends", str),
        pre_depends=_get(item, "pre_depends", str) if "pre_depends" in item else "",
        directory=directory,
    )
    if not _SAFE_NAME.match(entry.file) or not entry.file.endswith(".deb"):
        raise ValueError(f"file {entry.file!r} is not a plain .deb file name")
    if not _SHA256.match(entry.sha256):
        raise ValueError(f"{entry.file}: sha256 {entry.sha256!r} is not 64 lowercase hex digits")
    if entry.size < 0:
        raise ValueError(f"{entry.file}: negative size")
    parse_relations(entry.depends)
    parse_relations(entry.pre_depends)
    return entry


def _check_entries(entries: list[BundleEntry]) -> None:
    """Entries unique, listed in install order, and that order respects their Depends."""
    for kind in ("file", "package"):
        names = [getattr(entry, kind) for entry in entries]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"{kind} listed twice: {', '.join(duplicates)}")
    if [entry.order for entry in entries] != list(range(len(entries))):
        raise ValueError("packages must be listed in install order with order 0, 1, 2, ...")
    position = {entry.package: entry.order for entry in entries}
    for entry in entries:
        for text in (entry.pre_depends, entry.depends):
            for clause in parse_relations(text):
                later = sorted(
                    name for name in clause_names(clause) if position.get(name, -1) > entry.order
                )
                if later:
                    raise ValueError(
                        f"{entry.package} (order {entry.order}) needs {', '.join(later)}, "
                        "which is installed after it"
                    )


def write_manifest(manifest: Manifest) -> Path:
    """Write ``manifest.json`` into the manifest's directory."""
    manifest.path.write_text(manifest.to_json(), encoding="utf-8")
    return manifest.path


def expected_external(entries: list[BundleEntry]) -> list[str]:
    """The host-side relations implied by the entries' own Depends and Pre-Depends."""
    return external_relations(
        [text for entry in entries for text in (entry.pre_depends, entry.depends)],
        [entry.package for entry in entries],
    )


def verify_bundle(manifest: Manifest) -> None:
    """Check the directory against the manifest; BundleError naming every bad file.

    A file is bad when it is missing, its size or sha256 differs, its control data
    (package, version, arch, Depends) differs from the manifest's record, or it is not
    listed at all. The manifest's external_depends must follow from the packages.
    """
    problems: list[str] = []
    for entry in manifest.entries:
        problems += _entry_problems(entry)
    listed = {entry.file for entry in manifest.entries} | {MANIFEST_NAME}
    if manifest.directory.is_dir():
        for child in sorted(manifest.directory.iterdir()):
            if child.name not in listed:
                problems.append(f"unexpected file: {child}")
    expected = expected_external(manifest.entries)
    if sorted(manifest.external_depends) != expected:
        problems.append(
            f"{manifest.path}: external_depends {manifest.external_depends} do not match "
            f"the packages' dependencies {expected}"
        )
    if problems:
        where = f"{manifest.version}/{manifest.arch}"
        raise BundleError(
            f"bundle {where} failed verification: " + "; ".join(problems), tuple(problems)
        )


def _entry_problems(entry: BundleEntry) -> list[str]:
    """What is wrong with one listed file, if anything."""
    path = entry.path
    if not path.is_file():
        return [f"missing file: {path}"]
    size = path.stat().st_size
    if size != entry.size:
        return [f"{path}: size {size} bytes, manifest says {entry.size}"]
    digest = sha256_file(path)
    if digest != entry.sha256:
        return [f"{path}: sha256 {digest}, manifest says {entry.sha256}"]
    try:
        info = read_deb(path)
    except BundleError as exc:
        return [str(exc)]
    return [
        f"{path}: {label} is {actual!r} in the package, manifest says {recorded!r}"
        for label, actual, recorded in (
            ("package", info.package, entry.package),
            ("version", info.version, entry.version),
            ("arch", info.arch, entry.arch),
            ("Depends", info.depends, entry.depends),
            ("Pre-Depends", info.pre_depends, entry.pre_depends),
        )
        if actual != recorded
    ]


def bundle_directories(bundle_root: Path) -> list[Path]:
    """Every ``<version>/<arch>`` directory under the root (staging dirs excluded)."""
    return sorted(
        arch_dir
        for version_dir in bundle_root.iterdir()
        if version_dir.is_dir() and not version_dir.name.startswith(".")
        for arch_dir in version_dir.iterdir()
        if arch_dir.is_dir() and not arch_dir.name.startswith(".")
    )


__all__ = [
    "FORMAT",
    "MANIFEST_NAME",
    "BundleEntry",
    "BundleError",
    "Manifest",
    "bundle_directories",
    "bundle_directory",
    "load_manifest",
    "read_manifest",
    "upstream_version",
    "verify_bundle",
    "write_manifest",
]
