"""``dockerd_start.sh`` run for real: does it run dockerd only for a daemon.json changed
since dockerd started (issue 15)?

A converge writes daemon.json and restarts docker within one second, so the script
orders the two to the sub-second. Here a real process (``sleep``) stands in for dockerd
(a stub ``pidof`` names it) and daemon.json's mtime is set around the start the script
reports; a stub ``dockerd`` notes each call instead of loading 80 MB.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from gpu_docker.facts.docker import HostDockerdStartup
from gpu_docker.sh import script

# The system dockerd is $STUB_PID; a rootless user's, when the test runs one, is
# $STUB_ROOTLESS_PID: the one pidof -s (or a pgrep for any user) may well name.
PIDOF = '#!/bin/sh\necho "${STUB_ROOTLESS_PID:-$STUB_PID}"\n'
PGREP = """#!/bin/sh
case " $* " in
    *" -u 0 "*) echo "$STUB_PID" ;;
    *) echo "${STUB_ROOTLESS_PID:-$STUB_PID}" ;;
esac
"""
DOCKERD = """#!/bin/sh
echo "dockerd $1" >> "$STUB_CALLS"
[ "$1" = --help ] && [ -z "$STUB_OLD" ] && echo "      --validate   Validate daemon configuration and exit"
if [ "$1" = --config-file ]; then  # docker 20.10 loading the file unprivileged
    body=$(cat)
    [ -n "$body" ] || { echo "unable to configure the Docker daemon with file $2: EOF" >&2; exit 1; }
    if [ "$(printf %s "$body" | head -c 3 | od -An -tx1 | tr -d ' \\n')" = efbbbf ]; then
        echo "unable to configure the Docker daemon with file $2: invalid character" >&2; exit 1
    fi
    printf %s "$body" | grep -q bogus && { echo "unable to configure the Docker daemon with file $2: bogus" >&2; exit 1; }
    echo "dockerd needs to be started with root privileges." >&2
    exit 1
fi
exit 0
"""
# Runs the unprivileged load here as this user; $STUB_NO_CHROOT: refused as without root.
CHROOT = """#!/bin/sh
[ -n "$STUB_NO_CHROOT" ] && { echo "chroot: Operation not permitted" >&2; exit 125; }
while [ "$1" != / ]; do shift; done
shift
exec "$@"
"""


class Host:
    def __init__(self, root: Path, pid: int, began: tuple[float, float]) -> None:
        self.root, self.pid, self.began = root, pid, began
        self.conf = root / "daemon.json"
        self.conf.write_text("{}")
        self.stamp = root / "dockerd-reloaded"
        self.calls = root / "calls"
        bin_dir = root / "bin"
        bin_dir.mkdir()
        stubs = (("pidof", PIDOF), ("pgrep", PGREP), ("dockerd", DOCKERD), ("chroot", CHROOT))
        for name, text in stubs:
            (bin_dir / name).write_text(text)
            (bin_dir / name).chmod(0o755)
        self.path = f"{bin_dir}:{os.environ['PATH']}"
        self.rootless: int | None = None
        self.extra: dict[str, str] = {}

    def run(self) -> tuple[subprocess.CompletedProcess[str], list[str]]:
        """The script's run and the dockerd calls it made."""
        self.calls.write_text("")
        args = [str(self.conf), "auto", str(self.stamp)]
        done = subprocess.run(
            ["sh", "-c", script("dockerd_start"), "gpu-docker", *args],
            env={
                "PATH": self.path,
                "STUB_PID": str(self.pid),
                "STUB_CALLS": str(self.calls),
                **({"STUB_ROOTLESS_PID": str(self.rootless)} if self.rootless else {}),
                **self.extra,
            },
            capture_output=True,
            text=True,
            timeout=30,
        )
        return done, self.calls.read_text().splitlines()

    def started(self) -> float:
        done, _ = self.run()
        return HostDockerdStartup().process(done.stdout.splitlines()).started

    def change_at(self, when: float | int) -> None:
        """daemon.json's mtime: epoch seconds, or (an int) nanoseconds."""
        ns = when if isinstance(when, int) else round(when * 1e9)
        os.utime(self.conf, ns=(ns, ns))


@pytest.fixture
def host(tmp_path: Path) -> Iterator[Host]:
    before = time.time()
    with subprocess.Popen(["sleep", "600"]) as dockerd:
        try:
            yield Host(tmp_path, dockerd.pid, (before, time.time()))
        finally:
            dockerd.kill()


