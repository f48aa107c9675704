"""Converged means `docker run --gpus all` works, end to end on the lab through pyinfra.

dockerd registers the --gpus device driver only when it starts with the hook on its PATH;
the lab's hosts start dockerd at boot, before any toolkit, and the stand-in hook exits 0,
so `--gpus all` works exactly where the driver is registered. ``lab-online-1`` has
bookworm's docker 20.10, ``lab-online-2`` trixie's 26.1, ``lab-restricted-1`` installs
offline. The tests run in order on the same hosts: a --dry verify before any probe
exists, fresh reload converge, never, verify
and its JSON report, the hand-made "installed, never restarted" state, a no-op rerun,
and a driver/library mismatch.
"""

from __future__ import annotations

import json

import pytest
from hosts_state import output
from lab_docker import dockerd_pid, run

from gpu_docker.dockerd_gpus import RELOAD_IS_NOT_ENOUGH
from gpu_docker.lab.inventory import LAB_TOOLKIT_VERSION as PIN
from gpu_docker.lab.lifecycle import running_lab

pytestmark = pytest.mark.lab

ONLINE = ("lab-online-1", "lab-online-2")
RESTRICTED = "lab-restricted-1"
NO_DRIVER = 'could not select device driver "" with capabilities: [[gpu]]'
# The probe verification makes on every host; its tag is the host's glibc version.
PROBE = "$(docker image ls --format '{{.Repository}}:{{.Tag}}' gpu-docker-probe | head -n1)"
GPUS_ALL = (
    f"docker run --rm --network none --pull never --gpus all {PROBE} /sbin/ldconfig --version"
)
MISMATCH = "Failed to initialize NVML: Driver/library version mismatch"


@pytest.fixture(scope="module")
def lab():
    """Two online hosts (the second with trixie's docker 26) and one restricted host."""
    with running_lab(2, 1, 1) as state:
        yield state


def deploy(run_pyinfra, *args: str, data=(), deploy_file="deploys/gpu_docker.py"):
    extra = [
        item for pair in (("--data", d) for d in ("restart_timeout=30", *data)) for item in pair
    ]
    return run_pyinfra(deploy_file, *args, *extra)


def gpus_all(lab, host_exec, name: str):
    """What a user runs: `docker run --gpus all` on the probe image, as run on the host."""
    return host_exec(lab, name, GPUS_ALL)


def lines_of(done, name: str) -> list[str]:
    return [line for line in output(done).splitlines() if f"[{name}]" in line]


# Every image and container, stopped ones too, with full ids: what a --dry must not change.
DOCKER_STATE = (
    "docker image ls -a --no-trunc --format '{{.ID}} {{.Repository}}:{{.Tag}}'; "
    "docker ps -a --no-trunc --format '{{.ID}} {{.Image}} {{.Status}}'"
)


def test_dry_verify_makes_no_probe_and_says_what_it_would_check(
    lab, host_exec, run_pyinfra, tmp_path
):
    names = [h.name for h in lab.hosts]
    before = {name: run(lab, host_exec, name, DOCKER_STATE) for name in names}
    assert not any("gpu-docker-probe" in state for state in before.values())
    report = tmp_path / "dry.json"
    done = run_pyinfra("deploys/verify.py", "--dry", "--data", f"report_path={report}", yes=False)
    assert {name: run(lab, host_exec, name, DOCKER_STATE) for name in names} == before
    for name in names:
        said = "\n".join(lines_of(done, name))
        assert "not on the host; a real verify makes it first" in said, said
        assert "preview: check --gpus all: would run `docker run --rm --network none" in said
        # Toolkit not installed yet: the preview already names why verify would fail.
        assert "nvidia-container-runtime-hook is not on its PATH" in said, said
    assert not report.exists()  # a preview verified nothing, so no report replaces the last


def test_reload_on_a_fresh_install_restarts_says_why_and_gpus_all_works(
    lab, host_exec, run_pyinfra
):
    before = {name: dockerd_pid(lab, host_exec, name) for name in ONLINE}
    done = deploy(run_pyinfra, "--limit", "online", data=["restart_strategy=reload"])
    assert done.returncode == 0, output(done)
    for name in ONLINE:
        said = "\n".join(lines_of(done, name))
        assert RELOAD_IS_NOT_ENOUGH in said, said
        assert "restarting docker: " in said and "dockerd cannot serve --gpus" in said, said
        assert dockerd_pid(lab, host_exec, name) != before[name]  # really restarted
        assert "check --gpus all: ok: ldconfig" in said, said
        works = gpus_all(lab, host_exec, name)
        assert works.returncode == 0, works.stderr
        assert "ldconfig" in works.stdout


