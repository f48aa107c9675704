"""containerd_apply.sh quotes only what containerd logged since its restart.

The script runs (``gpu_docker.sh.script``) with stubs first on PATH: ``ctr`` answers while
containerd is up, ``systemctl restart`` brings it up unless the config holds ``bogus``
(then it stays down, logging today's cause when the test asks), and ``journalctl`` keeps
``--since`` as the real one does.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from gpu_docker.sh import script

BACKUP = ".gpu-docker-20250101T000000Z.bak"
STUBS = {
    "ctr": '[ -f "$S/up" ]\n',
    "systemctl": """case "$1" in
    restart)
        if grep -q bogus "$CONF"; then
            rm -f "$S/up"
            [ -f "$S/says" ] && echo "C $(date +%s) level=error msg=\\"today's cause\\"" >> "$S/journal"
            exit 1
        fi
        touch "$S/up" ;;
esac
""",
    "journalctl": """case "$*" in *_SYSTEMD_UNIT=containerd.service*) ;; *) exit 2 ;; esac
since=0 prev=""
for arg in "$@"; do
    [ "$prev" = --since ] && since=$(date -d "$arg" +%s)
    prev=$arg
done
while read -r tag when line; do
    [ "$when" -ge "$since" ] && echo "$line"
done < "$S/journal"
""",
}


@pytest.fixture
def host(tmp_path: Path) -> Path:
    """containerd up with a config it cannot start with, the good one as the backup, and a
    journal holding last week's failure."""
    (bin_dir := tmp_path / "bin").mkdir()
    for name, body in STUBS.items():
        (bin_dir / name).write_text(f"#!/bin/sh\n{body}")
        (bin_dir / name).chmod(0o755)
    (tmp_path / "up").touch()
    (tmp_path / "config.toml").write_text("bogus = true\n")
    Path(f"{tmp_path}/config.toml{BACKUP}").write_text("version = 2\n")
    Path(f"{tmp_path}/config.toml{BACKUP}.mode").write_text("600\n")
    day_ago = int(time.time()) - 86400
    (tmp_path / "journal").write_text(f'C {day_ago} level=error msg="last week\'s cause"\n')
    return tmp_path


def _apply(host: Path) -> str:
    done = subprocess.run(
        [
            "sh",
            "-c",
            script("containerd_apply"),
            "gpu-docker",
            str(host / "config.toml"),
            BACKUP,
            "/run/containerd/containerd.sock",
            "1",
            "systemd",
        ],
        env={
            "PATH": f"{host / 'bin'}:{os.environ['PATH']}",
            "S": str(host),
            "CONF": str(host / "config.toml"),
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1, done.stderr
    (line,) = [x for x in done.stderr.splitlines() if x.startswith("gpu-docker:")]
    return line


def test_todays_cause_is_quoted(host: Path) -> None:
    (host / "says").touch()
    line = _apply(host)
    assert '(containerd: level=error msg="today\'s cause")' in line, line
    assert "last week" not in line


def test_an_old_journal_line_is_not_quoted_as_todays_cause(host: Path) -> None:
    """containerd failed silently: no cause at all rather than last week's."""
    line = _apply(host)
    assert line == (
        "gpu-docker: containerd did not answer on /run/containerd/containerd.sock within 1s "
        "after the restart; previous config restored and containerd restarted: it runs as "
        "before"
    )
    assert (host / "config.toml").read_text() == "version = 2\n"
