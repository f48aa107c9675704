"""daemon.json's upload runs as the operation's user: ``_sudo`` reaches ``put_file``.

pyinfra's ``FunctionCommand`` drops the operation's connector arguments; under ``_sudo``
the upload then ran as the SSH login user and failed on /etc/docker (seen on a sudo lab
host). The command daemon_json.merge yields must hand them on, to the clean-up too.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from gpu_docker.operations.files import upload_beside
from gpu_docker.operations.util import WithConnectorArguments

SUDO = {"_sudo": True, "_sudo_password": "pw"}


class RecordingHost:
    """Records the keyword arguments of put_file and run_shell_command."""

    def __init__(self, upload_ok: bool, temp_dir: str = "/tmp") -> None:
        self.upload_ok = upload_ok
        self.temp_dir = temp_dir
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.commands: list[Any] = []

    def get_temp_filename(self, key: str) -> str:
        return f"{self.temp_dir}/pyinfra-staged"

    def put_file(self, *args: Any, **kwargs: Any) -> bool:
        self.calls.append(("put_file", {k: v for k, v in kwargs.items() if k.startswith("_")}))
        self.staged = kwargs.get("remote_temp_filename")
        return self.upload_ok

    def run_shell_command(self, command: Any, **kwargs: Any) -> tuple[bool, Any]:
        self.calls.append(("run_shell_command", kwargs))
        self.commands.append(command)
        return False, None

    def log_styled(self, *args: Any, **kwargs: Any) -> None:
        pass


def _execute(
    upload_ok: bool, temp_dir: str = "/tmp", temp: str = "/etc/docker/.t"
) -> RecordingHost:
    host = RecordingHost(upload_ok, temp_dir)
    command = WithConnectorArguments(upload_beside, ("{}", temp, "/etc/docker/d"), {})
    command.execute(None, host, dict(SUDO))  # type: ignore[arg-type]
    return host


def test_the_upload_gets_the_operations_sudo_arguments() -> None:
    assert _execute(upload_ok=True).calls == [("put_file", SUDO)]


def test_the_clean_up_after_a_failed_upload_runs_under_sudo_too() -> None:
    assert _execute(upload_ok=False).calls == [("put_file", SUDO), ("run_shell_command", SUDO)]


def test_a_failed_sudo_upload_leaves_neither_temp_nor_staging_file(tmp_path: Path) -> None:
    """pyinfra stages a sudo upload in its temp directory and removes that file only after
    a good copy: the clean-up removes it with the partial temp file beside the target."""
    temp = tmp_path / "etc" / ".daemon.json.tmp"
    temp.parent.mkdir()
    host = _execute(upload_ok=False, temp_dir=str(tmp_path), temp=str(temp))
    assert host.staged == f"{tmp_path}/pyinfra-staged"
    Path(host.staged).write_text("{")  # what the failed copy left
    temp.write_text("{")
    (cleanup,) = host.commands
    subprocess.run(["sh", "-c", cleanup.get_raw_value()], check=True, capture_output=True)
    assert not Path(host.staged).exists() and not temp.exists()