def test_never_leaves_the_host_pending_not_converged(lab, host_exec, run_pyinfra):
    pid = dockerd_pid(lab, host_exec, RESTRICTED)
    done = deploy(run_pyinfra, "--limit", RESTRICTED, data=["restart_strategy=never"])
    assert done.returncode != 0, output(done)
    (line,) = [line for line in lines_of(done, RESTRICTED) if "gpu-docker:" in line]
    assert "docker restart pending (restart_strategy=never): " in line
    assert "not converged until docker is restarted" in line
    assert "all 1 hosts converged" not in output(done)
    assert "1 of 1 hosts not converged" in output(done)
    assert dockerd_pid(lab, host_exec, RESTRICTED) == pid
    # Files in place, dockerd untouched: the runtime is written but not served.
    assert '"nvidia"' in run(lab, host_exec, RESTRICTED, "cat /etc/docker/daemon.json")


def test_verify_fails_the_host_where_gpus_all_fails_and_reports_the_fleet(
    lab, host_exec, run_pyinfra, tmp_path
):
    # Register the runtime live, as an operator's `systemctl reload docker` would: the
    # runtime is listed now, the --gpus device driver still is not (installed, never
    # restarted: the state of issue 10's second case).
    run(lab, host_exec, RESTRICTED, "kill -HUP $(cat /var/run/docker.pid); sleep 2")
    report = tmp_path / "fleet" / "verify.json"
    done = deploy(run_pyinfra, data=[f"report_path={report}"], deploy_file="deploys/verify.py")
    assert done.returncode != 0, output(done)
    (line,) = [line for line in lines_of(done, RESTRICTED) if "gpu-docker:" in line]
    assert NO_DRIVER in line and "restart docker" in line
    failing = gpus_all(lab, host_exec, RESTRICTED)  # the probe the verify made
    assert failing.returncode != 0 and NO_DRIVER in failing.stderr

    doc = json.loads(report.read_text())
    hosts = {entry["host"]: entry for entry in doc["hosts"]}
    assert sorted(hosts) == sorted(h.name for h in lab.hosts)
    assert doc["not_verified"] == [RESTRICTED]
    bad = hosts[RESTRICTED]
    assert bad["status"] == "failed" and bad["device_driver_registered"] is False
    assert "nvidia" in bad["runtimes"]
    assert "never registered the --gpus device driver" in bad["pending_restart"]
    assert NO_DRIVER in bad["checks"][0]["output"]
    for name in ONLINE:
        good = hosts[name]
        assert good["status"] == "verified" and good["device_driver_registered"] is True
        assert set(good["toolkit_packages"].values()) == {f"{PIN}-1"}
        assert good["docker_version"] and good["os"].startswith("Debian")
        assert good["gpus"] == [] and good["pending_restart"] is None
        assert [c["ok"] for c in good["checks"]] == [True]
    # The table: one line per host after the run.
    for name in (*ONLINE, RESTRICTED):
        assert any(line.startswith(f"--> {name} ") for line in output(done).splitlines())


def test_installed_but_never_restarted_converges_with_a_restart_alone(lab, host_exec, run_pyinfra):
    pid = dockerd_pid(lab, host_exec, RESTRICTED)
    done = deploy(run_pyinfra, "--limit", RESTRICTED)
    assert done.returncode == 0, output(done)
    said = "\n".join(lines_of(done, RESTRICTED))
    assert "restarting docker: dockerd cannot serve --gpus: dockerd (pid " in said, said
    assert "the toolkit or daemon.json changed" not in said  # nothing else to do
    assert dockerd_pid(lab, host_exec, RESTRICTED) != pid
    works = gpus_all(lab, host_exec, RESTRICTED)
    assert works.returncode == 0, works.stderr


def test_a_rerun_changes_nothing_and_restarts_nothing(lab, host_exec, run_pyinfra):
    names = [h.name for h in lab.hosts]
    before = {name: dockerd_pid(lab, host_exec, name) for name in names}
    done = deploy(run_pyinfra)
    assert done.returncode == 0, output(done)
    assert "restarting docker" not in output(done) and "reloading docker" not in output(done)
    assert {name: dockerd_pid(lab, host_exec, name) for name in names} == before
    for name in names:
        assert gpus_all(lab, host_exec, name).returncode == 0


def test_driver_library_mismatch_fails_verify_with_nvidias_message(lab, host_exec, run_pyinfra):
    name = ONLINE[0]
    stub = "/usr/local/nvidia/bin/nvidia-smi"  # off PATH, where some drivers put it
    run(
        lab,
        host_exec,
        name,
        f'mkdir -p /usr/local/nvidia/bin && printf \'#!/bin/sh\\necho "{MISMATCH}"\\n'
        f'echo "NVML library version: 580.95"\\nexit 18\\n\' > {stub} && chmod +x {stub}',
    )
    try:
        done = deploy(run_pyinfra, "--limit", name, deploy_file="deploys/verify.py")
    finally:
        run(lab, host_exec, name, "rm -rf /usr/local/nvidia")
    assert done.returncode != 0, output(done)
    (line,) = [line for line in lines_of(done, name) if "gpu-docker:" in line]
    assert f"NVIDIA driver problem: {stub} -L failed (exit 18): {MISMATCH}" in line
    assert "no GPU" not in output(done)
