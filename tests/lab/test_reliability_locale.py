"""Reliability on hosts that do not speak English (issue 21): the same one-line causes.

Operators' servers often carry ``LANG=C.UTF-8`` and ``LANGUAGE=zh_CN:zh`` in
/etc/environment: every ssh session then gets apt's and dpkg's words in Chinese (Debian
ships the translations; the lab's rootfs has them). One lab, every failure class of the
reliability suite set up twice, on a host with that locale and on an English one, in one
pyinfra run; the gpu-docker line of each Chinese host must be the English host's, digits
aside (pids, seconds). The cases are those of ``test_reliability_wild`` (404 source, clock
behind, held packages, dpkg lock holder) and ``test_restart`` (a file dockerd rejects
before the restart, a restart refused and rolled back), set up with their helpers; and on
offline hosts a missing external dependency of the bundle and a failed ``dpkg -i``, on
apt hosts a failed ``apt-get install`` and a docker that will not start.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import NamedTuple

import pytest
from hosts_state import host_lines, lab_of, output, pyinfra, seed_file, write_inventory
from test_reliability_wild import LOCK_HOLDER, _install_bundle, _sh

from gpu_docker.lab.state import LabState

pytestmark = pytest.mark.lab

CHINESE = b"LANG=C.UTF-8\nLANGUAGE=zh_CN:zh\n"
# Proof the locale reaches a session: dpkg says this package is not installed in Chinese.
SAYS_CHINESE = "dpkg -s gd-no-such-package 2>&1 | head -n 1"

Setup = Callable[[LabState, object, str], dict[str, object]]


# Test fixture: an nvidia-ctk ahead of the package's /usr/bin one on the PATH of maintainer
# scripts (apt gives dpkg /usr/sbin:/usr/bin:/sbin:/bin, an ssh session /usr/local/sbin:
# /usr/local/bin:/usr/sbin:...) that refuses ``config``, so the base package's postinst
# fails as a real one can; anything else goes to the package's own nvidia-ctk.
FAILING_CTK = b"""#!/bin/sh
# gpu-docker TEST FIXTURE: makes the stand-in toolkit's postinst fail.
case " $* " in *" config "*) echo "gd-test-fixture: nvidia-ctk config refused" >&2; exit 1 ;; esac
exec /usr/bin/nvidia-ctk.real "$@"
"""
# The postinst runs /usr/bin/nvidia-ctk by its full path, as NVIDIA's does: a local
# diversion installs the package's copy beside it, and the failing one answers there.
DIVERT_CTK = (
    "dpkg-divert --quiet --local --rename --divert /usr/bin/nvidia-ctk.real "
    "--add /usr/bin/nvidia-ctk"
)
POSTINST_FAILED = (
    "installed nvidia-container-toolkit-base package post-installation script subprocess "
    "returned error exit status 1"
)
# Takes libseccomp2 (an external dependency of the 1.17.8 bundle) out of dpkg's database
# while its library stays loadable from /usr/local/lib: the host lacks the package, and
# systemctl (which links it) still runs.
DROP_SECCOMP = r"""
dpkg -L libseccomp2 | grep '\.so' | xargs -I{} cp -a {} /usr/local/lib/ && ldconfig
dpkg --force-depends --purge libseccomp2 >/dev/null 2>&1
dpkg-query -W -f='${db:Status-Abbrev}' libseccomp2 2>/dev/null | grep -q '^ii' || echo DROPPED
"""
# dockerd fails to start with a data root under a file; docker.service passes DOCKER_OPTS.
NO_START = r"""
echo 'DOCKER_OPTS="--data-root /etc/hostname/docker"' > /etc/default/docker
systemctl stop docker.socket docker.service >/dev/null 2>&1
timeout 10 docker info >/dev/null 2>&1 || echo STOPPED
"""


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


def _failing_postinst(lab: LabState, host_exec, name: str) -> dict[str, object]:
    _sh(lab, host_exec, name, DIVERT_CTK)
    seed_file(lab, host_exec, name, "/usr/bin/nvidia-ctk", FAILING_CTK)
    _sh(lab, host_exec, name, "chmod 0755 /usr/bin/nvidia-ctk")
    return {}


def _without_seccomp(lab: LabState, host_exec, name: str) -> dict[str, object]:
    assert _sh(lab, host_exec, name, DROP_SECCOMP).strip() == "DROPPED"
    return {"toolkit_version": "1.17.8"}


def _no_start(lab: LabState, host_exec, name: str) -> dict[str, object]:
    assert _sh(lab, host_exec, name, NO_START).strip() == "STOPPED"
    return {"restart_timeout": 30}


class Case(NamedTuple):
    """One failure class: the lab group its hosts come from, its setup, and words of the
    English host's line."""

    group: str
    setup: Setup
    says: str


