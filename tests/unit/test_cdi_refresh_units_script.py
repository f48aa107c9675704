"""sh/cdi_refresh_units.sh with a fake systemctl: a failed spawn is tried again, and a
failure ends in one gpu-docker: line."""

from __future__ import annotations

import subprocess
from pathlib import Path

from gpu_docker import sh

FAKE = """#!/bin/sh
echo "$*" >> "$LOG"
case "$1" in
  start)
    n=$(grep -c '^start' "$LOG")
    [ "$n" -ge "$OK_AT" ] && exit 0
    echo "Job for nvidia-cdi-refresh.service failed because of unavailable resources."
    echo "See \\"systemctl status nvidia-cdi-refresh.service\\" for details."
    exit 1 ;;
  show) echo resources ;;
esac
exit 0
"""


def _run(tmp_path: Path, ok_at: int) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    fake = tmp_path / "bin" / "systemctl"
    fake.parent.mkdir()
    fake.write_text(FAKE)
    fake.chmod(0o755)
    log = tmp_path / "log"
    log.touch()
    env = {"PATH": f"{fake.parent}:/usr/bin:/bin", "LOG": str(log), "OK_AT": str(ok_at)}
    done = subprocess.run(
        ["sh", "-c", sh.script("cdi_refresh_units"), "gpu-docker"],
        capture_output=True,
        text=True,
        env=env,
    )
    return done, log.read_text().splitlines()


def test_a_spawn_failure_is_tried_again(tmp_path: Path) -> None:
    done, calls = _run(tmp_path, ok_at=2)
    assert done.returncode == 0, done.stderr
    assert calls == [
        "enable --now nvidia-cdi-refresh.path",
        "start nvidia-cdi-refresh.service",
        "start nvidia-cdi-refresh.service",
    ]


def test_three_failures_are_one_line(tmp_path: Path) -> None:
    done, calls = _run(tmp_path, ok_at=9)
    assert done.returncode == 1
    assert calls.count("start nvidia-cdi-refresh.service") == 3
    assert done.stderr == (
        "gpu-docker: nvidia-cdi-refresh.service did not generate the CDI spec (result: "
        "resources): Job for nvidia-cdi-refresh.service failed because of unavailable "
        "resources.\n"
    )
