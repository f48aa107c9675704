"""The shell gpu-docker runs on hosts: one file per script, shipped as package data.

A script travels inside its command (``sh -c SCRIPT gpu-docker ARGS...``): nothing is
uploaded first, and host data reaches it only as quoted positional arguments (``"$1"``),
so a path holding spaces or ``;`` in the settings cannot run a command. Keeping the
scripts as files is what lets shellcheck read them (``scripts/test.sh`` runs it). The
scripts answer in ``key=value`` lines, which :func:`key_values` reads back.

Every script runs in the C locale (:data:`C_LOCALE`, put first by :func:`inline`): the
scripts and the Python reading their output find apt's, dpkg's, systemctl's, journalctl's,
docker's and nvidia-smi's lines by their English words and quote them in the one-line
causes, and a host with ``LANG=zh_CN.UTF-8`` or ``LANGUAGE=zh_CN:zh`` in /etc/environment
would have them translated.
"""

from __future__ import annotations

import functools
from importlib.resources import files

from pyinfra.api import QuoteString, StringCommand


@functools.cache
def text(name: str) -> str:
    """The script ``<name>.sh`` of this package, read once per run."""
    return files(__name__).joinpath(f"{name}.sh").read_text(encoding="utf-8")


#: The first line of every script: messages, dates and numbers in the C locale for every
#: command it runs. gettext reads ``LANGUAGE`` before ``LC_ALL`` except in the C locale;
#: it is dropped all the same, for a program that reads it itself.
C_LOCALE = "LC_ALL=C; export LC_ALL; unset LANGUAGE\n"


def inline(script: str, *args: str) -> StringCommand:
    """``sh -c SCRIPT gpu-docker ARGS...`` with every piece quoted, in the C locale."""
    return StringCommand(
        "sh", "-c", QuoteString(C_LOCALE + script), "gpu-docker", *(QuoteString(a) for a in args)
    )


#: A script names the libraries (``lib_<name>.sh``: shell functions only) it needs on a
#: line of its own: ``# libs: dockerd probe``.
LIBS_LINE = "# libs:"


@functools.cache
def script(name: str) -> str:
    """The script ``<name>.sh`` with the libraries its ``# libs:`` line names sent ahead of
    it, so scripts share a function without a file on the host."""
    body = text(name)
    libs = next(
        (
            line[len(LIBS_LINE) :].split()
            for line in body.splitlines()
            if line.startswith(LIBS_LINE)
        ),
        [],
    )
    return "".join(text(f"lib_{lib}") for lib in libs) + body


def command(name: str, *args: str) -> StringCommand:
    """Run the packaged script ``<name>.sh`` (with its libraries) on the host, ``args`` as
    ``$1``..."""
    return inline(script(name), *args)


def key_values(output: list[str]) -> dict[str, list[str]]:
    """Lines of ``key=value`` into key -> values (a key may repeat, e.g. ``pkg``)."""
    found: dict[str, list[str]] = {}
    for line in output:
        key, sep, value = line.partition("=")
        if sep:
            found.setdefault(key, []).append(value)
    return found
