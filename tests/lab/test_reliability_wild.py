"""Reliability: hosts as they are in the wild (issue 12), one lab, one pyinfra run.

Online (apt) hosts:
- lab-online-1: an old ``nvidia-docker.list`` for the same repository without
  ``signed-by`` (key in trusted.gpg.d; apt works): disabled with a backup, named, converged;
- lab-online-2: a wrong repository path (404): one line naming 404, /etc/apt as it was;
- lab-online-3: a repository signed by another key than the pinned one: one line;
- lab-online-4: an unrelated broken source (apt-get update fails before): converged;
- lab-online-5: daemon.json given ``hosts`` after dockerd started with ``-H``: refused
  naming the key, nothing installed, docker untouched;
- lab-online-6: dpkg's lock held by a live process past ``dpkg_lock_timeout``: one line
  naming its pid and command, nothing installed;
- lab-online-7: dpkg's lock released during the wait: converged;
- lab-online-8: a repository whose Release is dated in the future (the lab's
  ``future-dated`` test fixture, as a clock behind sees it): one line naming the clock;
- lab-online-9, lab-online-10: the apt path of the two held cases below (1.17.8 held,
  pin 1.18.1 from the lab repository): refused by name; with ``release_holds`` held again
  at 1.18.1.
Restricted (offline) hosts, toolkit 1.17.8 installed first on the first three:
- lab-restricted-1: held, pin 1.18.1: refused naming the held packages, holds kept;
- lab-restricted-2: held, pin 1.18.1, ``release_holds``: converged, held again at 1.18.1;
- lab-restricted-3: 1.18.1 installed, pin 1.17.8 (older than installed): the downgrade is named, converged; then
  ``nvidia-container-toolkit-operator-extensions`` is installed and a rollback with
  ``rollback_remove_packages`` removes it (named) and the toolkit, pin included;
- lab-restricted-4: daemon.json only as the ``.keep`` link an interrupted legacy purge
  leaves: put back (named) before the merge, the operator's keys kept;
- lab-restricted-5: an operator's daemon.json 0640 root:adm, converged; a rollback with
  ``rollback_remove_packages`` whose dpkg is SIGKILLed mid-purge fails with one line, and
  a second rollback finishes the removal; daemon.json is back 0640 root:adm.

After every failed host: ``apt-get update`` works if it did before, /etc/docker is byte-
and mode-identical, dockerd is the same process.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hosts_state import (
    PACKAGES,
    PROJECT,
    docker_runtimes,
    docker_snapshot,
    dpkg_state,
    host_lines,
    lab_of,
    output,
    pyinfra,
    read_bytes,
    seed_file,
    snapshot,
    summary,
    upload,
    write_inventory,
)

from gpu_docker.lab.inventory import LAB_TOOLKIT_VERSION as PIN
from gpu_docker.lab.standin import build_standin_debs
from gpu_docker.lab.state import LabState

pytestmark = pytest.mark.lab

(
    CONFLICT,
    NOT_FOUND,
    WRONG_KEY,
    BROKEN_OTHER,
    HOSTS_FLAG,
    LOCKED,
    UNLOCKED,
    FUTURE_DATED,
    HELD_APT,
    HELD_APT_RELEASED,
) = (f"lab-online-{n}" for n in range(1, 11))
HELD, HELD_RELEASED, DOWNGRADE, KEPT, ROLLED_BACK = (f"lab-restricted-{n}" for n in range(1, 6))
DAEMON_JSON = "/etc/docker/daemon.json"
KEEP = f"{DAEMON_JSON}.gpu-docker-20250101T000000Z.keep"
OPERATOR_JSON = b'{\n  "log-level": "warn"\n}\n'
# Test fixture: a dpkg configuration that SIGKILLs dpkg (its status logger's parent) as
# soon as it starts taking nvidia-container-toolkit-base apart, as a rollback's purge
# interrupted by a crash or a lost session leaves it.
KILL_DPKG_CFG = "/etc/dpkg/dpkg.cfg.d/zz-gpu-docker-test-kill"
KILL_DPKG = (
    'status-logger=while read l; do case "$l" in '
    '*"nvidia-container-toolkit-base: half-installed"*|'
    '*"nvidia-container-toolkit-base: config-files"*) kill -9 $PPID ;; esac; done\n'
)
OLD_LIST = "/etc/apt/sources.list.d/nvidia-docker.list"
UPDATE_OK = "apt-get update -q >/dev/null 2>&1 && echo UPDATE-OK || echo UPDATE-FAILED"

# Holds dpkg's frontend lock (an fcntl write lock, as dpkg and apt take it) for $1 seconds.
LOCK_HOLDER = r"""
setsid perl -e 'use Fcntl; open(my $f, ">>", "/var/lib/dpkg/lock-frontend") or die;
  my $l = pack("s s x4 q q i x4", F_WRLCK, 0, 0, 0, 0); fcntl($f, F_SETLKW, $l) or die;
  sleep $ARGV[0]' "$1" >/dev/null 2>&1 < /dev/null &