CASES: dict[str, Case] = {
    "404": Case("online", _repo("no-such-path"), "the repository answered 404 Not Found"),
    "clock": Case("online", _repo("future-dated"), "the host's clock is behind"),
    "held": Case("online", _held, "held packages would change"),
    "lock": Case("online", _locked, "dpkg/apt lock still held after 5s by pid"),
    "rejected": Case(
        "online",
        lambda lab, host_exec, name: {"daemon_json_extra": {"gd-bogus-key": 1}},
        "dockerd rejected the new /etc/docker/daemon.json",
    ),
    "rollback": Case(
        "online",
        lambda lab, host_exec, name: {
            "daemon_json_extra": {"data-root": "/etc/hostname/docker"},
            "restart_timeout": 30,
        },
        "and docker restarted: it runs as before",
    ),
    "apt-get install": Case(
        "online",
        _failing_postinst,
        "apt-get install failed: dpkg: error processing package nvidia-container-toolkit-base "
        f"(--configure): {POSTINST_FAILED}",
    ),
    "no start": Case("online", _no_start, "docker was not running and did not start"),
    "missing dependency": Case(
        "restricted",
        _without_seccomp,
        "the offline bundle needs packages the host lacks and cannot fetch: libseccomp2",
    ),
    "dpkg -i": Case(
        "restricted",
        _failing_postinst,
        "failed: dpkg: error processing package nvidia-container-toolkit-base (--install): "
        + POSTINST_FAILED,
    ),
}


def _count(group: str) -> int:
    return sum(case.group == group for case in CASES.values())


@pytest.fixture(scope="module")
def lab() -> Iterator[LabState]:
    with lab_of(online=2 * _count("online"), restricted=2 * _count("restricted")) as state:
        yield state


def _pairs(lab: LabState) -> dict[str, tuple[str, str]]:
    """case -> (its Chinese host, its English host), from the case's group."""
    free = {group: [h.name for h in lab.group(group)] for group in ("online", "restricted")}
    return {case: (free[c.group].pop(0), free[c.group].pop(0)) for case, c in CASES.items()}


@pytest.fixture(scope="module")
def run(lab, host_exec, tmp_path_factory):
    settings = {}
    for case, (chinese, english) in _pairs(lab).items():
        seed_file(lab, host_exec, chinese, "/etc/environment", CHINESE)
        assert re.search(r"[\u4e00-\u9fff]", _sh(lab, host_exec, chinese, SAYS_CHINESE))
        for name in (english, chinese):
            settings[name] = CASES[case].setup(lab, host_exec, name)
    inventory = write_inventory(tmp_path_factory.mktemp("inv") / "inventory.py", lab, settings, {})
    return pyinfra(inventory)


def _plain(line: str) -> str:
    return re.sub(r"\d+", "N", line)


@pytest.mark.parametrize("case", list(CASES))
def test_a_chinese_host_says_the_english_hosts_line(lab, run, case):
    chinese, english = _pairs(lab)[case]
    said = host_lines(run, english)
    assert len(said) == 1 and CASES[case].says in said[0], output(run)
    (line,) = host_lines(run, chinese)
    print(f"{case}: {line}")
    assert _plain(line) == _plain(said[0]), (line, said[0])
