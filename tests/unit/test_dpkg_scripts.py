"""The apt and dpkg scripts, run for real against stand-in ``apt-get`` and ``dpkg``.

The stand-ins print what the test gives them (apt's and dpkg's real failure texts) and
exit with its status, or are killed; ``dpkg --set-selections`` records what it was fed,
so a test sees holds released and put back. Every failure must end in one
``gpu-docker:`` line naming apt's or dpkg's error, the tool's output passed on before it.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from gpu_docker import sh

NOT_FOUND = (
    "Reading package lists...\nE: Version '1.18.2-1' for 'nvidia-container-toolkit' was not found\n"
)
POSTINST = (
    "Setting up nvidia-container-toolkit (1.17.8-1) ...\n"
    "dpkg: error processing package nvidia-container-toolkit (--configure):\n"
    " installed nvidia-container-toolkit package post-installation script subprocess "
    "returned error exit status 1\n"
    "Errors were encountered while processing:\n"
    " nvidia-container-toolkit\n"
    "E: Sub-process /usr/bin/dpkg returned an error code (1)\n"
)
POSTINST_CAUSE = (
    "dpkg: error processing package nvidia-container-toolkit (--configure): installed "
    "nvidia-container-toolkit package post-installation script subprocess returned error "
    "exit status 1"
)
FETCH_FAILED = (
    "Err:1 https://nvidia.github.io/libnvidia-container/stable/deb/amd64  InRelease\n"
    "  Could not resolve 'nvidia.github.io'\n"
    "Reading package lists...\n"
    "W: Failed to fetch https://nvidia.github.io/libnvidia-container/stable/deb/amd64/"
    "InRelease  Could not resolve 'nvidia.github.io'\n"
    "W: Some index files failed to download. They have been ignored, or old ones used "
    "instead.\n"
)
# Prints $STUB_OUT, then is killed when $STUB_KILL is set, else exits $STUB_RC.
TOOL = """#!/bin/sh
echo "$0 $*" >> "$STUB_STATE/calls"
if [ "$1" = --set-selections ]; then cat >> "$STUB_STATE/selections"; exit 0; fi
[ -z "$STUB_OUT" ] || printf '%s' "$STUB_OUT"
[ -z "$STUB_KILL" ] || kill -9 $$
exit "${STUB_RC:-0}"
"""


@dataclass
class Run:
    rc: int
    stdout: str
    stderr: str
    selections: str
    calls: list[str]

    @property
    def said(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.startswith("gpu-docker:")]


@pytest.fixture
def run_script(tmp_path: Path):
    """``run_script(name, *args, out=, rc=, kill=)``: the script with the stand-ins first."""
    stubs = tmp_path / "bin"
    stubs.mkdir()
    for tool in ("apt-get", "dpkg"):
        (stubs / tool).write_text(TOOL)
        (stubs / tool).chmod(0o755)
    state = tmp_path / "state"
    state.mkdir()

    def run(name: str, *args: str, out: str = "", rc: int = 0, kill: bool = False) -> Run:
        for f in ("calls", "selections"):
            (state / f).write_text("")
        env = {
            "PATH": f"{stubs}:/usr/bin:/bin",
            "STUB_STATE": str(state),
            "STUB_OUT": out,
            "STUB_RC": str(rc),
            "STUB_KILL": "1" if kill else "",
        }
        done = subprocess.run(
            ["sh", "-c", sh.command(name, *args).get_raw_value()],
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path,
            timeout=60,
        )
        return Run(
            done.returncode,
            done.stdout,
            done.stderr,
            (state / "selections").read_text(),
            (state / "calls").read_text().splitlines(),
        )

    return run


HELD = "libnvidia-container-tools libnvidia-container1"
RELEASED_AND_HELD = (
    "libnvidia-container-tools install\nlibnvidia-container1 install\n"
    "libnvidia-container-tools hold\nlibnvidia-container1 hold\n"
)


def test_a_failed_apt_install_puts_the_holds_back_and_says_so_in_one_line(run_script):
    run = run_script(
        "apt_install", HELD, "60", "nvidia-container-toolkit=1.18.2-1", out=NOT_FOUND, rc=100
    )
    assert run.rc == 100
    assert run.selections == RELEASED_AND_HELD
    assert NOT_FOUND in run.stdout  # apt's own output passed on
    assert (
        run.stderr.splitlines()[-1]
        == run.said[0]
        == (
            "gpu-docker: apt-get install failed: E: Version '1.18.2-1' for "
            f"'nvidia-container-toolkit' was not found; the holds on {HELD} were put back"
        )
    )


def test_a_killed_apt_install_still_puts_the_holds_back(run_script):
    run = run_script("apt_install", HELD, "60", "nvidia-container-toolkit=1.18.1-1", kill=True)
    assert run.rc == 137
    assert run.selections == RELEASED_AND_HELD
    assert run.said == [
        f"gpu-docker: apt-get install failed: killed by signal 9; the holds on {HELD} were put back"
    ]


def test_a_dpkg_failure_under_apt_names_dpkg_s_error_not_apt_s_summary(run_script):
    run = run_script(
        "apt_install", "", "60", "nvidia-container-toolkit=1.17.8-1", out=POSTINST, rc=100
    )
    assert run.rc == 100 and run.selections == ""
    assert run.said == [f"gpu-docker: apt-get install failed: {POSTINST_CAUSE}"]


def test_dpkg_s_lines_through_apt_s_pty_end_in_one_line_without_a_carriage_return(run_script):
    """apt runs dpkg on a pseudo-terminal: its lines end in CR LF. A CR left in the cause
    splits the one line on the operator's terminal (seen on a lab host)."""
    out = POSTINST.replace("\n", "\r\n")
    run = run_script("apt_install", "", "60", "nvidia-container-toolkit=1.17.8-1", out=out, rc=100)
    assert run.stderr.split("\n")[-2] == f"gpu-docker: apt-get install failed: {POSTINST_CAUSE}"


