"""A new pin moves every host, online and restricted, and an imported bundle installs.

Runs in order on this module's lab: converge at 1.17.8, upgrade both groups to 1.18.1
(whose packages depend on each other's exact version; the online hosts' lists predate it
and were stamped fresh: the new pin must force the refresh), then back down to 1.17.8 from a
bundle made by ``gpu-docker bundle import`` of a release tarball in NVIDIA's layout.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from gpu_docker import toolkit
from gpu_docker.lab.standin import build_release_tarball
from gpu_docker.operations import apt

pytestmark = pytest.mark.lab

PACKAGES = toolkit.PACKAGES


def installed(lab, host_exec, name: str) -> dict[str, str]:
    run = host_exec(
        lab,
        name,
        "dpkg-query -W -f='${Package} ${Version} ${db:Status-Abbrev}\\n' " + " ".join(PACKAGES),
    )
    rows = [line.split() for line in run.stdout.splitlines()]
    return {row[0]: row[1] for row in rows if row[2:3] == ["ii"]}


def assert_everywhere(lab, host_exec, version: str) -> None:
    for host in lab.hosts:
        assert installed(lab, host_exec, host.name) == dict.fromkeys(PACKAGES, version), host.name
        ctk = host_exec(lab, host.name, "nvidia-ctk --version").stdout
        assert version.split("-")[0] in ctk, (host.name, ctk)


def converge(run_pyinfra, *data: str, extra: tuple[str, ...] = ()):
    args = ["deploys/gpu_docker.py", *extra]
    for item in data:
        args += ["--data", item]
    run = run_pyinfra(*args)
    assert run.returncode == 0, run.stdout + run.stderr
    return run


def test_first_converge_installs_the_default_pin(lab, host_exec, run_pyinfra):
    converge(run_pyinfra)
    assert_everywhere(lab, host_exec, "1.17.8-1")


# apt's lists of NVIDIA's source as they were before 1.18.1 was published: gone, with a
# refresh stamp from a minute ago. The new pin alone must force the refresh.
STALE_LISTS = (
    "ls /var/lib/apt/lists/ | grep -c 'stable_deb' && rm -f /var/lib/apt/lists/*stable_deb* "
    f"&& touch {apt.REFRESH_STAMP}"
)


def test_new_pin_upgrades_both_groups_and_moves_the_apt_pin(lab, host_exec, run_pyinfra):
    for host in lab.group("online"):
        stale = host_exec(lab, host.name, STALE_LISTS)
        assert stale.returncode == 0 and int(stale.stdout) > 0, stale.stdout + stale.stderr
    converge(run_pyinfra, "toolkit_version=1.18.1", extra=("--no-wait",))  # the fleet advice
    assert_everywhere(lab, host_exec, "1.18.1-1")
    online = lab.group("online")[0].name
    pin = host_exec(lab, online, "cat /etc/apt/preferences.d/nvidia-container-toolkit").stdout
    assert "Pin: version 1.18.1-1" in pin


def test_imported_release_tarball_installs_on_restricted_hosts(
    lab, host_exec, run_pyinfra, tmp_path: Path
):
    tarball, checksums = build_release_tarball("1.17.8", "amd64", tmp_path / "download")
    bundles = tmp_path / "bundles"
    bundles.mkdir()
    imported = subprocess.run(
        [
            sys.executable,
            "-m",
            "gpu_docker.cli",
            "bundle",
            "import",
            str(tarball),
            "--checksums",
            str(checksums),
            "--bundle-dir",
            str(bundles),
        ],
        capture_output=True,
        text=True,
    )
    assert imported.returncode == 0, imported.stdout + imported.stderr
    assert (bundles / "1.17.8" / "amd64" / "manifest.json").is_file()

    # Back down to 1.17.8: online from the repository, restricted from the imported bundle.
    converge(run_pyinfra, "toolkit_version=1.17.8", f"bundle_dir={bundles}")
    assert_everywhere(lab, host_exec, "1.17.8-1")
    for host in lab.group("restricted"):
        cached = host_exec(lab, host.name, "ls /var/cache/gpu-docker/1.17.8/amd64").stdout.split()
        assert sorted(cached) == sorted(
            p.name for p in (bundles / "1.17.8" / "amd64").glob("*.deb")
        )


def test_a_failed_install_puts_the_holds_back_and_says_why_in_one_line(lab, host_exec, run_pyinfra):
    """A pin apt cannot find, on a host whose toolkit is held and ``release_holds``: apt's
    own line names the cause, and the holds are back (they were left released before)."""
    name = lab.group("online")[0].name
    hold = host_exec(lab, name, f"apt-mark hold {' '.join(PACKAGES)} >/dev/null")
    assert hold.returncode == 0, hold.stderr
    run = run_pyinfra(
        "deploys/gpu_docker.py",
        "--limit",
        name,
        "--data",
        "toolkit_version=1.99.0",
        "--data",
        "release_holds=true",
    )
    text = run.stdout + run.stderr
    assert run.returncode != 0, text
    (line,) = {x for x in text.splitlines() if "gpu-docker: apt-get install failed:" in x}
    assert text.count(line) == 1, text
    assert "E: Version '1.99.0-1' for '" in line and "' was not found" in line, line
    assert line.endswith(f"the holds on {' '.join(sorted(PACKAGES))} were put back"), line
    held = host_exec(lab, name, "apt-mark showhold").stdout.split()
    assert sorted(held) == sorted(PACKAGES)
    versions = host_exec(lab, name, "dpkg-query -W -f='${Version}\\n' " + " ".join(PACKAGES))
    assert versions.stdout.split() == ["1.17.8-1"] * len(PACKAGES)  # held: "hi", not "ii"


DEAD_PROXY = "/etc/apt/apt.conf.d/99zz-gpu-docker-test-dead-proxy"


def test_a_refresh_that_fetched_nothing_fails_in_one_line_and_is_not_stamped(
    lab, host_exec, run_pyinfra
):
    """apt-get update exits 0 when the fetch fails (a dead proxy here): the host fails
    quoting apt's W: line; the stamp, removed by the pin's forced refresh, stays gone."""
    name = lab.group("online")[1].name
    setup = host_exec(
        lab, name, f"echo 'Acquire::http::Proxy \"http://127.0.0.1:9\";' > {DEAD_PROXY}"
    )
    assert setup.returncode == 0, setup.stderr
    try:
        run = run_pyinfra(
            "deploys/gpu_docker.py", "--limit", name, "--data", "toolkit_version=1.18.1"
        )
    finally:
        host_exec(lab, name, f"rm -f {DEAD_PROXY}")
    text = run.stdout + run.stderr
    assert run.returncode != 0, text
    (line,) = {x for x in text.splitlines() if "gpu-docker: apt-get update" in x}
    assert text.count(line) == 1, text
    assert "apt-get update of NVIDIA's source failed: W: Failed to fetch " in line, line
    stamp = host_exec(lab, name, f"test -e {apt.REFRESH_STAMP}")
    assert stamp.returncode == 1
    assert installed(lab, host_exec, name) == dict.fromkeys(PACKAGES, "1.17.8-1")
