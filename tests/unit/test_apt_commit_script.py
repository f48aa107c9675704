"""apt_commit.sh writes NVIDIA's source and hands the probe's indexes to apt.

The probe fetched the source's indexes into its stage seconds before: the commit renames
them into apt's lists directory (from ``apt-config``, stubbed here) and touches the
refresh stamp, so the converge's refresh has nothing left to fetch. A copy that fails says
so in one line, with the stamp untouched (the next run refreshes).
"""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

from gpu_docker.sh import script

LINE = "deb [signed-by=/usr/share/keyrings/k.gpg] http://repo.invalid/stable/deb/$(ARCH) /"
INDEXES = {
    "repo.invalid_stable_deb_amd64_InRelease": "signed release\n",
    "repo.invalid_stable_deb_amd64_Packages": "Package: nvidia-container-toolkit\n",
}


def commit(tmp_path: Path, lists: Path) -> tuple[subprocess.CompletedProcess[str], Path]:
    stage = tmp_path / "stage"
    (stage / "lists" / "partial").mkdir(parents=True)
    for name, text in INDEXES.items():
        (stage / "lists" / name).write_text(text)
    (stage / "lists" / "lock").write_text("")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "apt-config").write_text(f"#!/bin/sh\necho \"lists='{lists}/'\"\n")
    (bin_dir / "apt-config").chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    stamp = tmp_path / "periodic" / "gpu-docker-update-stamp"
    args = [str(stage), str(tmp_path / "k.gpg"), str(tmp_path / "nvidia.list"), LINE, str(stamp)]
    run = subprocess.run(
        ["sh", "-c", script("apt_commit"), "apt_commit", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
    )
    assert not stage.exists(), "the stage is removed either way"
    return run, stamp


@pytest.mark.skipif(os.geteuid() != 0, reason="the list file is chowned to root")
def test_the_probes_indexes_go_into_apts_lists_with_the_stamp(tmp_path: Path) -> None:
    lists = tmp_path / "lists"
    lists.mkdir()
    run, stamp = commit(tmp_path, lists)
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "nvidia.list").read_text() == LINE + "\n"
    assert {p.name: p.read_text() for p in lists.iterdir()} == INDEXES
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o644 for p in lists.iterdir())
    assert stamp.exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="the list file is chowned to root")
def test_indexes_that_cannot_be_put_in_place_fail_in_one_line_without_the_stamp(
    tmp_path: Path,
) -> None:
    lists = tmp_path / "lists"
    lists.mkdir()
    name = next(iter(INDEXES))
    (lists / name).mkdir()  # a directory where the index goes: the rename fails
    (lists / name / "x").write_text("")
    run, stamp = commit(tmp_path, lists)
    assert run.returncode == 1
    (line,) = run.stderr.splitlines()
    assert line.startswith(f"gpu-docker: {tmp_path}/nvidia.list written, but the probe's index ")
    assert f"could not be put in {lists}/" in line
    assert not stamp.exists()
    assert not any(p.name.startswith(".gpu-docker.") for p in lists.iterdir())
