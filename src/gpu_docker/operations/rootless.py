"""Rootless docker users (``rootless_users``): their daemon.json merged, their docker
restarted through ``systemctl --user``, ``--gpus all`` verified in it. The rules are
:mod:`gpu_docker.rootless` (pure).

Everything in a user's home runs **as that user** (``runuser``): their daemon.json may be a
link to anything, and root following it would read or replace files the user cannot. So
the file is read, written and backed up by the user, who owns it as before; its mode is
kept. Their docker is restarted through their own systemd manager (``systemctl --user``
with their ``XDG_RUNTIME_DIR``), only when their file or the toolkit changed.
"""

from __future__ import annotations

import base64
from collections.abc import Generator, Sequence
from typing import Any

from pyinfra import host
from pyinfra.api import QuoteString, StringCommand, operation
from pyinfra.api.operation import OperationMeta

from gpu_docker import daemon_json, rootless, sh
from gpu_docker.facts.rootless import RootlessBackups, RootlessDocker
from gpu_docker.files import RollbackError, parse_backups, pick_backup
from gpu_docker.operations.util import merged_text, preview_diff
from gpu_docker.rootless import RootlessUser
from gpu_docker.settings import Settings


def as_user(found: RootlessUser, command: StringCommand) -> StringCommand:
    """``command`` run as the user, with their runtime dir and their docker's socket."""
    return StringCommand(
        "runuser",
        "-u",
        QuoteString(found.user),
        "--",
        "env",
        QuoteString(f"HOME={found.home}"),
        QuoteString(f"XDG_RUNTIME_DIR={found.runtime_dir}"),
        QuoteString(f"DOCKER_HOST=unix://{found.runtime_dir}/docker.sock"),
        command,
    )


@operation()
def merge(
    settings: Settings, user: str, backup: str, docker_version: str
) -> Generator[Any, None, None]:
    """
    Merge the runtime into a rootless user's ``~/.config/docker/daemon.json``, as them.

    + settings: runtime name and path (and ``set_default_runtime``)
    + user: the login name from ``rootless_users``
    + backup: suffix of the previous file's copy (``gpu_docker.files.backup_suffix``)
    + docker_version: the dockerd's version (``features.cdi`` with ``cdi`` on 25+)

    The same merge as the system daemon.json (every other key kept, written only when the
    parsed content changes), then an atomic rename done by the user: the file stays theirs,
    its mode kept; the old bytes are kept beside it (0600).
    """
    found = host.get_fact(RootlessDocker, user=user)
    text = yield from merged_text(
        found.target,
        found.text,
        lambda current: daemon_json.merge(
            current, rootless.daemon_json_owned(settings, docker_version)
        ),
        daemon_json.DaemonJsonError,
        f"already has the {settings.runtime_name} runtime",
    )
    if text is None:
        return
    encoded = base64.b64encode(text.encode()).decode()
    yield as_user(found, sh.command("rootless_write", encoded, found.target, backup))


@operation()
def restore(user: str, wanted: str, keep: str) -> Generator[Any, None, None]:
    """
    Put back a rootless user's daemon.json from the backup a gpu-docker run left, as them.

    + user: the login name from ``rootless_users``
    + wanted: ``latest`` or the stamp of the run whose backup to restore
    + keep: suffix of the copy of the current file kept first (``<target><keep>``), which
      :func:`apply` puts back if their docker does not come back

    The same picking and restore as the system files (:func:`gpu_docker.operations.files.restore`),
    run by the user: the file stays theirs, with the mode it had (kept beside the backup;
    a backup from before that was kept gets the current file's mode). No user or no
    backup: nothing to do, said.
    """
    found = host.get_fact(RootlessDocker, user=user)
    if found.uid is None:
        host.log(f"there is no user {user!r} on this host: nothing to roll back")
        return
    listing = host.get_fact(RootlessBackups, user=user, target=found.target)
    try:
        backup = pick_backup(listing.target, parse_backups(listing.target, listing.texts), wanted)
    except RollbackError as exc:  # said in the run too, not only with -v
        host.log(str(exc))
        return
    old = listing.texts[backup.path]
    if found.text == old:
        host.noop(f"{listing.target} already is the backup from {backup.stamp}")
        return
    verb = "remove" if old is None else "restore"
    preview_diff(f"Will {verb} {listing.target} (backup from {backup.stamp})", found.text, old)
    fallback = found.mode or "644"
    yield as_user(
        found,
        sh.command("restore", listing.target, backup.path, listing.target + keep, fallback),
    )


@operation()
def apply(
    changes: Sequence[OperationMeta],
    settings: Settings,
    user: str,
    backup: str,
    runtime_name: str | None = None,
) -> Generator[Any, None, None]:
    """
    Restart a user's rootless docker when their daemon.json or the toolkit changed.

    + changes: the operations whose change calls for it (install, the user's daemon.json)
    + settings: runtime name, restart strategy and timeout
    + user: the login name
    + backup: this run's backup suffix, put back if their docker rejects the file
    + runtime_name: the runtime their docker must list once restarted (default: the
      settings'); ``""`` after a rollback, which only needs it to answer

    Through their systemd manager, as them. ``never`` reports the restart pending; a docker
    that is not running is not started (it reads the file when it starts), nor is one
    whose user has no systemd manager running (``loginctl enable-linger`` keeps one).
    """
    if not any(meta.changed for meta in changes):
        host.noop(f"nothing changed: {user}'s rootless docker left running")
        return
    found = host.get_fact(RootlessDocker, user=user)
    if not found.unit:
        host.log(
            f"{user} has no systemd manager running (loginctl enable-linger {user}): "
            "their docker reads the file when it starts"
        )
        return
    if found.unit != "active":
        host.noop(f"{user}'s rootless docker is {found.unit}: it reads the file when it starts")
        return
    if settings.restart_strategy == "never":
        host.log_styled(
            f"gpu-docker: {user}'s rootless docker restart pending (restart_strategy=never)",
            fg="yellow",
        )
        return
    if not host.state.is_executing:
        host.log(f"{user}'s rootless docker will be restarted (systemctl --user)")
    yield as_user(
        found,
        sh.command(
            "rootless_apply",
            user,
            found.target,
            backup,
            settings.runtime_name if runtime_name is None else runtime_name,
            str(settings.restart_timeout),
        ),
    )


@operation()
def verify(user: str) -> Generator[Any, None, None]:
    """
    ``docker run --gpus all`` in a user's rootless docker, as them, on the probe image.

    + user: the login name

    A docker that is not running is reported, not started.
    """
    if not host.state.is_executing:
        host.noop("verification runs once the changes are applied")
        return
    found = host.get_fact(RootlessDocker, user=user)
    if found.unit != "active":
        host.log(f"{user}'s rootless docker is not running: not verified")
        return
    yield as_user(found, sh.command("rootless_verify", user))
