"""Rootless docker (``rootless_users``): what gpu-docker owns, and when it must refuse.

A rootless dockerd runs as its user, under ``systemctl --user``, reading
``~/.config/docker/daemon.json``. The runtime is registered there like in the system
daemon.json (the same merge, done as that user), and the toolkit's config.toml gets
``nvidia-container-cli.no-cgroups = true``: the unprivileged runtime cannot write device
cgroups, and without that key every ``--gpus`` container of a rootless docker fails.

**The conflict.** ``no-cgroups`` is global to the host: the CLI then grants no device
cgroup access for any engine. A rootful docker (or containerd) on the same host still
mounts the GPU device nodes through the legacy hook, but its containers' device cgroup no
longer allows them: ``nvidia-smi`` there fails ("Failed to initialize NVML: Unknown
Error" / "Insufficient Permissions") unless every run also passes ``--device
/dev/nvidia*``. gpu-docker's promise for a rootful engine is that ``--gpus all`` works,
so such a host is **refused** (one line, nothing changed) rather than warned about: a
warning scrolls by, the broken GPU containers come days later. The way out that keeps
both is CDI: with ``runtime_mode = "cdi"`` the runtime adds the devices to the container
spec itself and runc allows them in the device cgroup, independent of ``no-cgroups``;
that combination is accepted. A host whose system docker is neither running nor enabled
(the rootless setup Docker documents) is rootless-only and has no conflict.

Plain functions, no pyinfra import: unit-tested.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from gpu_docker import cdi, daemon_json
from gpu_docker.settings import Settings

DAEMON_JSON = ".config/docker/daemon.json"  # relative to the user's home


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


@dataclass(frozen=True)
class UserBackups:
    """A user's daemon.json backups, read as them: backup path -> its text (``None`` for
    an ``.absent`` marker: there was no file)."""

    target: str
    texts: dict[str, str | None]


def daemon_json_owned(settings: Settings, docker_version: str) -> dict[str, Any]:
    """What a rootless daemon.json gets: the runtime (and, if asked, as the default), and
    with ``cdi`` ``features.cdi`` where the dockerd (``docker_version``) reads it, as in the
    system daemon.json: rootless docker 25.0 to 28.1 refuses ``--device nvidia.com/gpu=all``
    without it.

    Not ``daemon_json_extra`` nor ``live-restore``: those are written for the system
    daemon, whose data-root, registries and restart behaviour are not the user's.
    """
    owned: dict[str, Any] = {
        "runtimes": {settings.runtime_name: {"path": settings.runtime_path, "args": []}}
    }
    if settings.set_default_runtime:
        owned["default-runtime"] = settings.runtime_name
    return {**owned, **cdi.daemon_json_owned(settings.cdi, docker_version)}


def rootless_only(settings: Settings, rootful_running: bool, rootful_enabled: bool) -> bool:
    """The host runs docker only rootless: the system docker is neither up nor enabled,
    so gpu-docker neither starts nor configures it."""
    return bool(settings.rootless_users) and not (rootful_running or rootful_enabled)


def conflict(settings: Settings, rootful_running: bool, rootful_enabled: bool) -> str | None:
    """Why ``no-cgroups`` would break another engine this host runs, or ``None``."""
    if not settings.rootless_users or settings.runtime_mode == "cdi":
        return None
    engines = []
    if settings.uses_docker and (rootful_running or rootful_enabled):
        engines.append("rootful docker")
    if settings.uses_containerd:
        engines.append("containerd")
    if not engines:
        return None
    return (
        f"rootless_users needs nvidia-container-cli.no-cgroups = true, which is global: "
        f"{' and '.join(engines)} on this host would then start GPU containers whose "
        "device cgroup denies the GPUs (NVML errors); set runtime_mode=cdi (with cdi=true) "
        "to serve both, or disable the system docker (rootless-only host)"
    )


def unconfigured(found: Sequence[str], settings: Settings) -> str | None:
    """The preflight line for a host where docker runs only rootless and gpu-docker was not
    told about it (instead of "docker is not installed/running")."""
    missing = [user for user in found if user not in settings.rootless_users]
    if not missing or settings.rootless_users:
        return None
    names = ", ".join(missing)
    return (
        f"docker runs only rootless here (for {names}), the system docker is not running: "
        f"set rootless_users={list(missing)!r} to configure it"
    )


def problems(settings: Settings, found: RootlessUser, docker_version: str) -> list[str]:
    """Why this user's rootless docker cannot get the runtime; found before any change."""
    if found.uid is None:
        return [f"rootless_users: there is no user {found.user!r} on this host"]
    if found.uid == 0:
        return [f"rootless_users: {found.user!r} is root, whose docker is the system docker"]
    try:
        daemon_json.merge(found.text, daemon_json_owned(settings, docker_version))
    except daemon_json.DaemonJsonError as exc:
        return [f"{found.target}: {exc}; left untouched, fix it and run again"]
    return []