def test_the_start_and_the_change_are_read_to_the_sub_second(host: Host) -> None:
    host.change_at(1796148997_123456789)
    done, _ = host.run()
    assert done.returncode == 0 and done.stderr == ""  # no missing stamp complained of
    fact = HostDockerdStartup().process(done.stdout.splitlines())
    assert fact.args == ("600",)
    assert fact.changed == pytest.approx(1796148997.123456789, abs=1e-6)
    # Derived from the clock, uptime and ticks: within a few ticks of when it began.
    assert host.began[0] - 0.03 < fact.started < host.began[1] + 0.03
    assert "\nchanged=1796148997.1234567890\n" in f"\n{done.stdout}"


@pytest.mark.parametrize(
    ("before", "runs_dockerd"),
    [
        (0.3, False),  # the converge's write, then the restart: loaded, nothing to run
        (0.0, True),  # the same instant: changed
        (-0.5, True),  # after
        (0.02, True),  # inside the margin: the start is known to a tick or two only
    ],
)
def test_dockerd_runs_only_for_a_change_since_it_started(
    host: Host, before: float, runs_dockerd: bool
) -> None:
    host.change_at(host.started() - before)
    done, calls = host.run()
    assert done.returncode == 0, done.stderr
    assert calls == (["dockerd --help", "dockerd --validate"] if runs_dockerd else [])
    assert ("validate=ok" in done.stdout.splitlines()) is runs_dockerd


def test_a_reload_stamp_counts_for_this_dockerd_only(host: Host) -> None:
    host.stamp.write_text(f"{host.pid} 1796148997.250000000\n")
    done, _ = host.run()
    assert HostDockerdStartup().process(done.stdout.splitlines()).reloaded == 1796148997.25
    host.stamp.write_text(f"{host.pid + 1} 1796148997.250000000\n")
    done, _ = host.run()
    assert HostDockerdStartup().process(done.stdout.splitlines()).reloaded == 0.0


def test_an_older_versions_whole_second_stamp_still_reads(host: Host) -> None:
    host.stamp.write_text(f"{host.pid} 1796148997\n")
    done, _ = host.run()
    assert HostDockerdStartup().process(done.stdout.splitlines()).reloaded == 1796148997.0


def test_a_rootless_users_dockerd_is_not_taken_for_the_systems(host: Host) -> None:
    """A host running both: the system dockerd's arguments and start, not the user's."""
    with subprocess.Popen(["sleep", "700"]) as rootless:
        try:
            host.rootless = rootless.pid
            done, _ = host.run()
        finally:
            rootless.kill()
    fact = HostDockerdStartup().process(done.stdout.splitlines())
    assert fact.args == ("600",)


@pytest.mark.parametrize(
    ("text", "extra", "validate"),
    [
        ("{}", {}, "ok"),
        ('{"bogus": 1}', {}, "unable to configure the Docker daemon with file CONF: bogus"),
        ("{}", {"STUB_NO_CHROOT": "1"}, "unknown: chroot: Operation not permitted"),
    ],
)
def test_docker_20_10_is_asked_by_an_unprivileged_load_of_the_file(
    host: Host, text: str, extra: dict[str, str], validate: str
) -> None:
    """No --validate: dockerd loads the file as uid 65534 and stops at its root check (a
    good file), refuses it (naming the file, not the pipe), or the load cannot run."""
    host.conf.write_text(text)
    host.extra = {"STUB_OLD": "1", **extra}
    done, calls = host.run()
    assert done.returncode == 0, done.stderr
    fact = HostDockerdStartup().process(done.stdout.splitlines())
    assert fact.validate == validate.replace("CONF", str(host.conf))
    assert calls == ["dockerd --help", *([] if extra else ["dockerd --config-file"])]


@pytest.mark.parametrize(
    ("raw", "validate"),
    [
        (b"", "ok"),
        (b"  \n", "ok"),
        (b'\xef\xbb\xbf{"debug": true}', "ok"),
        (b'\xef\xbb\xbf{"bogus": 1}', "unable to configure the Docker daemon with file"),
    ],
)
def test_an_empty_blank_or_bom_file_is_checked_as_the_merge_writes_it(
    host: Host, raw: bytes, validate: str
) -> None:
    """docker 20.10 refuses an empty file ("EOF") and a BOM, which dockerd 23+ and the
    merge read as {}: the restart loads the merged file, so that is what is checked."""
    host.conf.write_bytes(raw)
    host.extra = {"STUB_OLD": "1"}
    done, calls = host.run()
    assert done.returncode == 0, done.stderr
    fact = HostDockerdStartup().process(done.stdout.splitlines())
    assert fact.validate.startswith(validate)
    assert calls == ["dockerd --help", "dockerd --config-file"]
    assert not list(Path("/tmp").glob("gpu-docker-daemon-json.*"))
