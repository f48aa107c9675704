"""A new pin moves the whole fleet across toolkit generations and back, in one run each.

Runs in order, once on a lab of systemd hosts and once on a lab of sysv hosts (3 online,
the last on trixie, and 2 restricted each). Every host has ``cdi=true``, the debug log
setting ``runtime_cli_debug_log`` at NVIDIA's default path (the key the stand-in
postinst of releases before 1.20.0 switches off again, as NVIDIA's did) and a TEST
FIXTURE driver: an ``nvidia-smi`` that reports a version and a kernel module index naming
``nvidia.ko`` (what nvidia-cdi-refresh.service checks and its .path unit watches).

1. Converge at 1.17.8 (online from the lab repository, restricted from bundles): gpu-docker
   generates its own CDI spec; the operator then edits config.toml by hand.
2. Upgrade everyone to 1.20.0 in one run (the online hosts' apt lists predate it and were
   stamped fresh: the new pin must force the refresh). The -base postinst rewrites
   config.toml; the operator's key and gpu-docker's survive; docker says why it restarts.
   systemd hosts: NVIDIA's refresh units are enabled and own the spec (ours goes), and a
   driver change (the module index rewritten) regenerates it with no gpu-docker run.
   sysv hosts: gpu-docker regenerates its own spec for the new toolkit.
3. Back down to 1.17.8, restricted hosts from a bundle made by ``gpu-docker bundle import``
   of a release tarball in NVIDIA's layout. 1.17.8's postinst comments out the debug key;
   gpu-docker merges it again. The units and their spec go; gpu-docker's spec is back.
After each move a second run changes no file and restarts nothing.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import tomllib
from hosts_state import output, read_bytes, seed_file, summary
from lab_docker import dockerd_pid

from gpu_docker import toolkit
from gpu_docker.lab.lifecycle import running_lab
from gpu_docker.lab.standin import build_release_tarball
from gpu_docker.lab.state import LabState
from gpu_docker.operations import apt

pytestmark = pytest.mark.lab

PACKAGES = toolkit.PACKAGES
OLD, NEW = "1.17.8", "1.20.0"
CONFIG = "/etc/nvidia-container-runtime/config.toml"
OWN_SPEC = "/etc/cdi/nvidia.yaml"
UNITS_SPEC = "/var/run/cdi/nvidia.yaml"
UNIT_DIR = "/lib/systemd/system"  # where 1.20.0 puts nvidia-cdi-refresh.{service,path}
CLI_DEBUG = "/var/log/nvidia-container-toolkit.log"  # NVIDIA's default, set on purpose
SETTINGS = ("cdi=true", f"runtime_cli_debug_log={CLI_DEBUG}")
NVIDIA_SMI = """#!/bin/sh
# gpu-docker TEST FIXTURE, not NVIDIA's nvidia-smi: reports driver {version}, lists no GPU.
case "$*" in
    *--query-gpu=driver_version*) echo "{version}" ;;
