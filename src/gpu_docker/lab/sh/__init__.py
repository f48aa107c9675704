"""The shell the sandbox lab writes into its hosts or runs in their build chroot.

One file per script, shipped as package data and read with :mod:`importlib.resources`
like the scripts run on real hosts (``gpu_docker.sh``), so shellcheck reads them too
(``scripts/test.sh``). Values reach a script as positional arguments, never by editing its
text. Importing this module imports nothing else of the lab or pyinfra: ``boot`` runs in a
host's namespaces before anything else is there.
"""

from __future__ import annotations

import functools
from importlib.resources import files


@functools.cache
def text(name: str) -> str:
    """The script ``<name>.sh`` of this package."""
    return files(__name__).joinpath(f"{name}.sh").read_text(encoding="utf-8")
