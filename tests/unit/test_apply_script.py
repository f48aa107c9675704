"""The apply/rollback and start scripts, run for real against stub docker tools, in seconds.

The end-to-end lab runs these scripts on real dockerd, but only down the branches a lab
case happens to reach, and slowly. Here ``sh`` runs the very script text gpu-docker sends
(``gpu_docker.sh.script``) with stubs first on PATH (``tests/unit/stubs``): a pretend
dockerd whose behaviour follows the daemon.json it reads, systemd's ``systemctl`` with its
start limit, the sysv ``service``, ``journalctl`` with dockerd's and systemd's lines,
``pgrep``, and a ``sleep`` that returns at once. Every branch is covered for both inits.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from gpu_docker.sh import script

STUBS = Path(__file__).with_name("stubs")
RUNTIME = "nvidia"
BACKUP = ".gpu-docker-20250101T000000Z.bak"
OLD = {"debug": True}
NEW = {"debug": True, "runtimes": {RUNTIME: {"path": "nvidia-container-runtime"}}}
# sysv reloads with ``kill -HUP $(cat /var/run/docker.pid)``: a shell function stands in
# for the kill builtin, so no real process is signalled.
KILL_STUB = (
    'kill() { echo "kill $*" >> "$STUB_STATE/calls"; . "$STUB_BIN/_daemon"; reload_daemon; }\n'
)


@dataclass
class Host:
    """A pretend host: daemon.json, its backup, and the stubs' state directory."""

    root: Path

    @property
    def conf(self) -> Path:
        return self.root / "etc/docker/daemon.json"

    @property
    def state(self) -> Path:
        return self.root / "state"

    def write_conf(self, content: dict | None, old: dict | None) -> None:
        """The file this run wrote (``content``) and the backup of the one it replaced."""
        self.conf.parent.mkdir(parents=True, exist_ok=True)
        self.conf.write_text(json.dumps(content, indent=4))
        if old is None:
            Path(f"{self.conf}{BACKUP}.absent").touch()
        else:
            Path(f"{self.conf}{BACKUP}").write_text(json.dumps(old, indent=4))

    def dockerd_running(self, loaded: dict | None) -> None:
        """dockerd up, having read ``loaded``."""
        self.state.mkdir(exist_ok=True)
        (self.state / "running").touch()
        (self.state / "loaded").write_text(json.dumps(loaded or {}))

    def env(self) -> dict[str, str]:
        return {
            "PATH": f"{STUBS}:{os.environ['PATH']}",
            "STUB_STATE": str(self.state),
            "STUB_BIN": str(STUBS),
            "STUB_CONF": str(self.conf),
        }

    def run(self, name: str, *args: str) -> subprocess.CompletedProcess[str]:
        text = KILL_STUB + script(name)
        return subprocess.run(
            ["sh", "-c", text, "gpu-docker", *args],
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=60,
        )

    def apply(
        self,
        init: str,
        strategy: str = "restart",
        validate: bool = False,
        live: bool = False,
        timeout: int = 5,
    ) -> subprocess.CompletedProcess[str]:
        return self.run(
            "apply",
            strategy,
            str(self.conf),
            BACKUP,
            RUNTIME,
            str(timeout),
            init,
            "1" if validate else "0",
            "1" if live else "0",
            str(self.stamp),
        )

    @property
    def stamp(self) -> Path:
        """Where the script notes a reload (the real one is in /run/gpu-docker)."""
        return self.root / "run/gpu-docker/dockerd-reloaded"

    def control_calls(self, resets: bool = False) -> list[str]:
        """The systemctl, service and kill calls, in order (not the polling); the
        ``reset-failed`` before each systemd start only when ``resets``."""
        calls = (self.state / "calls").read_text().splitlines()
        wanted = [c for c in calls if c.split()[0] in ("systemctl", "service", "kill")]
        return [c for c in wanted if resets or "reset-failed" not in c]

    @property
    def running(self) -> bool:
        return (self.state / "running").exists()

    @property
    def loaded(self) -> dict:
        return json.loads((self.state / "loaded").read_text() or "{}")

    def conf_now(self) -> dict | None:
        return json.loads(self.conf.read_text()) if self.conf.exists() else None


@pytest.fixture
def host(tmp_path: Path) -> Host:
    made = Host(tmp_path)
    made.dockerd_running(OLD)
    return made


