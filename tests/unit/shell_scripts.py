"""Where the unit tests get gpu-docker's remote shell scripts from: this one place.

The scripts live as strings in ``gpu_docker.operations`` today; if they move (to
``src/gpu_docker/sh/*.sh``, say), only ``script`` changes.
"""

from __future__ import annotations

from gpu_docker import operations


def script(name: str) -> str:
    """The text of the remote script ``name`` (``apply`` or ``start_docker``)."""
    return {"apply": operations._APPLY, "start_docker": operations._START_DOCKER}[name]
