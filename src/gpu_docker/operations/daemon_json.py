"""daemon.json: the owned settings merged in (a rollback puts a backup back with
:func:`gpu_docker.operations.files.restore`).

Docker is then made to pick the file up by ``gpu_docker.operations.docker.apply``. The
merge rules themselves are :mod:`gpu_docker.daemon_json` (pure).
"""

from __future__ import annotations

from collections.abc import Generator, Mapping
from pathlib import PurePosixPath
from typing import Any

from pyinfra.api import operation

from gpu_docker import daemon_json, sh
from gpu_docker.facts import host_state
from gpu_docker.facts.files import RemoteFileText
from gpu_docker.files import temp_beside
from gpu_docker.operations.files import put_beside
from gpu_docker.operations.util import merged_text


@operation()
def merge(path: str, owned: Mapping[str, Any], backup: str) -> Generator[Any, None, None]:
    """
    Merge the settings gpu-docker owns into daemon.json, keeping everything else.

    + path: daemon.json (a symlink is followed: the target is edited, the link stays)
    + owned: the object rendered from ``templates/daemon.json.j2``
    + backup: suffix of the backup copy of the previous file (``gpu_docker.files.backup_suffix``)

    Read and merged when the operation runs, so the merge sees the file as it is then.
    Written only when the parsed content changes: a temp file beside the target, owned by
    root and never looser than the file it replaces (``sh/swap_in.sh``), then an atomic
    rename; the old content is kept as ``<target><backup>``
    (mode 0600), or an ``.absent`` marker when there was no file, for rollback.
    A file we cannot merge is left untouched and the host fails with the reason.

    **Example:**

    .. code:: python

        daemon_json.merge(
            name="Merge the nvidia runtime into daemon.json",
            path="/etc/docker/daemon.json",
            owned={"runtimes": {"nvidia": {"path": "nvidia-container-runtime"}}},
            backup=backup_suffix(),
        )
    """
    current = host_state.read(RemoteFileText, path=path)
    text = yield from merged_text(
        current.target,
        current.text,
        lambda found: daemon_json.merge(found, owned),
        daemon_json.DaemonJsonError,
        "already has the owned settings",
    )
    if text is None:
        return
    target = str(PurePosixPath(current.target))
    temp = temp_beside(target)
    yield from put_beside(text, temp, target, current.parent_exists)
    yield sh.command("swap_in", temp, target, target + backup)