esac
exit 0
"""
# A kernel module index naming the driver, as depmod writes it after a driver install:
# nvidia-cdi-refresh.service runs only where it names nvidia.ko, its .path unit watches it.
MODULES_DEP = (
    'dir=/lib/modules/$(uname -r) && mkdir -p "$dir" && printf "%s\\n" "$1" > "$dir/modules.dep"'
)
WATCHED = [OWN_SPEC, UNITS_SPEC, CONFIG, "/etc/docker/daemon.json"]


@pytest.fixture(scope="module", params=["systemd", "sysv"])
def lab(request: pytest.FixtureRequest) -> Iterator[LabState]:
    """One lab per init system, 3 online hosts (the last on trixie) and 2 restricted."""
    if os.geteuid() != 0:
        pytest.skip("the sandbox lab needs root (network namespaces, mounts, bridges)")
    with running_lab(3, 2, 1, init=request.param) as state:
        yield state


def systemd(lab: LabState) -> bool:
    return lab.hosts[0].init == "systemd"


def sh(lab, host_exec, name: str, command: str) -> str:
    done = host_exec(lab, name, command)
    assert done.returncode == 0, f"{name}: {command}: {done.stdout}{done.stderr}"
    return done.stdout


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
        assert installed(lab, host_exec, host.name) == dict.fromkeys(PACKAGES, f"{version}-1")
        ctk = sh(lab, host_exec, host.name, "nvidia-ctk --version")
        assert version in ctk, (host.name, ctk)
        link = sh(lab, host_exec, host.name, "readlink /usr/bin/nvidia-container-toolkit")
        assert link.strip() == "/usr/bin/nvidia-container-runtime-hook"  # the postinst's link


def converge(run_pyinfra, *data: str, extra: tuple[str, ...] = ()):
    args = ["deploys/gpu_docker.py", *extra]
    for item in (*SETTINGS, *data):
        args += ["--data", item]
    run = run_pyinfra(*args)
    assert run.returncode == 0, output(run)
    assert list(summary(run)) == ["*"], output(run)  # every host converged
    return run


def config(lab, host_exec, name: str) -> dict:
    return tomllib.loads((read_bytes(lab, host_exec, name, CONFIG) or b"").decode())


def snapshot(lab, host_exec) -> dict[str, object]:
    """What a no-op rerun must leave alone: the files' bytes and dockerd's pid."""
    found: dict[str, object] = {}
    for host in lab.hosts:
        for path in WATCHED:
            found[f"{host.name}:{path}"] = read_bytes(lab, host_exec, host.name, path)
        found[f"{host.name}:dockerd"] = dockerd_pid(lab, host_exec, host.name)
    return found


def assert_second_run_changes_nothing(lab, host_exec, run_pyinfra, *data: str) -> None:
    before = snapshot(lab, host_exec)
    again = converge(run_pyinfra, *data)
    assert snapshot(lab, host_exec) == before
    text = output(again)
    assert not re.search(r"(restart|reload)ing docker:", text), text
    # The closing table's counts (hosts, success, error, no change): no merge changed.
    merge = [x for x in text.splitlines() if "gpu-docker | Merge the runtime settings" in x][-1]
    assert merge.split()[-3] == "-", merge


def test_a_fixture_driver_on_every_host(lab, host_exec):
    for host in lab.hosts:
        smi = NVIDIA_SMI.format(version="550.54.15").encode()
        seed_file(lab, host_exec, host.name, "/usr/bin/nvidia-smi", smi)
        sh(lab, host_exec, host.name, "chmod 755 /usr/bin/nvidia-smi")
        done = host_exec(lab, host.name, ["sh", "-c", MODULES_DEP, "sh", "kernel/nvidia.ko:"])
        assert done.returncode == 0, done.stderr


PIN_WARNING = (
    f"gpu-docker: the pin: toolkit {OLD} is affected by NVIDIA security bulletins: "
    "CVE-2026-24260 (highest CVSS 8.5); the first version with every fix is 1.19.1"
)


def pin_warnings(run) -> dict[str, int]:
    """How often each host was told its pin has open bulletins."""
    found: dict[str, int] = {}
    for line in output(run).splitlines():
        if "gpu-docker: the pin: " in line:
            name = line.split("]")[0].split("[")[-1]
            found[name] = found.get(name, 0) + 1
    return found


def verify_table(run_pyinfra) -> dict[str, list[str]]:
    """deploys/verify.py's closing table: host -> its cells."""
    run = run_pyinfra("deploys/verify.py")
    rows = [x.split()[1:] for x in output(run).splitlines() if x.startswith("--> lab-")]
    return {row[0]: row for row in rows}


