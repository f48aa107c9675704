"""``gpu-docker bundle``: import, verify, list and fetch offline bundles.

Every failure an operator can cause prints one line (per bad file, for verify) to
stderr and returns an exit code: 1 when a bundle fails verification, 2 for any other
error. No traceback reaches the operator.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from debian.debian_support import Version

from gpu_docker.bundle.errors import BundleError
from gpu_docker.bundle.fetch import DEFAULT_BASE_URL, fetch_release
from gpu_docker.bundle.importer import ImportResult, import_sources
from gpu_docker.bundle.manifest import (
    MANIFEST_NAME,
    Manifest,
    bundle_directories,
    read_manifest,
    upstream_version,
    verify_bundle,
)

DEFAULT_BUNDLE_DIR = Path("files/debs")
EXIT_VERIFY_FAILED = 1
EXIT_ERROR = 2


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Attach ``bundle`` and its subcommands to the top-level parser."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--bundle-dir",
        type=Path,
        default=DEFAULT_BUNDLE_DIR,
        metavar="DIR",
        help="bundle root holding <version>/<arch>/ (default: files/debs)",
    )
    bundle = subparsers.add_parser(
        "bundle",
        help="offline bundles of NVIDIA Container Toolkit debs",
        description="Build and check offline bundles for hosts behind a firewall.",
    )
    sub = bundle.add_subparsers(dest="bundle_command", required=True)

    imp = sub.add_parser(
        "import",
        parents=[common],
        help="import NVIDIA's release tarball, a directory of debs, or loose debs",
    )
    imp.add_argument("sources", nargs="+", type=Path, metavar="TARBALL")
    imp.add_argument(
        "--checksums", type=Path, metavar="FILE", help="NVIDIA's _checksums.txt to check against"
    )
    imp.set_defaults(func=_guard(_cmd_import))

    ver = sub.add_parser("verify", parents=[common], help="re-check bundles against manifests")
    ver.add_argument("version", nargs="?", metavar="VERSION", help="only this version")
    ver.set_defaults(func=_guard(_cmd_verify))

    lst = sub.add_parser("list", parents=[common], help="bundles present, sizes, completeness")
    lst.set_defaults(func=_guard(_cmd_list))

    fetch = sub.add_parser(
        "fetch", parents=[common], help="download a release from NVIDIA (or a mirror) and import it"
    )
    fetch.add_argument("version", metavar="VERSION")
    fetch.add_argument("--arch", default="amd64", help="deb architecture (default: amd64)")
    fetch.add_argument(
        "--base-url",
        default=DEFAULT_BASE_URL,
        metavar="URL",
        help="where the release assets are; {version} is filled in (default: NVIDIA's GitHub)",
    )
    fetch.set_defaults(func=_guard(_cmd_fetch))


def _guard(command: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Turn a BundleError into one line on stderr and exit code 2."""

    def run(args: argparse.Namespace) -> int:
        try:
            return command(args)
        except BundleError as exc:
            print(f"gpu-docker bundle {args.bundle_command}: error: {exc}", file=sys.stderr)
            return EXIT_ERROR

    return run


def _existing_root(args: argparse.Namespace) -> Path:
    """The bundle root, which verify and list need to exist."""
    root: Path = args.bundle_dir
    if not root.is_dir():
        raise BundleError(f"bundle directory {root.absolute()} does not exist")
    return root


def _report_import(result: ImportResult) -> int:
    """Tell the operator what landed where."""
    m = result.manifest
    if result.changed:
        print(f"imported {m.version}/{m.arch}: {len(m.entries)} packages into {m.directory}")
        for entry in m.entries:
            print(f"  {entry.order + 1}. {entry.file}")
        print(f"host must already have: {', '.join(m.external_depends) or 'nothing'}")
    else:
        print(
            f"{m.version}/{m.arch} already present and verified in {m.directory}; nothing changed"
        )
    if result.skipped:
        print(f"skipped (not needed on a runtime host): {', '.join(result.skipped)}")
    return 0


def _cmd_import(args: argparse.Namespace) -> int:
    """``bundle import``."""
    return _report_import(import_sources(args.sources, args.bundle_dir, args.checksums))


def _cmd_fetch(args: argparse.Namespace) -> int:
    """``bundle fetch``."""
    return _report_import(fetch_release(args.version, args.arch, args.bundle_dir, args.base_url))


def _sort_key(directory: Path) -> tuple[Version, str]:
    """Order bundles by Debian version, then architecture."""
    try:
        return Version(directory.parent.name), directory.name
    except ValueError:
        return Version("0"), directory.name


def _load(directory: Path) -> tuple[Manifest | None, list[str]]:
    """A bundle's manifest and its problems (empty when it verifies)."""
    try:
        manifest = read_manifest(directory / MANIFEST_NAME)
    except BundleError as exc:
        return None, list(exc.problems)
    try:
        verify_bundle(manifest)
    except BundleError as exc:
        return manifest, list(exc.problems)
    return manifest, []


def _cmd_verify(args: argparse.Namespace) -> int:
    """``bundle verify [VERSION]``."""
    root = _existing_root(args)
    directories = sorted(bundle_directories(root), key=_sort_key)
    if args.version:
        wanted = upstream_version(args.version)
        directories = [d for d in directories if d.parent.name == wanted]
        if not directories:
            print(f"no bundle for version {wanted} under {root.absolute()}", file=sys.stderr)
            return EXIT_VERIFY_FAILED
    if not directories:
        print(f"no bundles under {root.absolute()}")
        return 0
    failed = False
    for directory in directories:
        label = f"{directory.parent.name}/{directory.name}"
        manifest, problems = _load(directory)
        if problems:
            failed = True
            print(f"FAIL {label}", file=sys.stderr)
            for problem in problems:
                print(f"  {problem}", file=sys.stderr)
        elif manifest is not None:
            print(f"ok   {label}: {len(manifest.entries)} packages, {_size(manifest.total_size)}")
    return EXIT_VERIFY_FAILED if failed else 0


def _size(count: int) -> str:
    """Bytes in a short human form."""
    value = float(count)
    for unit in ("B", "KiB", "MiB"):
        if value < 1024:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"


def _cmd_list(args: argparse.Namespace) -> int:
    """``bundle list``."""
    root = _existing_root(args)
    rows = [("VERSION", "ARCH", "PACKAGES", "SIZE", "STATUS")]
    for directory in sorted(bundle_directories(root), key=_sort_key):
        manifest, problems = _load(directory)
        if problems:
            more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
            status = f"incomplete: {problems[0]}{more}"
        else:
            status = "complete"
        rows.append(
            (
                directory.parent.name,
                directory.name,
                str(len(manifest.entries)) if manifest else "-",
                _size(manifest.total_size) if manifest else "-",
                status,
            )
        )
    if len(rows) == 1:
        print(f"no bundles under {root.absolute()}")
        return 0
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row[:4], widths, strict=True)]
        print("  ".join([*cells, row[4]]))
    return 0