def one_line(done: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in done.stderr.splitlines() if line.startswith("gpu-docker:")]
    assert len(lines) == 1, done.stderr
    return lines[0]


RESTART = {"systemd": "systemctl restart docker", "sysv": "service docker restart"}
INITS = pytest.mark.parametrize("init", ["systemd", "sysv"])


@INITS
def test_a_good_file_restarts_docker_which_then_lists_the_runtime(host: Host, init: str) -> None:
    host.write_conf(NEW, OLD)
    done = host.apply(init)
    assert done.returncode == 0, done.stderr
    assert RESTART[init] in host.control_calls()
    assert host.loaded == NEW and host.conf_now() == NEW


@INITS
def test_validate_rejects_the_file_restores_it_and_leaves_docker_alone(
    host: Host, init: str
) -> None:
    host.write_conf({**NEW, "bogus": 1}, OLD)
    done = host.apply(init, validate=True)
    assert done.returncode == 1
    line = one_line(done)
    assert "dockerd --validate rejected the new" in line and "bogus" in line
    assert "previous daemon.json restored, docker not restarted" in line
    assert host.conf_now() == OLD
    assert host.control_calls() == [] and host.loaded == OLD


@INITS
def test_dockerd_that_refuses_the_file_is_rolled_back_and_runs_as_before(
    host: Host, init: str
) -> None:
    host.write_conf({**NEW, "bogus": 1}, OLD)
    done = host.apply(init)
    assert done.returncode == 1
    line = one_line(done)
    assert line.startswith("gpu-docker: dockerd exited after the restart"), line
    assert "previous daemon.json restored and docker restarted: it runs as before" in line
    assert host.conf_now() == OLD and host.running and host.loaded == OLD


def test_systemd_failure_line_quotes_dockerd_not_systemd(host: Host) -> None:
    host.write_conf({**NEW, "bogus": 1}, OLD)
    line = one_line(host.apply("systemd"))
    assert "(dockerd: unable to configure the Docker daemon with file" in line
    assert "don't match any configuration option: bogus" in line
    assert "Failed to start docker.service" not in line


def test_start_limit_is_reset_so_the_rollback_restart_is_not_refused_run_after_run(
    host: Host,
) -> None:
    """Three failed restarts in a row: each time docker is back on the old file."""
    for _ in range(3):
        host.write_conf({**NEW, "bogus": 1}, OLD)
        done = host.apply("systemd")
        assert "it runs as before" in one_line(done)
        assert host.running and host.loaded == OLD
    calls = host.control_calls(resets=True)
    last_restart = len(calls) - 1 - calls[::-1].index("systemctl restart docker")
    assert calls[last_restart - 1] == "systemctl reset-failed docker.service"


def test_a_dockerd_that_never_answers_is_rolled_back(host: Host) -> None:
    host.write_conf({**NEW, "hang": 1}, OLD)
    done = host.apply("systemd")
    assert "docker did not come back within 5s after the restart" in one_line(done)
    assert host.conf_now() == OLD and host.loaded == OLD


@INITS
def test_docker_answering_without_the_runtime_is_rolled_back(host: Host, init: str) -> None:
    host.write_conf({**NEW, "noruntime": 1}, OLD)
    done = host.apply(init)
    assert "docker answered without runtime nvidia after the restart" in one_line(done)
    assert host.conf_now() == OLD and host.loaded == OLD


def test_without_a_previous_file_the_rollback_removes_the_new_one(host: Host) -> None:
    host.write_conf({**NEW, "bogus": 1}, None)
    line = one_line(host.apply("systemd"))
    assert "new daemon.json removed (there was none before) and docker restarted" in line
    assert host.conf_now() is None and host.running


def test_when_nothing_starts_the_line_says_docker_is_still_down(host: Host) -> None:
    host.write_conf({**NEW, "bogus": 1}, OLD)
    (host.state / "dead").touch()
    line = one_line(host.apply("sysv"))
    assert "previous daemon.json restored, but docker is still down: check it now" in line
    assert host.conf_now() == OLD