sleep 1; grep -c POSIX /proc/locks
"""


@pytest.fixture(scope="module")
def lab() -> Iterator[LabState]:
    with lab_of(online=10, restricted=5) as state:
        yield state


def _sh(lab: LabState, host_exec, name: str, script: str, *args: str) -> str:
    run = host_exec(lab, name, ["sh", "-c", script, "sh", *args])
    assert run.returncode == 0, f"{name}: {run.stdout}{run.stderr}"
    return run.stdout


def _install_bundle(lab: LabState, host_exec, name: str, version: str, hold: bool) -> None:
    bundle = Path(lab.bundle_dir) / version / "amd64"
    for deb in bundle.glob("*.deb"):
        upload(lab, name, deb, f"/tmp/debs-{version}/{deb.name}")
    script = f"dpkg -i /tmp/debs-{version}/*.deb >/dev/null"
    if hold:
        script += f" && apt-mark hold {' '.join(PACKAGES)} >/dev/null"
    _sh(lab, host_exec, name, script)


def _wrong_fingerprint(lab: LabState) -> str:
    key = subprocess.run(
        ["curl", "-fsS", lab.wrong_key_url], capture_output=True, check=True
    ).stdout
    listing = subprocess.run(
        ["gpg", "--batch", "--show-keys", "--with-colons"],
        input=key,
        capture_output=True,
        check=True,
    ).stdout.decode()
    return next(line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr:"))


@pytest.fixture(scope="module")
def wild(lab, host_exec, tmp_path_factory):
    """Prepare every host as found in the wild, run once; return the run and snapshots."""
    _sh(
        lab,
        host_exec,
        CONFLICT,
        'curl -fsSL "$1" | gpg --dearmor > /etc/apt/trusted.gpg.d/nvidia-old.gpg'
        ' && printf "deb %s /\\n" "$2" > "$3" && ' + UPDATE_OK,
        lab.key_url,
        lab.repo_url,
        OLD_LIST,
    )
    base = lab.repo_url.split("/stable/")[0]
    _sh(
        lab,
        host_exec,
        BROKEN_OTHER,
        'printf "deb %s/nothing-here bookworm main\\n" "$1" > /etc/apt/sources.list.d/broken.list',
        base,
    )
    assert "UPDATE-FAILED" in _sh(lab, host_exec, BROKEN_OTHER, UPDATE_OK)
    _sh(
        lab,
        host_exec,
        HOSTS_FLAG,
        "echo 'DOCKER_OPTS=\"-H unix:///var/run/docker.sock\"' > /etc/default/docker"
        " && service docker restart >/dev/null 2>&1; sleep 3; docker info >/dev/null",
    )
    seed_file(
        lab,
        host_exec,
        HOSTS_FLAG,
        "/etc/docker/daemon.json",
        b'{"hosts": ["unix:///var/run/docker.sock"]}\n',
    )
    for name in (HELD, HELD_RELEASED, HELD_APT, HELD_APT_RELEASED):
        _install_bundle(lab, host_exec, name, "1.17.8", hold=True)
    _install_bundle(lab, host_exec, DOWNGRADE, "1.18.1", hold=False)
    seed_file(lab, host_exec, KEPT, KEEP, OPERATOR_JSON)
    seed_file(lab, host_exec, ROLLED_BACK, DAEMON_JSON, OPERATOR_JSON)
    _sh(lab, host_exec, ROLLED_BACK, f"chown root:adm {DAEMON_JSON} && chmod 0640 {DAEMON_JSON}")
    refused = (NOT_FOUND, WRONG_KEY, HOSTS_FLAG, LOCKED, HELD, FUTURE_DATED, HELD_APT)
    before = {name: snapshot(lab, host_exec, name) for name in refused}
    docker_before = {name: docker_snapshot(lab, host_exec, name) for name in refused}
    assert _sh(lab, host_exec, LOCKED, LOCK_HOLDER, "900").strip() == "1"
    assert _sh(lab, host_exec, UNLOCKED, LOCK_HOLDER, "15").strip() == "1"
    inventory = write_inventory(
        tmp_path_factory.mktemp("inv") / "inventory.py",
        lab,
        {
            NOT_FOUND: {"apt_repo_url": lab.repo_url.replace("/stable/", "/no-such-path/")},
            WRONG_KEY: {
                "apt_key_url": lab.wrong_key_url,
                "apt_key_fingerprint": _wrong_fingerprint(lab),
            },
            LOCKED: {"dpkg_lock_timeout": 5},
            UNLOCKED: {"dpkg_lock_timeout": 120},
            FUTURE_DATED: {"apt_repo_url": lab.repo_url.replace("/stable/", "/future-dated/")},
            HELD: {"toolkit_version": "1.18.1"},
            HELD_RELEASED: {"toolkit_version": "1.18.1", "release_holds": True},
            HELD_APT: {"toolkit_version": "1.18.1"},
            HELD_APT_RELEASED: {"toolkit_version": "1.18.1", "release_holds": True},
            DOWNGRADE: {"toolkit_version": "1.17.8"},  # an older pin than what is installed
        },
        {},
    )
    started = time.monotonic()
    run = pyinfra(inventory)
    return {
        "run": run,
        "seconds": time.monotonic() - started,
        "before": before,
        "docker_before": docker_before,
        "inventory": inventory,
    }


def test_the_failing_hosts_are_exactly_the_refused_ones(wild):
    expected = {NOT_FOUND, WRONG_KEY, HOSTS_FLAG, LOCKED, HELD, FUTURE_DATED, HELD_APT}
    assert set(summary(wild["run"])) == expected, output(wild["run"])


def test_an_old_conflicting_nvidia_source_is_disabled_named_and_the_host_converges(
    lab, host_exec, wild
):
    lines = host_lines(wild["run"], CONFLICT)
    assert any(f"disabled the conflicting source {OLD_LIST}" in line for line in lines), lines
    assert "UPDATE-OK" in _sh(lab, host_exec, CONFLICT, UPDATE_OK)
    text = _sh(lab, host_exec, CONFLICT, f"cat {OLD_LIST}; ls {OLD_LIST}.gpu-docker-*.bak")
    assert text.startswith("# disabled by gpu-docker"), text
    status, _ = dpkg_state(lab, host_exec, CONFLICT)
    assert status == dict.fromkeys(PACKAGES, f"ii{PIN}-1")


@pytest.mark.parametrize(
    ("name", "cause"),
    [
        (NOT_FOUND, "the repository answered 404 Not Found"),
        (WRONG_KEY, "the repository is not signed by the pinned key"),
        (FUTURE_DATED, "the host's clock is behind: the repository's Release file is not valid"),
    ],
)
def test_a_source_that_does_not_work_is_one_line_and_etc_apt_is_as_it_was(
    lab, host_exec, wild, name, cause
):
    (line,) = host_lines(wild["run"], name)
    assert cause in line and line.endswith("/etc/apt left as it was"), line
    assert snapshot(lab, host_exec, name) == wild["before"][name]
    assert "UPDATE-OK" in _sh(lab, host_exec, name, UPDATE_OK)


def test_an_unrelated_broken_source_does_not_fail_the_converge(lab, host_exec, wild):
    assert BROKEN_OTHER not in summary(wild["run"])
    assert "nvidia" in (docker_runtimes(lab, host_exec, BROKEN_OTHER) or [])


def test_hosts_in_daemon_json_with_dockerd_run_with_dash_h_is_refused_and_docker_untouched(
    lab, host_exec, wild
):
    (line,) = host_lines(wild["run"], HOSTS_FLAG)
    assert "sets 'hosts' and dockerd runs with -H" in line, line
    assert snapshot(lab, host_exec, HOSTS_FLAG) == wild["before"][HOSTS_FLAG]
    assert docker_snapshot(lab, host_exec, HOSTS_FLAG) == wild["docker_before"][HOSTS_FLAG]
    assert docker_runtimes(lab, host_exec, HOSTS_FLAG) is not None


def test_a_dpkg_lock_held_past_the_timeout_names_the_holder(lab, host_exec, wild):
    (line,) = host_lines(wild["run"], LOCKED)
    assert "dpkg/apt lock still held after 5s by pid" in line and "perl" in line, line
    status, _ = dpkg_state(lab, host_exec, LOCKED)
    assert status == {}
    assert docker_snapshot(lab, host_exec, LOCKED) == wild["docker_before"][LOCKED]


def test_a_dpkg_lock_released_during_the_wait_converges(lab, host_exec, wild):
    assert UNLOCKED not in summary(wild["run"])
    status, _ = dpkg_state(lab, host_exec, UNLOCKED)
    assert status == dict.fromkeys(PACKAGES, f"ii{PIN}-1")


@pytest.mark.parametrize("name", [HELD, HELD_APT])
def test_held_packages_are_refused_by_name_and_kept_held(lab, host_exec, wild, name):
    (line,) = host_lines(wild["run"], name)
    assert line.startswith("gpu-docker: held packages would change: libnvidia-container-tools")
    assert "release_holds=True" in line
    assert snapshot(lab, host_exec, name) == wild["before"][name]


@pytest.mark.parametrize("name", [HELD_RELEASED, HELD_APT_RELEASED])
def test_release_holds_moves_them_to_the_pin_and_holds_them_there(lab, host_exec, wild, name):
    assert name not in summary(wild["run"])
    status, _ = dpkg_state(lab, host_exec, name)
    assert status == dict.fromkeys(PACKAGES, "hi1.18.1-1"), status


def test_a_downgrade_is_named_and_done(lab, host_exec, wild):
    lines = host_lines(wild["run"], DOWNGRADE)
    assert any(
        "nvidia-container-toolkit 1.18.1-1 is newer than the pin: downgrading to 1.17.8-1" in x
        for x in lines
    ), lines
    status, _ = dpkg_state(lab, host_exec, DOWNGRADE)
    assert status == dict.fromkeys(PACKAGES, "ii1.17.8-1")


def test_rollback_removes_other_dependents_and_the_toolkit(lab, host_exec, wild, tmp_path):
    (extension,) = [
        deb
        for deb in build_standin_debs("1.17.8", "amd64", tmp_path, extras=True)
        if "operator-extensions" in deb.name
    ]
    upload(lab, DOWNGRADE, extension, f"/tmp/{extension.name}")
    _sh(lab, host_exec, DOWNGRADE, f"dpkg -i /tmp/{extension.name} >/dev/null")
    run = _rollback_removing_packages(wild, DOWNGRADE)
    assert run.returncode == 0, output(run)
    lines = host_lines(run, DOWNGRADE)
    assert any("nvidia-container-toolkit-operator-extensions" in line for line in lines), lines
    status, audit = dpkg_state(lab, host_exec, DOWNGRADE)
    assert not any(s.startswith("ii") for s in status.values()) and audit == "", status
    assert _sh(lab, host_exec, DOWNGRADE, "ls /etc/apt/preferences.d/").strip() == ""


def _rollback_removing_packages(wild, name: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            str(Path(sys.executable).parent / "pyinfra"),
            "-y",
            str(wild["inventory"]),
            "deploys/rollback.py",
            "--limit",
            name,
            "--data",
            "rollback_remove_packages=true",
        ],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=600,
    )


def _mode(lab: LabState, host_exec, name: str, path: str) -> str:
    return _sh(lab, host_exec, name, 'stat -c "%a %U:%G" "$1"', path).strip()


def test_a_daemon_json_left_as_keep_by_an_interrupted_purge_is_put_back_first(lab, host_exec, wild):
    assert KEPT not in summary(wild["run"])
    assert any(
        line.startswith(f"gpu-docker: put back {DAEMON_JSON} from {KEEP}")
        for line in host_lines(wild["run"], KEPT)
    ), host_lines(wild["run"], KEPT)
    text = read_bytes(lab, host_exec, KEPT, DAEMON_JSON)
    assert text is not None and text.startswith(b'{\n  "log-level": "warn",\n  "runtimes"'), text
    assert _sh(lab, host_exec, KEPT, f"ls {DAEMON_JSON}*.keep 2>/dev/null; true").strip() == ""
    assert "nvidia" in (docker_runtimes(lab, host_exec, KEPT) or [])


def test_a_second_rollback_finishes_an_interrupted_one_and_mode_owner_come_back(
    lab, host_exec, wild
):
    assert ROLLED_BACK not in summary(wild["run"])
    status, _ = dpkg_state(lab, host_exec, ROLLED_BACK)
    assert status == dict.fromkeys(PACKAGES, f"ii{PIN}-1"), status
    _sh(lab, host_exec, ROLLED_BACK, 'printf "$1" > "$2"', KILL_DPKG, KILL_DPKG_CFG)
    first = _rollback_removing_packages(wild, ROLLED_BACK)
    _sh(lab, host_exec, ROLLED_BACK, 'rm -f "$1"', KILL_DPKG_CFG)
    assert first.returncode != 0, output(first)
    (line,) = host_lines(first, ROLLED_BACK)
    assert "run the rollback again" in line, line
    status, audit = dpkg_state(lab, host_exec, ROLLED_BACK)
    # Where the kill lands depends on load: half-configured, half-installed or config-files.
    assert audit and status["nvidia-container-toolkit-base"][1:2] in "FHc", (status, audit)
    # The restore ran before the purge: the operator's file, mode and owner are back.
    assert read_bytes(lab, host_exec, ROLLED_BACK, DAEMON_JSON) == OPERATOR_JSON
    assert _mode(lab, host_exec, ROLLED_BACK, DAEMON_JSON) == "640 root:adm"

    second = _rollback_removing_packages(wild, ROLLED_BACK)
    assert second.returncode == 0, output(second)
    status, audit = dpkg_state(lab, host_exec, ROLLED_BACK)
    assert status == {} and audit == "", (status, audit)
    assert _sh(lab, host_exec, ROLLED_BACK, "ls /etc/apt/preferences.d/").strip() == ""
    assert read_bytes(lab, host_exec, ROLLED_BACK, DAEMON_JSON) == OPERATOR_JSON
    assert _mode(lab, host_exec, ROLLED_BACK, DAEMON_JSON) == "640 root:adm"
    assert docker_runtimes(lab, host_exec, ROLLED_BACK) is not None
