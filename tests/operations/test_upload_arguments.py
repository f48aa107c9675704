"""daemon.json's upload runs as the operation's user: ``_sudo`` reaches ``put_file``.

pyinfra's ``FunctionCommand`` drops the operation's connector arguments; under ``_sudo``
the upload then ran as the SSH login user and failed on /etc/docker (seen on a sudo lab
host). The command daemon_json.merge yields must hand them on, to the clean-up too.
"""

from __future__ import annotations

from typing import Any

from gpu_docker.operations.files import upload_beside
from gpu_docker.operations.util import WithConnectorArguments

SUDO = {"_sudo": True, "_sudo_password": "pw"}


class RecordingHost:
    """Records the keyword arguments of put_file and run_shell_command."""

    def __init__(self, upload_ok: bool) -> None:
        self.upload_ok = upload_ok
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def put_file(self, *args: Any, **kwargs: Any) -> bool:
        self.calls.append(("put_file", kwargs))
        return self.upload_ok

    def run_shell_command(self, *args: Any, **kwargs: Any) -> tuple[bool, Any]:
        self.calls.append(("run_shell_command", kwargs))
        return False, None

    def log_styled(self, *args: Any, **kwargs: Any) -> None:
        pass


def _execute(upload_ok: bool) -> RecordingHost:
    host = RecordingHost(upload_ok)
    command = WithConnectorArguments(upload_beside, ("{}", "/etc/docker/.t", "/etc/docker/d"), {})
    command.execute(None, host, dict(SUDO))  # type: ignore[arg-type]
    return host


def test_the_upload_gets_the_operations_sudo_arguments() -> None:
    assert _execute(upload_ok=True).calls == [("put_file", SUDO)]


def test_the_clean_up_after_a_failed_upload_runs_under_sudo_too() -> None:
    assert _execute(upload_ok=False).calls == [("put_file", SUDO), ("run_shell_command", SUDO)]