def test_first_converge_at_the_old_release(lab, host_exec, run_pyinfra):
    run = converge(run_pyinfra, f"toolkit_version={OLD}")
    assert_everywhere(lab, host_exec, OLD)
    # The pin lacks CVE-2026-24260's fix: said once per host, in the run itself.
    assert pin_warnings(run) == {host.name: 1 for host in lab.hosts}, output(run)
    assert PIN_WARNING in output(run)
    # verify marks every host whose installed toolkit has open bulletins.
    table = verify_table(run_pyinfra)
    assert {name: row[4] for name, row in table.items()} == {
        host.name: "1:CVSS8.5" for host in lab.hosts
    }, table
    for host in lab.hosts:
        assert config(lab, host_exec, host.name)["nvidia-container-cli"]["debug"] == CLI_DEBUG
        spec = read_bytes(lab, host_exec, host.name, OWN_SPEC) or b""
        assert f"nvidia-ctk {OLD}".encode() in spec, host.name  # 1.17 has no refresh units
        # The operator raises the runtime's log level by hand.
        sh(
            lab,
            host_exec,
            host.name,
            f'sed -i \'s/^log-level = "info"/log-level = "debug"/\' {CONFIG}',
        )
    assert_second_run_changes_nothing(lab, host_exec, run_pyinfra, f"toolkit_version={OLD}")


# apt's lists of NVIDIA's source as they were before the new release was published: gone,
# with a refresh stamp from a minute ago. The new pin alone must force the refresh.
STALE_LISTS = (
    "ls /var/lib/apt/lists/ | grep -c 'stable_deb' && rm -f /var/lib/apt/lists/*stable_deb* "
    f"&& touch {apt.REFRESH_STAMP}"
)


def test_upgrade_to_the_new_default_moves_every_host_in_one_run(lab, host_exec, run_pyinfra):
    for host in lab.group("online"):
        stale = host_exec(lab, host.name, STALE_LISTS)
        assert stale.returncode == 0 and int(stale.stdout) > 0, stale.stdout + stale.stderr
    run = converge(run_pyinfra, f"toolkit_version={NEW}", extra=("--no-wait",))
    assert_everywhere(lab, host_exec, NEW)
    assert pin_warnings(run) == {}, output(run)
    table = verify_table(run_pyinfra)
    assert {row[4] for row in table.values()} == {"none"} and len(table) == len(lab.hosts)
    online = lab.group("online")[0].name
    pin = sh(lab, host_exec, online, "cat /etc/apt/preferences.d/nvidia-container-toolkit")
    assert f"Pin: version {NEW}-1" in pin
    text = output(run)
    for host in lab.hosts:
        data = config(lab, host_exec, host.name)
        assert data["nvidia-container-runtime"]["log-level"] == "debug", host.name  # operator's
        assert data["nvidia-container-cli"]["debug"] == CLI_DEBUG, host.name  # gpu-docker's
        said = [x for x in text.splitlines() if f"[{host.name}]" in x and "ing docker: " in x]
        mine = "\n".join(x for x in text.splitlines() if host.name in x)
        assert any("the toolkit or daemon.json changed" in x for x in said), mine
        units = host_exec(lab, host.name, f"ls {UNIT_DIR}/nvidia-cdi-refresh.path")
        assert units.returncode == 0, host.name  # installed on sysv hosts too, never started
    if systemd(lab):
        for host in lab.hosts:
            state = sh(lab, host_exec, host.name, "systemctl is-enabled nvidia-cdi-refresh.path")
            assert state.strip() == "enabled", host.name
            spec = read_bytes(lab, host_exec, host.name, UNITS_SPEC) or b""
            assert f"nvidia-ctk {NEW}".encode() in spec, host.name
            assert read_bytes(lab, host_exec, host.name, OWN_SPEC) is None, host.name
    else:
        for host in lab.hosts:
            spec = read_bytes(lab, host_exec, host.name, OWN_SPEC) or b""
            assert f"nvidia-ctk {NEW}".encode() in spec, host.name  # gpu-docker regenerated
            assert read_bytes(lab, host_exec, host.name, UNITS_SPEC) is None, host.name
    assert_second_run_changes_nothing(lab, host_exec, run_pyinfra, f"toolkit_version={NEW}")