@pytest.mark.parametrize(
    ("init", "signal"), [("systemd", "systemctl reload docker"), ("sysv", "kill -HUP ")]
)
def test_reload_signals_dockerd_and_never_restarts_it(host: Host, init: str, signal: str) -> None:
    host.write_conf(NEW, OLD)
    done = host.apply(init, strategy="reload")
    assert done.returncode == 0, done.stderr
    assert host.control_calls() == [signal]
    assert host.loaded == NEW
    # Noted, so the next run does not call the loaded file unloaded: to the nanosecond,
    # since the converge wrote the file within the same second.
    assert re.fullmatch(r"\d+\.\d{9}", host.stamp.read_text().split()[-1])


def test_a_restart_notes_no_reload(host: Host) -> None:
    host.write_conf(NEW, OLD)
    assert host.apply("systemd").returncode == 0
    assert not host.stamp.exists()


def test_a_reload_that_does_not_register_the_runtime_is_undone_by_reload(host: Host) -> None:
    host.write_conf({**NEW, "noruntime": 1}, OLD)
    done = host.apply("systemd", strategy="reload")
    assert "answered without runtime nvidia after the reload" in one_line(done)
    assert "docker reloaded: it runs as before" in done.stderr
    assert host.control_calls() == ["systemctl reload docker"] * 2
    assert host.loaded == OLD
    assert not host.stamp.exists()  # a failed reload loaded nothing new


@INITS
def test_live_restore_is_switched_on_live_before_the_restart(host: Host, init: str) -> None:
    host.write_conf({**NEW, "live-restore": True}, OLD)
    done = host.apply(init, live=True)
    assert done.returncode == 0, done.stderr
    reload = "systemctl reload docker" if init == "systemd" else "kill -HUP "
    assert host.control_calls() == [reload, RESTART[init]]


def test_live_restore_already_on_needs_no_reload(host: Host) -> None:
    host.dockerd_running({**OLD, "live-restore": True})
    host.write_conf({**NEW, "live-restore": True}, {**OLD, "live-restore": True})
    assert host.apply("systemd", live=True).returncode == 0
    assert host.control_calls() == ["systemctl restart docker"]


def test_start_docker_resets_a_hit_start_limit_and_waits_for_docker(host: Host) -> None:
    (host.state / "running").unlink()
    (host.state / "limit_hit").touch()
    done = host.run("start_docker", "systemd", "5")
    assert done.returncode == 0, done.stderr
    assert host.control_calls(resets=True) == [
        "systemctl reset-failed docker.socket",
        "systemctl reset-failed docker.service",
        "systemctl start docker",
    ]
    assert host.running


@INITS
def test_start_docker_says_when_docker_does_not_answer(host: Host, init: str) -> None:
    (host.state / "running").unlink()
    (host.state / "dead").touch()
    done = host.run("start_docker", init, "1")
    assert done.returncode == 1
    assert "docker was not running and did not answer within 1s of starting it" in one_line(done)


def test_start_docker_leaves_a_running_docker_alone(host: Host) -> None:
    assert host.run("start_docker", "systemd", "5").returncode == 0
    assert host.control_calls() == []


def test_a_restore_that_fails_says_so_and_leaves_no_partial_file(host: Host) -> None:
    """A full disk: the restore's copy fails; the line says the new file is still there."""
    rejected = {**NEW, "bogus": 1}
    host.write_conf(rejected, OLD)
    (host.state / "disk_full").touch()
    done = host.apply("systemd", validate=True)
    assert done.returncode == 1
    line = one_line(done)
    assert "restore failed: cp: error writing" in line and "No space left on device" in line
    assert f"the new {host.conf} is still in place, docker not restarted" in line
    assert "was not changed by this run" not in line
    assert host.conf_now() == rejected
    assert not Path(f"{host.conf}.restore").exists()


def test_a_failed_restore_after_the_restart_does_not_say_it_runs_as_before(host: Host) -> None:
    host.write_conf({**NEW, "bogus": 1}, OLD)
    (host.state / "disk_full").touch()
    line = one_line(host.apply("systemd"))
    assert line.startswith("gpu-docker: dockerd exited after the restart"), line
    assert "restore failed: cp: error writing" in line
    assert line.endswith("is still in place and docker is down: check it now"), line
    assert not Path(f"{host.conf}.restore").exists()


def test_no_backup_of_this_run_is_not_called_a_failed_restore(host: Host) -> None:
    host.conf.parent.mkdir(parents=True)
    host.conf.write_text(json.dumps({**NEW, "noruntime": 1}))
    line = one_line(host.apply("systemd"))
    assert "daemon.json was not changed by this run and docker restarted: it runs as before" in (
        line
    )


