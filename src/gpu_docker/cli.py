"""The ``gpu-docker`` command: one entry point, a subcommand per concern.

Each concern (``lab``, ``bundle``) registers its own subparser so that the modules
stay independent and this file stays a table of contents.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from gpu_docker import __version__, advisories_cli
from gpu_docker.bundle import cli as bundle_cli
from gpu_docker.lab import cli as lab_cli


def build_parser() -> argparse.ArgumentParser:
    """Build the top-level parser with every concern's subcommands attached."""
    parser = argparse.ArgumentParser(
        prog="gpu-docker",
        description="NVIDIA Container Toolkit for Docker hosts, as pyinfra code.",
    )
    parser.add_argument("--version", action="version", version=f"gpu-docker {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    lab_cli.register(sub)
    bundle_cli.register(sub)
    advisories_cli.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; each subcommand sets ``func`` and returns an exit code."""
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