def test_a_driver_change_regenerates_the_spec(lab, host_exec, run_pyinfra):
    """systemd: the .path unit sees the module index rewritten, with no gpu-docker run.
    sysv: the next run sees the new driver version and regenerates."""
    name = lab.hosts[0].name
    spec_path = UNITS_SPEC if systemd(lab) else OWN_SPEC
    before = read_bytes(lab, host_exec, name, spec_path)
    smi = NVIDIA_SMI.format(version="570.86.15").encode()
    seed_file(lab, host_exec, name, "/usr/bin/nvidia-smi", smi)
    new_index = "kernel/nvidia.ko:\nkernel/nvidia-uvm.ko: kernel/nvidia.ko"
    done = host_exec(lab, name, ["sh", "-c", MODULES_DEP, "sh", new_index])
    assert done.returncode == 0, done.stderr
    if systemd(lab):
        # The lab's nspawn hosts sometimes fail to put a just-spawned process in its cgroup
        # (status 219/CGROUP, which systemd counts as a condition not met): the index is
        # written again, as a second depmod run would, a few times at most.
        status = "systemctl status --no-pager nvidia-cdi-refresh.path nvidia-cdi-refresh.service"
        for attempt in range(4):
            deadline = time.monotonic() + 8
            while time.monotonic() < deadline:
                if read_bytes(lab, host_exec, name, spec_path) != before:
                    break
                time.sleep(0.5)
            else:
                index = f"{new_index}\nkernel/nvidia-modeset.ko:{' ' * attempt}"
                host_exec(lab, name, ["sh", "-c", MODULES_DEP, "sh", index])
                continue
            break
        after = read_bytes(lab, host_exec, name, spec_path)
        assert after != before, host_exec(lab, name, status).stdout
        assert_second_run_changes_nothing(lab, host_exec, run_pyinfra, f"toolkit_version={NEW}")
    else:
        converge(run_pyinfra, f"toolkit_version={NEW}")
        assert read_bytes(lab, host_exec, name, spec_path) != before
        stamp = sh(lab, host_exec, name, "cat /var/lib/gpu-docker/cdi-nvidia.yaml.generated-for")
        assert stamp.startswith("driver=570.86.15 "), stamp


def test_back_down_with_an_imported_bundle_and_the_debug_key_merged_again(
    lab, host_exec, run_pyinfra, tmp_path: Path
):
    tarball, checksums = build_release_tarball(OLD, "amd64", tmp_path / "download")
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
    assert "operator-extensions" in imported.stdout  # skipped and listed
    converge(run_pyinfra, f"toolkit_version={OLD}", f"bundle_dir={bundles}")
    assert_everywhere(lab, host_exec, OLD)
    for host in lab.hosts:
        data = config(lab, host_exec, host.name)
        assert data["nvidia-container-cli"]["debug"] == CLI_DEBUG, host.name
        assert data["nvidia-container-runtime"]["log-level"] == "debug", host.name
        # The backup this run made is the file as 1.17.8's postinst left it: our key
        # commented out again (the revert NVIDIA fixed in 1.20.0), so gpu-docker re-merged.
        newest = sh(lab, host_exec, host.name, f"ls -t {CONFIG}.gpu-docker-*.bak | head -n 1")
        reverted = (read_bytes(lab, host_exec, host.name, newest.strip()) or b"").decode()
        assert f'#debug = "{CLI_DEBUG}"' in reverted, (host.name, reverted)
        assert f"nvidia-ctk {OLD}" in reverted
        assert host_exec(lab, host.name, f"ls {UNIT_DIR}/nvidia-cdi-refresh.path").returncode
        spec = read_bytes(lab, host_exec, host.name, OWN_SPEC) or b""
        assert f"nvidia-ctk {OLD}".encode() in spec, host.name
        assert read_bytes(lab, host_exec, host.name, UNITS_SPEC) is None, host.name
    for host in lab.group("restricted"):
        cached = sh(lab, host_exec, host.name, f"ls /var/cache/gpu-docker/{OLD}/amd64").split()
        assert sorted(cached) == sorted(p.name for p in (bundles / OLD / "amd64").glob("*.deb"))
    assert_second_run_changes_nothing(
        lab, host_exec, run_pyinfra, f"toolkit_version={OLD}", f"bundle_dir={bundles}"
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
    assert versions.stdout.split() == [f"{OLD}-1"] * len(PACKAGES)  # held: "hi", not "ii"


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
            "deploys/gpu_docker.py", "--limit", name, "--data", "toolkit_version=1.18.2"
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
    assert installed(lab, host_exec, name) == dict.fromkeys(PACKAGES, f"{OLD}-1")
