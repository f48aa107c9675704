"""swap_in.sh, the atomic replace of daemon.json and the config.toml files, run for real on
files in a temp directory: the new file is root's and never looser than the one it
replaces; the old one is backed up 0600 with its mode and owner beside it."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from gpu_docker.sh import script

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="chown to root needs root")
NOBODY = 65534


def swap(tmp_path: Path, mode: int | None, uid: int = 0, gid: int = 0) -> Path:
    """Replace ``target`` (absent when ``mode`` is None) with a new file; return target."""
    target = tmp_path / "daemon.json"
    if mode is not None:
        target.write_text('{"old": true}\n')
        os.chown(target, uid, gid)
        target.chmod(mode)
    new = tmp_path / ".daemon.json.gpu-docker.tmp"
    new.write_text('{"new": true}\n')
    subprocess.run(
        ["sh", "-c", script("swap_in"), "gpu-docker", str(new), str(target), f"{target}.bak"],
        check=True,
    )
    assert target.read_text() == '{"new": true}\n'
    return target


def meta(path: Path) -> tuple[str, int, int]:
    found = path.stat()
    return oct(found.st_mode & 0o7777), found.st_uid, found.st_gid


@pytest.mark.parametrize(
    ("old_mode", "uid", "gid", "expected"),
    [
        (0o600, 0, 0, (oct(0o600), 0, 0)),  # may hold credentials: stays private
        (0o640, 0, 4, (oct(0o640), 0, 4)),  # root's file readable by a group: group kept
        (0o666, NOBODY, NOBODY, (oct(0o644), 0, 0)),  # world-writable, not root's: hardened
        (0o755, 0, 0, (oct(0o644), 0, 0)),  # no execute bit on a config file
    ],
)
def test_the_new_file_is_never_looser_than_the_old(tmp_path, old_mode, uid, gid, expected):
    target = swap(tmp_path, old_mode, uid, gid)
    assert meta(target) == expected
    backup = Path(f"{target}.bak")
    assert meta(backup) == (oct(0o600), 0, 0)
    assert backup.read_text() == '{"old": true}\n'
    assert Path(f"{target}.bak.mode").read_text() == f"{old_mode:o} {uid}:{gid}\n"


def test_a_new_file_is_0644_root(tmp_path):
    target = swap(tmp_path, None)
    assert meta(target) == (oct(0o644), 0, 0)
    assert Path(f"{target}.bak.absent").exists()