def test_restore_script_that_fails_keeps_the_file_and_leaves_no_partial_one(host: Host) -> None:
    host.write_conf(NEW, OLD)
    (host.state / "disk_full").touch()
    keep = f"{host.conf}.keep"
    done = host.run("restore", str(host.conf), f"{host.conf}{BACKUP}", keep)
    assert done.returncode == 2
    assert "No space left on device" in done.stderr
    assert host.conf_now() == NEW
    assert not Path(f"{host.conf}.restore").exists()


@INITS
def test_no_temporary_file_does_not_stop_the_run(host: Host, init: str) -> None:
    host.write_conf(NEW, OLD)
    (host.state / "no_tmp").touch()
    done = host.apply(init)
    assert done.returncode == 0, done.stderr
    assert host.loaded == NEW


def test_no_temporary_file_still_rolls_back_with_one_line(host: Host) -> None:
    host.write_conf({**NEW, "bogus": 1}, OLD)
    (host.state / "no_tmp").touch()
    line = one_line(host.apply("systemd"))
    assert "previous daemon.json restored and docker restarted: it runs as before" in line
    assert host.conf_now() == OLD


def test_backslashes_in_dockerds_words_reach_the_line_intact(host: Host) -> None:
    host.write_conf({**NEW, "winpath": 1}, OLD)
    line = one_line(host.apply("sysv", validate=True))
    assert "invalid data-root C:\\new\\temp: must be an absolute path;" in line


@INITS
def test_live_restore_that_stays_off_with_containers_running_puts_the_file_back(
    host: Host, init: str
) -> None:
    """dockerd refuses the reload (docker 20.10, swarm mode): a restart would stop the
    containers the preview said keep running, so docker is left alone."""
    host.write_conf({**NEW, "live-restore": True}, OLD)
    Path(f"{host.conf}{BACKUP}.mode").write_text("640 root:root\n")
    (host.state / "reload_refused").touch()
    (host.state / "containers").write_text("3\n")
    done = host.apply(init, live=True)
    assert done.returncode == 1
    assert one_line(done) == (
        "gpu-docker: live-restore could not be switched on live: 3 containers would stop; "
        f"{host.conf} put back, docker not restarted"
    )
    assert host.conf_now() == OLD and host.conf.stat().st_mode & 0o777 == 0o640
    reload = "systemctl reload docker" if init == "systemd" else "kill -HUP "
    assert host.control_calls() == [reload, reload]  # the second loads the file put back
    assert host.running and host.loaded == OLD


def test_live_restore_that_stays_off_without_containers_restarts_anyway(host: Host) -> None:
    host.write_conf({**NEW, "live-restore": True}, OLD)
    (host.state / "reload_refused").touch()
    (host.state / "containers").write_text("0\n")
    done = host.apply("systemd", live=True)
    assert done.returncode == 0, done.stderr
    assert host.control_calls() == ["systemctl reload docker", "systemctl restart docker"]
    assert host.loaded == {**NEW, "live-restore": True}


@INITS
def test_a_start_that_never_returns_is_given_up_and_rolled_back(host: Host, init: str) -> None:
    """docker.service has TimeoutStartSec=infinity: a hung start must end in the rollback."""
    host.write_conf(NEW, OLD)
    (host.state / "start_hangs").touch()
    began = time.monotonic()
    done = host.apply(init, timeout=1)
    assert time.monotonic() - began < 15, "the hung start was waited for"
    assert done.returncode == 1
    line = one_line(done)
    assert line.startswith("gpu-docker: docker did not come back within 1s after the restart")
    assert "previous daemon.json restored and docker restarted: it runs as before" in line
    assert host.conf_now() == OLD and host.running and host.loaded == OLD


@INITS
def test_start_docker_gives_up_a_start_that_never_returns(host: Host, init: str) -> None:
    (host.state / "running").unlink()
    (host.state / "start_hangs").touch()
    began = time.monotonic()
    done = host.run("start_docker", init, "1")
    assert time.monotonic() - began < 15, "the hung start was waited for"
    assert done.returncode == 1
    assert "docker was not running and did not answer within 1s of starting it" in one_line(done)


def test_the_reload_stamp_names_the_system_dockerd_not_a_rootless_one(host: Host) -> None:
    host.write_conf(NEW, OLD)
    (host.state / "rootless").touch()
    assert host.apply("systemd", strategy="reload").returncode == 0
    assert host.stamp.read_text().split()[0] == "4242"


