"""Files gpu-docker writes on the host: small config files it owns, and the atomic upload
beside a file it replaces (see ``gpu_docker.operations.daemon_json`` and ``.containerd``)."""

from __future__ import annotations

from io import StringIO
from pathlib import PurePosixPath

from pyinfra import logger
from pyinfra.api.arguments import ConnectorArguments
from pyinfra.api.host import Host
from pyinfra.api.operation import OperationMeta
from pyinfra.api.state import State
from pyinfra.operations import files

from gpu_docker import sh


def root_file(name: str, dest: str, content: str) -> OperationMeta:
    """A small config file we own: root-owned, 0644, diffed in previews (pyinfra's
    ``files.put``, named ``name``)."""
    return files.put(
        name=name, src=StringIO(content), dest=dest, user="root", group="root", mode="644"
    )


def upload_beside(
    state: State, host: Host, text: str, temp: str, target: str, arguments: ConnectorArguments
) -> bool:
    """Upload the new file to ``temp``, beside its target, or fail the host cleanly.

    Run through ``util.WithConnectorArguments``. An upload that fails (a full disk, most
    often) would leave a truncated temp file and pyinfra's "size mismatch in put!";
    instead the partial file is removed, the target is untouched, and the one line
    printed says why, with the free space left.
    """
    try:
        if host.put_file(StringIO(text), temp, **arguments):
            return True
        error = "the upload failed"
    except OSError as exc:
        error = str(exc)
    parent = str(PurePosixPath(target).parent)
    ok, output = host.run_shell_command(sh.command("upload_failed", temp, parent), **arguments)
    free = output.stdout.strip() if ok else ""
    needed = len(text.encode())
    if free.isdigit() and int(free) * 1024 < needed:
        cause = (
            f"no space left on the device holding {parent} ({free} KiB free, {needed} bytes needed)"
        )
    else:
        cause = f"could not write {temp} ({error})"
    host.log_styled(
        f"gpu-docker: {cause}; {target} left untouched", fg="red", log_func=logger.error
    )
    return False
