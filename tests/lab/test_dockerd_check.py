"""dockerd's own verdict on an operator's unloaded daemon.json, before anything is installed,
on docker 20.10.5 (bullseye), 20.10.24 (bookworm, both without ``--validate``) and 26.1.5
(trixie, with it).

One lab of three systemd hosts, one per release, dockerd running without a daemon.json.
The operator then writes daemon.json without restarting docker: a key dockerd does not
know, a value of the wrong type, then a file dockerd accepts. The first two refuse every
host with dockerd's own words (20.10 asked by loading the file as uid 65534, see
``dockerd_check`` in ``lib_dockerd.sh``), nothing installed and docker untouched (same
files, same dockerd, no state left by the check); the third converges.
"""

from __future__ import annotations

import pytest
from hosts_state import docker_runtimes, docker_snapshot, dpkg_state, host_lines, output, seed_file

from gpu_docker.lab.lifecycle import running_lab

pytestmark = pytest.mark.lab

RELEASES = ("bullseye", "bookworm", "trixie")
DAEMON_JSON = "/etc/docker/daemon.json"
# What the check could leave on a host if it touched the running docker's state.
TOUCHED = "ls -A /run /var/run/docker /var/lib/docker 2>/dev/null | md5sum; ip -o link | wc -l"


@pytest.fixture(scope="module")
def lab():
    with running_lab(3, 0, releases=RELEASES) as state:
        yield state


def _refused(lab, host_exec, run_pyinfra, text: bytes) -> dict[str, str]:
    """Write ``text`` as daemon.json on every host, run the deploy: each host's one line."""
    for host in lab.hosts:
        seed_file(lab, host_exec, host.name, DAEMON_JSON, text)
    before = {
        h.name: (docker_snapshot(lab, host_exec, h.name), _touched(lab, host_exec, h.name))
        for h in lab.hosts
    }
    done = run_pyinfra("deploys/gpu_docker.py")
    assert done.returncode != 0, output(done)
    lines = {}
    for host in lab.hosts:
        (line,) = host_lines(done, host.name)
        print(f"{host.release}: {line}")
        lines[host.release] = line
        after = (docker_snapshot(lab, host_exec, host.name), _touched(lab, host_exec, host.name))
        assert after == before[host.name], host.name
        assert dpkg_state(lab, host_exec, host.name)[0] == {}, host.name
    return lines


def _touched(lab, host_exec, name: str) -> str:
    return host_exec(lab, name, TOUCHED).stdout


def test_an_unknown_key_is_refused_in_dockerds_words(lab, host_exec, run_pyinfra):
    lines = _refused(lab, host_exec, run_pyinfra, b'{"bogus-key": 1}\n')
    for release, line in lines.items():
        assert line == (
            f"gpu-docker: {DAEMON_JSON} was changed since dockerd started and dockerd rejects "
            f"it (unable to configure the Docker daemon with file {DAEMON_JSON}: the following "
            "directives don't match any configuration option: bogus-key): a restart would "
            "leave docker down; fix it first, nothing changed"
        ), release


def test_a_value_of_the_wrong_type_is_refused_in_dockerds_words(lab, host_exec, run_pyinfra):
    lines = _refused(lab, host_exec, run_pyinfra, b'{"debug": "yes"}\n')
    for release, line in lines.items():
        assert (
            f"dockerd rejects it (unable to configure the Docker daemon with file {DAEMON_JSON}: "
            in line
        ), release
        assert "cannot unmarshal string into Go struct field" in line and "debug" in line, release


def test_a_file_dockerd_accepts_converges(lab, host_exec, run_pyinfra):
    for host in lab.hosts:
        seed_file(lab, host_exec, host.name, DAEMON_JSON, b'{"debug": true}\n')
    done = run_pyinfra("deploys/gpu_docker.py")
    assert done.returncode == 0, output(done)
    for host in lab.hosts:
        assert "nvidia" in (docker_runtimes(lab, host_exec, host.name) or []), host.name
