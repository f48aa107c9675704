"""pyinfra fact and operations for rootless docker users (see :mod:`gpu_docker.rootless`).

Everything in a user's home runs **as that user** (``runuser``): their daemon.json may be a
link to anything, and root following it would read or replace files the user cannot. So
the file is read, written and backed up by the user, who owns it as before; its mode is
kept. Their docker is restarted through their own systemd manager (``systemctl --user``
with their ``XDG_RUNTIME_DIR``), only when their file or the toolkit changed.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass

from pyinfra import host, logger
from pyinfra.api import FactBase, QuoteString, StringCommand, operation
from pyinfra.api.operation import OperationMeta
from pyinfra.operations.util.files import generate_color_diff

from gpu_docker import daemon_json, operations, rootless, sh
from gpu_docker.settings import Settings


@dataclass(frozen=True)
class RootlessUser:
    """One user's rootless docker as found: ``uid`` ``None`` when there is no such user;
    ``unit`` is ``systemctl --user is-active docker.service`` (empty: no manager runs)."""

    user: str
    uid: int | None
    home: str
    target: str
    text: str | None
    mode: str
    unit: str

    @property
    def runtime_dir(self) -> str:
        return f"/run/user/{self.uid}"


class RootlessDocker(FactBase[RootlessUser]):
    """A user's uid, home, daemon.json (read as them) and docker.service state."""

    def command(self, user: str) -> StringCommand:
        self.user = user
        return sh.command("rootless_facts", user, rootless.DAEMON_JSON)

    def process(self, output: list[str]) -> RootlessUser:
        found: dict[str, str] = {}
        for line in output:
            key, sep, value = line.partition("=")
            if sep:
                found.setdefault(key, value.strip())
        text = None
        if "b64" in found:
            try:
                text = base64.b64decode(found["b64"]).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                text = "\x00"  # not UTF-8: the merge refuses it as not JSON
        uid = found.get("uid", "")
        home = found.get("home", "")
        return RootlessUser(
            user=self.user,
            uid=int(uid) if uid.isdigit() else None,
            home=home,
            target=found.get("target") or f"{home}/{rootless.DAEMON_JSON}",
            text=text,
            mode=found.get("mode", ""),
            unit=found.get("unit", ""),
        )


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


def problems(settings: Settings, found: RootlessUser) -> list[str]:
    """Why this user's rootless docker cannot get the runtime; found before any change."""
    if found.uid is None:
        return [f"rootless_users: there is no user {found.user!r} on this host"]
    if found.uid == 0:
        return [f"rootless_users: {found.user!r} is root, whose docker is the system docker"]
    try:
        daemon_json.merge(found.text, rootless.daemon_json_owned(settings))
    except daemon_json.DaemonJsonError as exc:
        return [f"{found.target}: {exc}; left untouched, fix it and run again"]
    return []


@operation()
def daemon_json_merge(settings: Settings, user: str, backup: str):
    """
    Merge the runtime into a rootless user's ``~/.config/docker/daemon.json``, as them.

    + settings: runtime name and path (and ``set_default_runtime``)
    + user: the login name from ``rootless_users``
    + backup: suffix of the previous file's copy (``operations.backup_suffix``)

    The same merge as the system daemon.json (every other key kept, written only when the
    parsed content changes), then an atomic rename done by the user: the file stays theirs,
    its mode kept; the old bytes are kept beside it (0600).
    """
    found = host.get_fact(RootlessDocker, user=user)
    try:
        result = daemon_json.merge(found.text, rootless.daemon_json_owned(settings))
    except daemon_json.DaemonJsonError as exc:
        yield from operations.fail._inner(
            f"{found.target}: {exc}; left untouched, fix it and run again"
        )
        return
    if not result.changed:
        host.noop(f"{found.target} already has the {settings.runtime_name} runtime")
        return
    if host.state.config.DIFF:
        host.log(f"Will {'modify' if found.text is not None else 'create'} {found.target}")
        old_lines = (found.text or "").splitlines(keepends=True)
        for line in generate_color_diff(old_lines, result.text.splitlines(keepends=True)):
            logger.info("  %s", line)
    encoded = base64.b64encode(result.text.encode()).decode()
    yield as_user(found, sh.command("rootless_write", encoded, found.target, backup))


@operation()
def apply_to_rootless_docker(
    changes: Sequence[OperationMeta], settings: Settings, user: str, backup: str
):
    """
    Restart a user's rootless docker when their daemon.json or the toolkit changed.

    + changes: the operations whose change calls for it (install, the user's daemon.json)
    + settings: runtime name, restart strategy and timeout
    + user: the login name
    + backup: this run's backup suffix, put back if their docker rejects the file

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
            settings.runtime_name,
            str(settings.restart_timeout),
        ),
    )


@operation()
def verify_rootless(user: str):
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
    yield as_user(found, sh.command("rootless_verify", user, libs=("probe",)))