def test_an_apt_install_that_works_holds_again_and_says_nothing(run_script):
    run = run_script("apt_install", HELD, "60", "nvidia-container-toolkit=1.18.1-1")
    assert (run.rc, run.said, run.selections) == (0, [], RELEASED_AND_HELD)
    (install,) = [c for c in run.calls if "apt-get" in c]
    assert install.endswith(
        "apt-get -y -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "
        "install --allow-downgrades -o DPkg::Lock::Timeout=60 nvidia-container-toolkit=1.18.1-1"
    )


def bundle(tmp_path: Path) -> tuple[str, str]:
    deb = tmp_path / "cache" / "a_1_amd64.deb"
    deb.parent.mkdir(exist_ok=True)
    deb.write_bytes(b"deb")
    return str(deb.parent), f"{deb.name}={hashlib.sha256(b'deb').hexdigest()}"


def test_a_failed_bundle_install_puts_the_holds_back_and_names_dpkg_s_error(run_script, tmp_path):
    cache, entry = bundle(tmp_path)
    run = run_script("dpkg_install", HELD, cache, entry, out=POSTINST, rc=1)
    assert run.rc == 1 and run.selections == RELEASED_AND_HELD
    assert POSTINST in run.stdout
    assert run.said == [
        f"gpu-docker: dpkg -i of the bundle in {cache} failed: {POSTINST_CAUSE}; "
        f"the holds on {HELD} were put back"
    ]
    assert run.stderr.splitlines()[-1] == run.said[0]


def test_a_bundle_deb_off_its_checksum_releases_no_hold(run_script, tmp_path):
    cache, entry = bundle(tmp_path)
    run = run_script("dpkg_install", HELD, cache, entry.split("=")[0] + "=" + "0" * 64)
    assert run.rc == 1 and run.selections == "" and run.calls == []
    assert run.said == [
        f"gpu-docker: {cache}/a_1_amd64.deb does not match the bundle manifest; not installed"
    ]


def test_a_failed_configure_is_one_line_naming_dpkg_s_error(run_script):
    run = run_script("dpkg_configure", out=POSTINST.replace("E: Sub", "Sub"), rc=1)
    assert run.rc == 1
    assert run.said == [
        "gpu-docker: dpkg --configure -a (finishing an interrupted dpkg run) failed: "
        + POSTINST_CAUSE
    ]
    assert run.calls[0].endswith("dpkg --force-confold --configure -a")


OPTIONS = ("-o", "Dir::Etc::sourcelist=/x.list", "-o", "Dir::Etc::sourceparts=-")


def stamp_at(tmp_path: Path, mtime: int | None) -> Path:
    stamp = tmp_path / "periodic" / "stamp"
    if mtime is not None:
        stamp.parent.mkdir(exist_ok=True)
        stamp.touch()
        os.utime(stamp, (mtime, mtime))
    return stamp


def test_an_update_that_fetched_nothing_but_exits_0_fails_and_leaves_the_stamp(
    run_script, tmp_path
):
    stamp = stamp_at(tmp_path, 1_000_000)
    run = run_script("apt_refresh", str(stamp), "0", *OPTIONS, out=FETCH_FAILED, rc=0)
    assert run.rc == 1 and stamp.stat().st_mtime == 1_000_000
    assert FETCH_FAILED in run.stdout
    assert run.said == [
        "gpu-docker: apt-get update of NVIDIA's source failed: W: Failed to fetch "
        "https://nvidia.github.io/libnvidia-container/stable/deb/amd64/InRelease  "
        "Could not resolve 'nvidia.github.io'"
    ]


def test_a_failed_update_forced_by_a_change_removes_the_stamp(run_script, tmp_path):
    """A new pin's refresh that failed must not be skipped next run for a young stamp."""
    stamp = stamp_at(tmp_path, 1_000_000)
    run = run_script("apt_refresh", str(stamp), "1", *OPTIONS, out="E: no\n", rc=100)
    assert run.rc == 1 and not stamp.exists()
    assert run.said == ["gpu-docker: apt-get update of NVIDIA's source failed: E: no"]


def test_a_clean_update_reads_only_the_options_and_touches_the_stamp(run_script, tmp_path):
    stamp = stamp_at(tmp_path, None)
    run = run_script("apt_refresh", str(stamp), "0", *OPTIONS, out="Reading package lists...\n")
    assert (run.rc, run.said) == (0, []) and stamp.exists()
    assert run.calls == [f"{tmp_path}/bin/apt-get update -q " + " ".join(OPTIONS)]


def test_a_removal_stopped_by_a_maintainer_script_names_dpkg_s_error(run_script, tmp_path):
    pin = tmp_path / "pin"
    pin.write_text("Package: *\n")
    out = POSTINST.replace("(--configure)", "(--purge)").replace("post-installation", "pre-removal")
    run = run_script("remove_packages", str(pin), "", "nvidia-container-toolkit", out=out, rc=1)
    assert run.rc == 1 and pin.exists()
    (line,) = run.said
    assert "dpkg: error processing package nvidia-container-toolkit (--purge): installed " in line
    assert line.endswith(": run the rollback again to finish the removal")
