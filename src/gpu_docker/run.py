"""What each of gpu-docker's deploys does first on a host, when it runs (never on import).

A run's set-up is shared by every host: one backup stamp per controller run (so every
host's backups carry the same name), the guard that keeps one host's lost SSH connection
from ending the run for all (:mod:`gpu_docker.connection`), and the closing summary
(:mod:`gpu_docker.summary`). Each host's settings are read and validated from its data.
"""

from __future__ import annotations

import weakref

from pyinfra import host, state
from pyinfra.api.state import State

from gpu_docker import summary
from gpu_docker.connection import contain_connection_loss
from gpu_docker.files import backup_suffix
from gpu_docker.operations.util import fail
from gpu_docker.settings import Settings, SettingsError, load_settings

_RUN_STAMPS: weakref.WeakKeyDictionary[State, str] = weakref.WeakKeyDictionary()


def start(done: str) -> str:
    """Set up the run for this host: the SSH-loss guard, and the summary saying how many
    hosts ended ``done`` (``converged``, ``verified``...).

    Returns the backup suffix of this run (one per pyinfra state, shared by every host).
    """
    contain_connection_loss()
    backup = _RUN_STAMPS.setdefault(host.state, backup_suffix())
    summary.register(state, done)
    return backup


def host_settings() -> Settings:
    """This host's validated settings (group data, host data and ``--data`` combined)."""
    return load_settings(host.name, host.data.dict())


def settings_or_fail() -> Settings | None:
    """This host's settings, or ``None`` after failing the host with the bad key named."""
    try:
        return host_settings()
    except SettingsError as exc:
        fail(name="Check settings", message=exc.problem)
        return None
