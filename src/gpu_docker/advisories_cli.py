"""``gpu-docker advisories [VERSION]``: which of NVIDIA's security bulletins hit a toolkit
version, before it is pinned across a fleet.

Exit codes: 0 when no bulletin affects VERSION (or when listing them all), 1 when any
does (so a CI job can gate a pin change on it), 2 for a VERSION that is not a version.
"""

from __future__ import annotations

import argparse
import json
import sys

from gpu_docker import advisories, toolkit
from gpu_docker.advisories import AdvisoryError, Bulletin

EXIT_AFFECTED = 1
EXIT_ERROR = 2


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Attach ``advisories`` to the top-level parser."""
    parser = subparsers.add_parser(
        "advisories",
        help="NVIDIA security bulletins affecting a toolkit version",
        description=(
            "Print NVIDIA's security bulletins that affect toolkit VERSION (exit 1 if any, "
            "0 if none), or every bulletin in the table without VERSION."
        ),
    )
    parser.add_argument("version", nargs="?", metavar="VERSION", help="e.g. 1.17.8 or 1.17.8-1")
    parser.add_argument("--json", action="store_true", help="print the CVEs as JSON")
    parser.set_defaults(func=_run)


def _checked() -> str:
    return (
        f"table checked {advisories.CHECKED.isoformat()} against NVIDIA's bulletins "
        f"published up to {advisories.SOURCE_AS_OF.isoformat()}"
    )


def _lines(bulletin: Bulletin) -> list[str]:
    lines = [f"  {cve.id}  CVSS {cve.cvss:<4}  {cve.summary}" for cve in bulletin.cves]
    lines.append(
        f"    {bulletin.title} ({bulletin.published.isoformat()}): affected up to "
        f"{bulletin.last_affected}, fixed in {bulletin.fixed}; {bulletin.url}"
    )
    if bulletin.note:
        lines.append(f"    note: {bulletin.note}")
    return lines


def _run(args: argparse.Namespace) -> int:
    if args.version is None:
        found = list(advisories.BULLETINS)
    else:
        try:
            found = advisories.affecting(args.version)
        except AdvisoryError as exc:
            print(f"gpu-docker advisories: {exc}", file=sys.stderr)
            return EXIT_ERROR
    if args.json:
        print(json.dumps({"version": args.version, "cves": advisories.records(found)}, indent=2))
    elif args.version is None:
        print(f"NVIDIA Container Toolkit security bulletins ({_checked()}):")
        for bulletin in found:
            print("\n".join(_lines(bulletin)))
    elif found:
        print(advisories.summary(args.version, found) + f" ({_checked()}):")
        for bulletin in found:
            print("\n".join(_lines(bulletin)))
    else:
        print(
            f"toolkit {toolkit.upstream_version(args.version)}: no NVIDIA security bulletin "
            f"affects it ({_checked()})"
        )
    return EXIT_AFFECTED if found and args.version is not None else 0
