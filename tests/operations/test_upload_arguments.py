"""daemon.json's and the bundle debs' uploads run as the operation's user: ``_sudo``
reaches ``put_file``, and a failed one leaves no file behind.

pyinfra's ``FunctionCommand`` drops the operation's connector arguments; under ``_sudo``
the upload then ran as the SSH login user and failed on /etc/docker (seen on a sudo lab
host). The command daemon_json.merge yields must hand them on, to the clean-up too.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from fake_host import FakeHost, fact
from pyinfra.context import ctx_host, ctx_state
from pyinfra_testing.util import FakeState

from gpu_docker.bundle.manifest import BundleEntry
from gpu_docker.facts.dpkg import InstalledPackages, PackageSelections
from gpu_docker.facts.files import RemoteSha256
from gpu_docker.operations import dpkg
from gpu_docker.operations.files import upload_beside
from gpu_docker.operations.util import WithConnectorArguments

SUDO = {"_sudo": True, "_sudo_password": "pw"}
# What pyinfra's own upload command reads from the state.
PRINTING = SimpleNamespace(print_output=False, print_input=False)


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


class NoTempHost(RecordingHost):
    """A host whose temp directory must not be asked for (pyinfra reads a fact for it)."""

    def get_temp_filename(self, key: str) -> str:
        raise AssertionError("a root upload asked for a staging file")


def test_a_root_upload_writes_straight_to_its_temp_file_without_staging() -> None:
    host = NoTempHost(upload_ok=True)
    command = WithConnectorArguments(upload_beside, ("{}", "/etc/docker/.t", "/etc/docker/d"), {})
    command.execute(None, host, {})  # type: ignore[arg-type]
    assert host.calls == [("put_file", {})]
    assert host.staged == "/etc/docker/.t"


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


class StagingHost(RecordingHost):
    """A sudo upload that fails after pyinfra staged the file and wrote part of the target."""

    def put_file(self, source: Any, remote: str, **kwargs: Any) -> bool:
        super().put_file(source, remote, **kwargs)
        Path(self.staged).write_bytes(b"!<arch>")
        Path(remote).write_bytes(b"!<ar")
        return False


def test_a_failed_sudo_deb_upload_leaves_neither_partial_deb_nor_staging_file(
    tmp_path: Path,
) -> None:
    """The bundle's debs are uploaded as daemon.json is: pyinfra's own upload command left
    its staging file and the partial deb behind when the sudo copy failed."""
    (staging_dir := tmp_path / "tmp").mkdir()
    (cache := tmp_path / "cache").mkdir()
    (local := tmp_path / "libnvidia-container1_1.17.8-1_amd64.deb").write_bytes(b"!<arch>")
    entry = BundleEntry(
        file=local.name,
        package="libnvidia-container1",
        version="1.17.8-1",
        arch="amd64",
        size=7,
        sha256="1" * 64,
        order=1,
        depends="",
        directory=tmp_path,
    )
    facts = {
        fact(InstalledPackages, packages=["libnvidia-container1"]): {},
        fact(RemoteSha256, paths=[f"{cache}/{local.name}"]): {},
        fact(PackageSelections, packages=["libnvidia-container1"]): {},
    }
    with ctx_state.use(FakeState()), ctx_host.use(FakeHost(facts=facts, executing=True)):
        _, upload, _ = dpkg.install_bundle._inner(
            entries=[entry], remote_dir=str(cache), lock_timeout=300
        )
    host = StagingHost(upload_ok=False, temp_dir=str(staging_dir))
    assert upload.execute(PRINTING, host, dict(SUDO)) is False  # type: ignore[arg-type]
    assert host.calls[0] == ("put_file", SUDO)
    for command in host.commands:
        subprocess.run(["sh", "-c", command.get_raw_value()], check=True, capture_output=True)
    assert list(staging_dir.iterdir()) == [] and list(cache.iterdir()) == []
