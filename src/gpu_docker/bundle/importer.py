"""Turning NVIDIA's debs into a checked bundle: ``files/debs/<version>/<arch>/``.

Everything is decided before anything is written: exactly the four runtime packages
are picked (-dev, -dbg, operator-extensions and anything else skipped and named), their control data read with python-debian, the set checked
for one version, one architecture, all four toolkit packages and every in-bundle
dependency met, and the install order computed. Only then is the bundle staged in a
hidden directory inside the bundle root and renamed into place, so a failed import
leaves ``files/debs/`` exactly as it was, and importing the same debs again is a no-op.
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from gpu_docker import toolkit
from gpu_docker.bundle.debs import DebInfo, read_deb, sha256_file
from gpu_docker.bundle.depends import (
    Alternative,
    clause_names,
    clause_satisfied,
    parse_relations,
)
from gpu_docker.bundle.errors import BundleError
from gpu_docker.bundle.manifest import (
    MANIFEST_NAME,
    BundleEntry,
    Manifest,
    bundle_directory,
    expected_external,
    read_manifest,
    upstream_version,
    verify_bundle,
)
from gpu_docker.bundle.order import CycleError, install_order
from gpu_docker.bundle.tarball import collect_debs


@dataclass(frozen=True)
class ImportResult:
    """The bundle now in place, whether this import changed anything on disk, and the
    packages given that a bundle does not hold (skipped: -dev, -dbg, operator-extensions)."""

    manifest: Manifest
    changed: bool
    skipped: tuple[str, ...] = ()


def runtime_packages(infos: Sequence[DebInfo]) -> tuple[list[DebInfo], list[str]]:
    """(the four runtime packages, the names of every other package given).

    NVIDIA's release tarball also carries -dev, -dbg and
    ``nvidia-container-toolkit-operator-extensions`` (which depends on the base package's
    exact version): a runtime host needs none of them, and one installed but not pinned
    would block the removal of the base package in a rollback.
    """
    kept = [info for info in infos if info.package in toolkit.PACKAGES]
    skipped = sorted({info.package for info in infos} - set(toolkit.PACKAGES))
    return kept, skipped


def _single(values: dict[str, str], what: str) -> str:
    """The one value every package shares, or BundleError listing who has which."""
    distinct = sorted(set(values.values()))
    if len(distinct) != 1:
        listing = ", ".join(f"{pkg} {value}" for pkg, value in sorted(values.items()))
        raise BundleError(f"mixed {what} in one bundle: {listing}")
    return distinct[0]


def plan_bundle(infos: Sequence[DebInfo], bundle_root: Path) -> Manifest:
    """Check a set of runtime debs and return the manifest they would form."""
    by_name: dict[str, DebInfo] = {}
    for info in infos:
        if info.package in by_name:
            raise BundleError(
                f"package {info.package} given twice: {by_name[info.package].path}, {info.path}"
            )
        by_name[info.package] = info
    arches = {info.package: info.arch for info in infos if info.arch != "all"}
    arch = _single(arches, "architectures") if arches else "all"
    deb_version = _single({info.package: info.version for info in infos}, "versions")
    missing = [name for name in toolkit.PACKAGES if name not in by_name]
    if missing:
        raise BundleError(
            f"incomplete bundle: missing {', '.join(missing)} "
            f"(have {', '.join(sorted(by_name)) or 'nothing'})"
        )
    versions = {name: info.version for name, info in by_name.items()}
    requires: dict[str, set[str]] = {}
    for info in infos:
        requires[info.package] = set()
        for clause in parse_relations(info.pre_depends) + parse_relations(info.depends):
            inside = clause_names(clause) & by_name.keys()
            if not inside:
                continue
            if not clause_satisfied(clause, versions):
                have = ", ".join(f"{name} {versions[name]}" for name in sorted(inside))
                raise BundleError(
                    f"{info.package} {info.version} depends on "
                    f"{' | '.join(_alternative_text(alt) for alt in clause)}, bundle has {have}"
                )
            requires[info.package] |= inside
    try:
        order = install_order(requires)
    except CycleError as exc:
        raise BundleError(f"cannot order the bundle: {exc}") from exc
    directory = bundle_directory(bundle_root, deb_version, arch)
    entries = [
        BundleEntry(
            file=f"{name}_{_without_epoch(deb_version)}_{by_name[name].arch}.deb",
            package=name,
            version=deb_version,
            arch=by_name[name].arch,
            size=by_name[name].size,
            sha256=by_name[name].sha256,
            order=position,
            depends=by_name[name].depends,
            pre_depends=by_name[name].pre_depends,
            directory=directory,
        )
        for position, name in enumerate(order)
    ]
    return Manifest(
        upstream_version(deb_version), arch, directory, entries, expected_external(entries)
    )


def _alternative_text(alt: Alternative) -> str:
    """``name (op version)`` for an error message."""
    version = alt.get("version")
    return f"{alt['name']} ({version[0]} {version[1]})" if version else alt["name"]


def _without_epoch(version: str) -> str:
    """Debian file names drop the epoch: ``1:2.0-1`` -> ``2.0-1``."""
    return version.split(":", 1)[-1]


def import_packages(paths: Sequence[Path], dest_root: Path) -> ImportResult:
    """Import loose .deb files into ``dest_root``; see the module docstring for the rules."""
    if not paths:
        raise BundleError("no .deb files to import")
    infos, skipped = runtime_packages([read_deb(path) for path in paths])
    if not infos:
        raise BundleError(
            f"none of the runtime packages given (only {', '.join(skipped)}); nothing imported"
        )
    plan = plan_bundle(infos, dest_root)
    target = plan.directory
    if target.exists():
        try:
            existing = read_manifest(target / MANIFEST_NAME)
        except BundleError as exc:
            raise BundleError(
                f"{target} exists but is not a usable bundle ({exc}); remove it first"
            ) from exc
        if existing.to_json() != plan.to_json():
            raise BundleError(
                f"a different bundle already exists at {target}; remove it first to replace it"
            )
        if _verifies(existing):
            return ImportResult(existing, changed=False, skipped=tuple(skipped))
        # Same manifest but damaged or missing debs (e.g. a fresh git clone): restore them.
    paths_by_package = {info.package: info.path for info in infos}
    _stage_and_swap(plan, {entry.file: paths_by_package[entry.package] for entry in plan.entries})
    return ImportResult(read_manifest(target / MANIFEST_NAME), changed=True, skipped=tuple(skipped))


def _verifies(manifest: Manifest) -> bool:
    """Whether the bundle on disk matches its manifest."""
    try:
        verify_bundle(manifest)
    except BundleError:
        return False
    return True


def _stage_and_swap(plan: Manifest, sources: dict[str, Path]) -> None:
    """Write the bundle beside its final place, then rename it in: all or nothing."""
    root = plan.directory.parent.parent
    root.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=".staging-", dir=root))
    stage.chmod(0o755)  # mkdtemp's 0700 would hide the bundle from other users
    retired = root / f".replaced-{uuid.uuid4().hex}"
    try:
        for entry in plan.entries:
            copy = stage / entry.file
            shutil.copyfile(sources[entry.file], copy)
            if sha256_file(copy) != entry.sha256:
                raise BundleError(f"{sources[entry.file]} changed while it was being imported")
        (stage / MANIFEST_NAME).write_text(plan.to_json(), encoding="utf-8")
        plan.directory.parent.mkdir(exist_ok=True)
        if plan.directory.exists():
            plan.directory.rename(retired)
        try:
            stage.rename(plan.directory)
        except OSError:
            if retired.exists():
                retired.rename(plan.directory)
            raise
    finally:
        shutil.rmtree(stage, ignore_errors=True)
        shutil.rmtree(retired, ignore_errors=True)


def import_debs(paths: Sequence[Path], dest_root: Path) -> Manifest:
    """Import loose .deb files into ``dest_root`` and return the bundle's manifest."""
    return import_packages(paths, dest_root).manifest


def import_sources(
    sources: Sequence[Path], dest_root: Path, checksums: Path | None = None
) -> ImportResult:
    """Import NVIDIA's release tarball, a directory of debs, or loose debs.

    With ``checksums`` (NVIDIA's ``_checksums.txt``) every tarball or deb given is
    checked before it is unpacked; a mismatch stops the import before any write.
    """
    with tempfile.TemporaryDirectory(prefix="gpu-docker-import-") as work:
        debs = collect_debs(sources, Path(work), checksums)
        return import_packages(debs, dest_root)
