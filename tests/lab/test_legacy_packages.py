"""NVIDIA's superseded packages on a host being converged, end to end on one lab host.

``lab-online-1`` carries the toolkit 1.17.8 plus stand-in TEST FIXTURES of
``nvidia-docker2`` 2.13.0 (which owns /etc/docker/daemon.json as a conffile, as NVIDIA's
did before 2.14.0) and ``nvidia-container-runtime`` 3.13.0, installed over the operator's
own daemon.json (0640 root:adm, kept by ``--force-confold``). The preview names them and
changes nothing; the run purges them, names them, and the operator's daemon.json keeps
every key while no package owns it any more (a later purge cannot delete it).
"""

from __future__ import annotations

import json

import pytest
from hosts_state import dpkg_state, host_lines, lab_of, output, read_bytes, seed_file, upload

from gpu_docker.lab.inventory import LAB_TOOLKIT_VERSION as PIN
from gpu_docker.lab.standin import build_legacy_debs, build_standin_debs
from gpu_docker.toolkit import LEGACY_PACKAGES, PACKAGES

pytestmark = pytest.mark.lab

HOST = "lab-online-1"
CONF = "/etc/docker/daemon.json"
OPERATOR = b'{\n  "log-level": "warn",\n  "registry-mirrors": ["http://mirror.invalid"]\n}\n'
LEGACY_STATE = (
    f"dpkg-query -W -f='${{Package}} ${{db:Status-Abbrev}}${{Version}}\\n' "
    f"{' '.join(LEGACY_PACKAGES)} 2>/dev/null; dpkg -S {CONF} 2>&1; "
    f"stat -c '%a %U:%G' {CONF}; ls /etc/docker; true"
)


@pytest.fixture(scope="module")
def lab(tmp_path_factory, host_exec):
    with lab_of(1, 0) as state:
        debs = tmp_path_factory.mktemp("debs")
        files = [
            *(d for d in build_standin_debs("1.17.8", "amd64", debs) if "-dev" not in d.name),
            *build_legacy_debs(debs),
        ]
        names = [f"/tmp/debs/{deb.name}" for deb in files if "dbg" not in deb.name]
        for deb in files:
            upload(state, HOST, deb, f"/tmp/debs/{deb.name}")
        seed_file(state, host_exec, HOST, CONF, OPERATOR)
        done = host_exec(
            state,
            HOST,
            f"chown root:adm {CONF} && chmod 0640 {CONF} && systemctl restart docker && "
            "DEBIAN_FRONTEND=noninteractive dpkg -i --force-confold "
            + " ".join(n for n in names if "operator-extensions" not in n),
        )
        assert done.returncode == 0, done.stdout + done.stderr
        yield state


def legacy_state(lab, host_exec) -> str:
    return host_exec(lab, HOST, LEGACY_STATE).stdout


def test_the_fixtures_own_daemon_json_as_nvidia_docker2_did(lab, host_exec):
    state = legacy_state(lab, host_exec)
    assert "nvidia-docker2 ii 2.13.0-1" in state and "nvidia-container-runtime ii" in state
    assert f"nvidia-docker2: {CONF}" in state  # dpkg -S: a conffile of the package
    assert read_bytes(lab, host_exec, HOST, CONF) == OPERATOR


def test_the_preview_names_them_and_changes_nothing(lab, host_exec, run_pyinfra):
    before = legacy_state(lab, host_exec)
    done = run_pyinfra("deploys/gpu_docker.py", "--dry", "--limit", HOST, yes=False)
    lines = host_lines(done, HOST)
    assert any(
        line.startswith("gpu-docker: purging nvidia-container-runtime 3.13.0-1, nvidia-docker2")
        for line in lines
    ), output(done)
    assert legacy_state(lab, host_exec) == before


def test_the_run_purges_them_and_keeps_the_operators_daemon_json(lab, host_exec, run_pyinfra):
    done = run_pyinfra("deploys/gpu_docker.py", "--limit", HOST)
    assert done.returncode == 0, output(done)
    lines = host_lines(done, HOST)
    assert any("purging nvidia-container-runtime 3.13.0-1, nvidia-docker2" in x for x in lines)
    state = legacy_state(lab, host_exec)
    assert "nvidia-docker2 " not in state.replace("nvidia-docker2: ", "")  # purged, no rc
    assert f"no path found matching pattern {CONF}" in state  # no package owns it now
    assert ".keep" not in state  # the link that kept it went back into place
    merged = json.loads(read_bytes(lab, host_exec, HOST, CONF) or b"")
    assert merged["log-level"] == "warn" and merged["registry-mirrors"]
    assert "nvidia" in merged["runtimes"]
    # The merge's backup of this run is the operator's file as it was before the purge.
    backups = host_exec(lab, HOST, f"ls {CONF}.gpu-docker-*.bak").stdout.split()
    assert [read_bytes(lab, host_exec, HOST, b) for b in backups] == [OPERATOR]
    mode = host_exec(lab, HOST, f"cat {backups[0]}.mode").stdout.strip()
    assert mode == "640 0:4"  # root:adm, recorded numerically
    status, audit = dpkg_state(lab, host_exec, HOST)
    assert status == dict.fromkeys(PACKAGES, f"ii{PIN}-1") and audit == ""  # upgraded to the pin
    # apt may have installed the toolkit as nvidia-docker2's dependency: not autoremovable.
    auto = host_exec(lab, HOST, "apt-mark showauto").stdout.split()
    assert not set(PACKAGES) & set(auto)
