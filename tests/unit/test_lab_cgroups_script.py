"""The lab hosts' boot-time cgroup remount, run against a fake /sys/fs/cgroup.

``mount`` and ``sleep`` are stubs that log their calls; ``mkdir`` refuses a controller's
probe cgroup until that controller has been remounted ``STUCK_<name>`` times, as a read-only
mount would. So the retry is tested without root, a real cgroup tree, or any real wait.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from gpu_docker.lab import sh
from gpu_docker.lab.boot import CGROUPS_TRIES, CGROUPS_UNIT

CONTROLLERS = ("cpuset", "memory", "pids")
MOUNT = """\
#!/bin/sh
# mount -o remount,bind,rw DIR/: log it, count the remounts of that controller
name=$(basename "$3")
echo "$name" >> "$LOG/mount"
echo x >> "$LOG/remounts-$name"
"""
MKDIR = """\
#!/bin/sh
# refuse the probe until the controller had its STUCK_<name> remounts (default 1)
name=$(basename "$(dirname "$1")")
done=$(wc -l < "$LOG/remounts-$name")
eval "needed=\\${STUCK_$name:-1}"
[ "$done" -ge "$needed" ] || { echo "mkdir: Read-only file system" >&2; exit 1; }
exec /bin/mkdir "$@"
"""
SLEEP = '#!/bin/sh\necho "$1" >> "$LOG/sleep"\n'


def _unit_args() -> list[str]:
    """The arguments the unit starts the script with (its ExecStart after the path)."""
    line = next(line for line in CGROUPS_UNIT.splitlines() if line.startswith("ExecStart="))
    path, *args = line.removeprefix("ExecStart=").split()
    assert path == "/usr/local/sbin/gpu-docker-lab-cgroups"
    return args


def _run(tmp_path: Path, **stuck: int) -> tuple[subprocess.CompletedProcess[str], Path, Path]:
    cgroup, bin_dir, log = tmp_path / "cgroup", tmp_path / "bin", tmp_path / "log"
    for directory in (bin_dir, log):
        directory.mkdir()
    for name in (*CONTROLLERS, "systemd", "unified"):
        (cgroup / name).mkdir(parents=True)
    for name, text in (("mount", MOUNT), ("mkdir", MKDIR), ("sleep", SLEEP)):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    script = tmp_path / "gpu-docker-lab-cgroups"
    script.write_text(sh.text("cgroups").replace("/sys/fs/cgroup", str(cgroup)))
    env = {
        **os.environ,
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "LOG": str(log),
        **{f"STUCK_{name}": str(count) for name, count in stuck.items()},
    }
    run = subprocess.run(
        ["sh", str(script), *_unit_args()], env=env, capture_output=True, text=True
    )
    return run, cgroup, log


def _lines(path: Path) -> list[str]:
    return path.read_text().split() if path.exists() else []


def test_a_good_boot_remounts_each_controller_once_and_never_sleeps(tmp_path: Path) -> None:
    run, cgroup, log = _run(tmp_path)
    assert run.returncode == 0, run.stderr
    assert _lines(log / "mount") == sorted(CONTROLLERS)  # systemd's and unified left alone
    assert _lines(log / "sleep") == []
    assert sorted(path.name for path in cgroup.iterdir()) == sorted(
        (*CONTROLLERS, "systemd", "unified")
    )
    assert all(not any((cgroup / name).iterdir()) for name in CONTROLLERS)  # probes removed


def test_a_remount_that_did_not_take_is_retried_for_that_controller_only(
    tmp_path: Path,
) -> None:
    run, _, log = _run(tmp_path, cpuset=3)
    assert run.returncode == 0, run.stderr
    assert _lines(log / "mount") == ["cpuset"] * 3 + ["memory", "pids"]
    assert _lines(log / "sleep") == ["0.1", "0.1"]  # between tries, never before the first


def test_a_controller_that_stays_read_only_fails_the_unit_naming_it(tmp_path: Path) -> None:
    run, _, log = _run(tmp_path, memory=CGROUPS_TRIES + 1)
    assert run.returncode == 1
    assert _lines(log / "mount").count("memory") == CGROUPS_TRIES
    assert "memory/ still read-only after 20 remounts" in run.stderr
    assert _lines(log / "mount").count("pids") == 1  # the others are still made writable


def test_docker_and_containerd_start_after_the_remount() -> None:
    assert "Before=containerd.service docker.service" in CGROUPS_UNIT
    assert "Type=oneshot" in CGROUPS_UNIT  # "started" only once the script has exited
    assert "WantedBy=multi-user.target" in CGROUPS_UNIT
