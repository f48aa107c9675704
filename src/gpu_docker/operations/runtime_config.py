"""The toolkit's config.toml (see :mod:`gpu_docker.runtime_config`, pure).

The same shape as daemon.json's merge: the file is read and merged when the operation
runs (after the install, whose postinst writes the file), written only when its parsed
content changes, atomically, the old bytes kept as a 0600 backup. Nothing is restarted.
"""

from __future__ import annotations

from collections.abc import Generator, Mapping
from typing import Any

from pyinfra import host, logger
from pyinfra.api import operation

from gpu_docker import sh
from gpu_docker.facts.files import RemoteFileText
from gpu_docker.files import temp_beside
from gpu_docker.operations.files import put_beside
from gpu_docker.operations.util import merged_text
from gpu_docker.runtime_config import CONFIG_PATH
from gpu_docker.toml_merge import TomlMergeError
from gpu_docker.toml_merge import merge as merge_toml


def warn(note: str) -> None:
    """One yellow ``gpu-docker:`` line, in previews and runs alike; nothing fails."""
    host.log_styled(f"gpu-docker: {note}", fg="yellow", log_func=logger.warning)


@operation()
def merge(owned: Mapping[str, Any], backup: str) -> Generator[Any, None, None]:
    """
    Merge the settings gpu-docker owns into the toolkit's config.toml, keeping the rest.

    + owned: nested tables of keys to set (``gpu_docker.runtime_config.owned``)
    + backup: suffix of the previous file's copy (``gpu_docker.files.backup_suffix``)

    Runs after the packages are installed: the base package's postinst creates the file
    (``nvidia-ctk config --in-place``), and this merge must see what it wrote. No engine
    restart follows: the runtime reads the file for each container it sets up.
    """
    current = host.get_fact(RemoteFileText, path=CONFIG_PATH)
    text = yield from merged_text(
        current.target,
        current.text,
        lambda found: merge_toml(found, owned),
        TomlMergeError,
        "already has the runtime settings",
    )
    if text is None:
        return
    if not host.state.is_executing:
        host.log("no restart needed: the runtime reads it for each new container")
    target = current.target
    temp = temp_beside(target)
    yield from put_beside(text, temp, target, current.parent_exists)
    yield sh.command("swap_in", temp, target, target + backup)