def test_a_rootless_dockerd_does_not_hide_that_the_system_one_exited(host: Host) -> None:
    host.write_conf({**NEW, "bogus": 1}, OLD)
    (host.state / "rootless").touch()
    line = one_line(host.apply("systemd"))
    assert line.startswith("gpu-docker: dockerd exited after the restart"), line


def test_start_docker_sees_the_system_dockerd_exit_beside_a_rootless_one(host: Host) -> None:
    (host.state / "running").unlink()
    (host.state / "dead").touch()
    (host.state / "rootless").touch()
    line = one_line(host.run("start_docker", "systemd", "5"))
    assert "docker was not running and did not start" in line


def test_start_docker_says_dockerds_words_not_systemctls_pointer(host: Host) -> None:
    """systemctl's last line only points at the journal: dockerd's own line is the cause."""
    (host.state / "running").unlink()
    (host.state / "dead").touch()
    line = one_line(host.run("start_docker", "systemd", "5"))
    assert line == (
        "gpu-docker: docker was not running and did not start (start exited 1: unable to "
        f"configure the Docker daemon with file {host.conf}: the following directives don't "
        "match any configuration option: bogus); nothing changed"
    )


@INITS
def test_live_restore_refused_live_reloads_the_file_put_back(host: Host, init: str) -> None:
    """docker 20.10 loads the new runtimes on the reload but keeps live-restore off: once
    the previous file is back, dockerd must load it again, or it runs a file not on disk."""
    host.write_conf({**NEW, "live-restore": True}, OLD)
    (host.state / "reload_partial").touch()
    (host.state / "containers").write_text("2\n")
    done = host.apply(init, live=True)
    assert done.returncode == 1
    assert "2 containers would stop" in one_line(done)
    reload = "systemctl reload docker" if init == "systemd" else "kill -HUP "
    assert host.control_calls() == [reload, reload]
    assert host.conf_now() == OLD and host.loaded == OLD


@INITS
def test_docker_20_10_loads_the_new_file_unprivileged_and_a_refused_one_is_put_back(
    host: Host, init: str
) -> None:
    """No --validate: dockerd's own load as uid 65534 (the chroot stub) refuses the file
    before docker is touched, naming the file, not the pipe it read it from."""
    (host.state / "load_check").touch()
    host.write_conf({**NEW, "bogus": 1}, OLD)
    done = host.apply(init)
    assert done.returncode == 1
    assert one_line(done) == (
        f"gpu-docker: dockerd rejected the new {host.conf}: unable to configure the Docker "
        f"daemon with file {host.conf}: the following directives don't match any "
        "configuration option: bogus; previous daemon.json restored, docker not restarted"
    )
    assert host.control_calls() == [] and host.loaded == OLD and host.conf_now() == OLD


def test_docker_20_10_restarts_on_a_file_its_unprivileged_load_accepts(host: Host) -> None:
    (host.state / "load_check").touch()
    host.write_conf(NEW, OLD)
    done = host.apply("systemd")
    assert done.returncode == 0, done.stderr
    assert host.control_calls() == ["systemctl restart docker"] and host.loaded == NEW


def test_an_old_journal_line_is_not_quoted_as_todays_cause(host: Host) -> None:
    """Only what dockerd logged since the action started is read (journalctl --since)."""
    host.state.mkdir(exist_ok=True)
    day_ago = int(time.time()) - 86400
    (host.state / "journal").write_text(
        f'D {day_ago} level=error msg="failed to start daemon: last week\'s cause"\n'
    )
    host.write_conf({**NEW, "noruntime": 1}, OLD)
    line = one_line(host.apply("systemd"))
    assert line.startswith("gpu-docker: docker answered without runtime nvidia"), line
    assert "last week" not in line


def test_start_docker_quotes_no_old_journal_line(host: Host) -> None:
    """A start that hangs, dockerd silent: no cause at all rather than an old one."""
    (host.state / "running").unlink()
    (host.state / "start_hangs").touch()
    day_ago = int(time.time()) - 86400
    (host.state / "journal").write_text(f'D {day_ago} level=error msg="last week\'s cause"\n')
    line = one_line(host.run("start_docker", "systemd", "2"))
    assert line == "gpu-docker: docker was not running and did not answer within 2s of starting it"
