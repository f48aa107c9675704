"""A host whose SSH connection dies mid-run must fail alone, not end the whole run.

pyinfra 3.10 turns a command's ``OSError``/``SSHException`` into that host's failure, but
when sshd dies under an open connection paramiko raises ``EOFError`` from
``open_session``, which escapes pyinfra's handlers: the greenlet dies and the run ends
with "An internal exception occurred" for every host (seen on the lab: sshd killed on one
host stopped all the others mid-install). :func:`contain_connection_loss` wraps the SSH
connector's I/O methods so that error becomes an ``SSHException`` naming the host.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from paramiko import SSHException
from pyinfra.connectors.ssh import SSHConnector

_WRAPPED = "_gpu_docker_contains_eof"


def _contained(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def wrapper(self: SSHConnector, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except EOFError:
            raise SSHException(
                f"the SSH connection to {self.host.name} was lost (EOF from the server)"
            ) from None

    setattr(wrapper, _WRAPPED, True)
    return wrapper


def contain_connection_loss() -> None:
    """Patch the SSH connector once per process (idempotent)."""
    for name in ("run_shell_command", "put_file", "get_file"):
        method = getattr(SSHConnector, name)
        if not getattr(method, _WRAPPED, False):
            setattr(SSHConnector, name, _contained(method))
