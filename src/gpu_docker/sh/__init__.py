"""The shell gpu-docker runs on hosts: one file per script, shipped as package data.

A script travels inside its command (``sh -c SCRIPT gpu-docker ARGS...``): nothing is
uploaded first, and host data reaches it only as quoted positional arguments (``"$1"``),
so a path holding spaces or ``;`` in the settings cannot run a command. Keeping the
scripts as files is what lets shellcheck read them (``scripts/test.sh`` runs it). The
scripts answer in ``key=value`` lines, which :func:`key_values` reads back.
"""

from __future__ import annotations

import functools
from importlib.resources import files

from pyinfra.api import QuoteString, StringCommand


@functools.cache
def text(name: str) -> str:
    """The script ``<name>.sh`` of this package, read once per run."""
    return files(__name__).joinpath(f"{name}.sh").read_text(encoding="utf-8")


def inline(script: str, *args: str) -> StringCommand:
    """``sh -c SCRIPT gpu-docker ARGS...`` with every piece quoted."""
    return StringCommand(
        "sh", "-c", QuoteString(script), "gpu-docker", *(QuoteString(a) for a in args)
    )


def command(name: str, *args: str, libs: tuple[str, ...] = ()) -> StringCommand:
    """Run the packaged script ``<name>.sh`` on the host with ``args`` as ``$1``...

    ``libs`` name ``lib_<lib>.sh`` files (shell functions only) sent ahead of the script,
    so two scripts can share a function without a file on the host.
    """
    return inline("".join(text(f"lib_{lib}") for lib in libs) + text(name), *args)


def key_values(output: list[str]) -> dict[str, list[str]]:
    """Lines of ``key=value`` into key -> values (a key may repeat, e.g. ``pkg``)."""
    found: dict[str, list[str]] = {}
    for line in output:
        key, sep, value = line.partition("=")
        if sep:
            found.setdefault(key, []).append(value)
    return found
