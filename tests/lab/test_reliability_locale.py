"""Reliability on hosts that do not speak English (issue 21): the same one-line causes.

Operators' servers often carry ``LANG=C.UTF-8`` and ``LANGUAGE=zh_CN:zh`` in
/etc/environment: every ssh session then gets apt's and dpkg's words in Chinese (Debian
ships the translations; the lab's rootfs has them). One lab, every failure class of the
reliability suite set up twice, on a host with that locale and on an English one, in one
pyinfra run; the gpu-docker line of each Chinese host must be the English host's, digits
aside (pids, seconds). The cases are those of ``test_reliability_wild`` (404 source, clock
behind, held packages, dpkg lock holder) and ``test_restart`` (a file dockerd rejects
before the restart, a restart refused and rolled back), set up with their helpers.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import pytest
from hosts_state import host_lines, lab_of, output, pyinfra, seed_file, write_inventory
from test_reliability_wild import LOCK_HOLDER, _install_bundle, _sh

from gpu_docker.lab.state import LabState

pytestmark = pytest.mark.lab

CHINESE = b"LANG=C.UTF-8\nLANGUAGE=zh_CN:zh\n"
# Proof the locale reaches a session: dpkg says this package is not installed in Chinese.
SAYS_CHINESE = "dpkg -s gd-no-such-package 2>&1 | head -n 1"

Setup = Callable[[LabState, object, str], dict[str, object]]


def _repo(path: str) -> Setup:
    return lambda lab, host_exec, name: {
        "apt_repo_url": lab.repo_url.replace("/stable/", f"/{path}/")
    }


def _held(lab: LabState, host_exec, name: str) -> dict[str, object]:
    _install_bundle(lab, host_exec, name, "1.17.8", hold=True)
    return {"toolkit_version": "1.18.1"}


def _locked(lab: LabState, host_exec, name: str) -> dict[str, object]:
    assert _sh(lab, host_exec, name, LOCK_HOLDER, "900").strip() == "1"
    return {"dpkg_lock_timeout": 5}


#: case -> its setup, returning the host's settings; and a words of its English line.
CASES: dict[str, tuple[Setup, str]] = {
    "404": (_repo("no-such-path"), "the repository answered 404 Not Found"),
    "clock": (_repo("future-dated"), "the host's clock is behind"),
    "held": (_held, "held packages would change"),
    "lock": (_locked, "dpkg/apt lock still held after 5s by pid"),
    "rejected": (
        lambda lab, host_exec, name: {"daemon_json_extra": {"gd-bogus-key": 1}},
        "dockerd rejected the new /etc/docker/daemon.json",
    ),
    "rollback": (
        lambda lab, host_exec, name: {
            "daemon_json_extra": {"data-root": "/etc/hostname/docker"},
            "restart_timeout": 30,
        },
        "and docker restarted: it runs as before",
    ),
}


@pytest.fixture(scope="module")
def lab() -> Iterator[LabState]:
    with lab_of(online=2 * len(CASES), restricted=0) as state:
        yield state


def _pairs(lab: LabState) -> dict[str, tuple[str, str]]:
    """case -> (its Chinese host, its English host)."""
    names = [h.name for h in lab.group("online")]
    return {case: (names[2 * i], names[2 * i + 1]) for i, case in enumerate(CASES)}


@pytest.fixture(scope="module")
def run(lab, host_exec, tmp_path_factory):
    settings = {}
    for case, (chinese, english) in _pairs(lab).items():
        seed_file(lab, host_exec, chinese, "/etc/environment", CHINESE)
        assert re.search(r"[\u4e00-\u9fff]", _sh(lab, host_exec, chinese, SAYS_CHINESE))
        for name in (english, chinese):
            settings[name] = CASES[case][0](lab, host_exec, name)
    inventory = write_inventory(tmp_path_factory.mktemp("inv") / "inventory.py", lab, settings, {})
    return pyinfra(inventory)


def _plain(line: str) -> str:
    return re.sub(r"\d+", "N", line)


@pytest.mark.parametrize("case", list(CASES))
def test_a_chinese_host_says_the_english_hosts_line(lab, run, case):
    chinese, english = _pairs(lab)[case]
    said = host_lines(run, english)
    assert len(said) == 1 and CASES[case][1] in said[0], output(run)
    (line,) = host_lines(run, chinese)
    print(f"{case}: {line}")
    assert _plain(line) == _plain(said[0]), (line, said[0])
