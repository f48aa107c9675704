"""Files gpu-docker writes on the host: small config files it owns, the atomic upload
beside a file it replaces (see ``gpu_docker.operations.daemon_json`` and ``.containerd``),
and a rollback putting such a file's backup back."""

from __future__ import annotations

from collections.abc import Generator, Iterator
from io import StringIO
from pathlib import Path, PurePosixPath
from typing import Any

from pyinfra import host, logger
from pyinfra.api import QuoteString, StringCommand, operation
from pyinfra.api.arguments import ConnectorArguments
from pyinfra.api.host import Host
from pyinfra.api.state import State

from gpu_docker import sh
from gpu_docker.facts import host_state
from gpu_docker.facts.files import FileBackups, RemoteFileText
from gpu_docker.facts.host_state import fact_key
from gpu_docker.files import RollbackError, parse_backups, pick_backup, temp_beside
from gpu_docker.operations.util import WithConnectorArguments, fail, preview_diff, write_headline

#: What ``root_file`` leaves: mode, owner and group as ``stat -c '%a %U %G'`` prints them.
ROOT_FILE_META = "644 root root"
#: The connector arguments under which pyinfra uploads to a staging file and copies it
#: into place as the other user (its SSH connector's ``put_file``).
ELEVATING = ("_sudo", "_doas", "_dzdo", "_su_user")


@operation()
def root_file(dest: str, content: str) -> Generator[Any, None, None]:
    """
    A small config file gpu-docker owns: exactly ``content``, mode 0644, owned by root.

    + dest: the file (a symlink is followed: the target is written, the link stays)
    + content: the file's whole text

    pyinfra's ``files.put`` reads three facts for this (file, directory, checksum): three
    round trips on every run. This reads one, which the converge's single read of the host
    already holds (``gpu_docker.facts.host_state``). Written only when the content, mode
    or owner differ: a temp file beside the target, then an atomic rename; the preview
    shows the diff.

    **Example:**

    .. code:: python

        root_file(
            name="Pin the toolkit packages to the version",
            dest="/etc/apt/preferences.d/nvidia-container-toolkit",
            content=toolkit.apt_pin("1.17.8-1"),
        )
    """
    current = host_state.read(RemoteFileText, path=dest)
    if current.text == content and current.meta == ROOT_FILE_META:
        host.noop(f"{current.target} is up to date")
        return
    preview_diff(write_headline(current.target, current.text is not None), current.text, content)
    host_state.confine([fact_key(RemoteFileText, {"path": dest})])
    target = current.target
    temp = temp_beside(target)
    yield from put_beside(content, temp, target, current.parent_exists)
    yield sh.inline('chmod 644 "$1" && chown root:root "$1" && mv -f "$1" "$2"', temp, target)


def put_beside(text: str, temp: str, target: str, parent_exists: bool) -> Iterator[Any]:
    """The commands uploading ``text`` to ``temp`` beside ``target``: its directory made
    first unless the host's read found it (one round trip fewer on every write)."""
    if not parent_exists:
        yield StringCommand("mkdir", "-p", QuoteString(str(PurePosixPath(target).parent)))
    yield WithConnectorArguments(upload_beside, (text, temp, target), {})


def upload_beside(
    state: State, host: Host, text: str, temp: str, target: str, arguments: ConnectorArguments
) -> bool:
    """Upload the new file to ``temp``, beside its target, or fail the host cleanly.

    Run through ``util.WithConnectorArguments``. An upload that fails (a full disk, most
    often) would leave a truncated temp file and pyinfra's "size mismatch in put!";
    instead the partial file is removed (see ``_put``), the target is untouched, and the
    one line printed says why, with the free space left.
    """
    cause = _put(host, StringIO(text), len(text.encode()), temp, arguments)
    if cause is None:
        return True
    host.log_styled(
        f"gpu-docker: {cause}; {target} left untouched", fg="red", log_func=logger.error
    )
    return False


def upload_deb(
    state: State, host: Host, local: str, remote: str, arguments: ConnectorArguments
) -> bool:
    """Upload an offline bundle's deb to the host's cache, or fail the host cleanly.

    Run through ``util.WithConnectorArguments``, as ``upload_beside``: a failed upload
    leaves neither a partial deb in the cache nor pyinfra's staging file of a sudo upload
    (pyinfra's own ``FileUploadCommand`` left both), and says why in one line.
    """
    cause = _put(host, local, Path(local).stat().st_size, remote, arguments)
    if cause is None:
        return True
    host.log_styled(f"gpu-docker: {cause}; nothing installed", fg="red", log_func=logger.error)
    return False


def _put(
    host: Host, source: str | StringIO, size: int, remote: str, arguments: ConnectorArguments
) -> str | None:
    """Upload ``source`` (a local file or text) of ``size`` bytes to ``remote``: ``None``
    when it is there, else the cause, with what the failed upload left removed.

    Under ``_sudo`` pyinfra first uploads as the login user to a staging file in its temp
    directory and copies that with sudo; it removes that file only after a good copy, so
    the staging file is named here and removed with the partial one.
    """
    # Only an elevated upload stages: asking for a temp name reads pyinfra's TmpDir fact,
    # one round trip that a root login has no use for.
    elevated = any(arguments.get(name) for name in ELEVATING)
    staging = host.get_temp_filename(remote) if elevated else remote
    try:
        if host.put_file(source, remote, remote_temp_filename=staging, **arguments):
            return None
        error = "the upload failed"
    except OSError as exc:
        error = str(exc)
    parent = str(PurePosixPath(remote).parent)
    cleanup = sh.command("upload_failed", remote, parent, staging)
    ok, output = host.run_shell_command(cleanup, **arguments)
    free = output.stdout.strip() if ok else ""
    if free.isdigit() and int(free) * 1024 < size:
        return (
            f"no space left on the device holding {parent} ({free} KiB free, {size} bytes needed)"
        )
    return f"could not write {remote} ({error})"


@operation()
def restore(path: str, wanted: str, keep: str, required: bool = True) -> Generator[Any, None, None]:
    """
    Put back a file (daemon.json, containerd's or the toolkit's config.toml) that a
    gpu-docker run replaced, from the backup that run left beside it.

    + path: the file (a symlink is followed)
    + wanted: ``latest`` or the stamp of the run whose backup to restore
    + keep: suffix of the copy of the current file kept first (``<target><keep>``, its mode
      in ``.mode``), which the engine's apply puts back if it does not come back
    + required: no backup fails the host (daemon.json: the rollback's reason to run);
      otherwise that is said and nothing is done (a file the run never changed)

    The backup's bytes are put back exactly, with the mode and owner kept beside it; an
    ``.absent`` backup means there was no file, so it is removed. Nothing is written when
    the file already is the backup.
    """
    listing = host_state.read(FileBackups, path=path)
    try:
        backup = pick_backup(listing.target, parse_backups(listing.target, listing.paths), wanted)
    except RollbackError as exc:
        if required:
            yield from fail._inner(str(exc))
        else:  # said in the run too, not only with -v: the operator asked for this file
            host.log(str(exc))
        return
    current = host_state.read(RemoteFileText, path=path).text
    old = None if backup.absent else host_state.read(RemoteFileText, path=backup.path).text
    if current == old:
        host.noop(f"{listing.target} already is the backup from {backup.stamp}")
        return
    verb = "remove" if old is None else "restore"
    preview_diff(f"Will {verb} {listing.target} (backup from {backup.stamp})", current, old)
    yield sh.command("restore", listing.target, backup.path, listing.target + keep)
