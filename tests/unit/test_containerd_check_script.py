"""containerd_check.sh run for real with a stand-in ``containerd`` on PATH that prints a
dump: the candidate is kept only where the dump runs the runtime as merged."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from gpu_docker.sh import script

RUNTIME = "/usr/bin/nvidia-container-runtime"
# The layout `containerd config dump` prints (containerd 1.7, trimmed).
DUMP_V2 = f"""disabled_plugins = []
imports = ["/etc/containerd/config.toml", "/etc/containerd/conf.d/99-nvidia.toml"]
version = 2

[plugins]

  [plugins."io.containerd.grpc.v1.cri"]
    enable_cdi = true

    [plugins."io.containerd.grpc.v1.cri".containerd]
      default_runtime_name = "runc"

      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes]

        [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.nvidia]
          runtime_type = "io.containerd.runc.v2"

          [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.nvidia.options]
            BinaryName = "{RUNTIME}"
            SystemdCgroup = true
"""
DUMP_V3 = DUMP_V2.replace("version = 2", "version = 3").replace(
    "io.containerd.grpc.v1.cri", "io.containerd.cri.v1.runtime"
)
SHADOWED = """imports = ["/etc/containerd/conf.d/10-cri.toml"]
version = 2

[plugins]
  [plugins."io.containerd.grpc.v1.cri"]
    [plugins."io.containerd.grpc.v1.cri".containerd]
      default_runtime_name = "runc"
"""


def check(
    tmp_path: Path, dump: str | None, default: str = "0", cdi: str = "0"
) -> subprocess.CompletedProcess[str]:
    """Run the check on a candidate; ``dump`` None: the stand-in containerd rejects it."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "containerd"
    (tmp_path / "dump").write_text(dump or "")
    body = (
        f'cat "{tmp_path}/dump"'
        if dump is not None
        else 'echo "time=x level=fatal msg=\\"failed to load TOML\\"" >&2; exit 1'
    )
    fake.write_text(f"#!/bin/sh\n{body}\n")
    fake.chmod(0o755)
    candidate = tmp_path / ".config.toml.gpu-docker.tmp"
    candidate.write_text("version = 2\n")
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    args = [str(candidate), "/etc/containerd/config.toml", "nvidia", RUNTIME, default, cdi]
    return subprocess.run(
        ["sh", "-c", script("containerd_check"), "gpu-docker", *args],
        env=env,
        capture_output=True,
        text=True,
    )


@pytest.mark.parametrize("dump", [DUMP_V2, DUMP_V3], ids=["v2", "v3"])
def test_a_dump_that_runs_the_runtime_keeps_the_candidate(tmp_path, dump):
    done = check(tmp_path, dump, cdi="1")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / ".config.toml.gpu-docker.tmp").exists()


def test_a_shadowed_runtime_removes_the_candidate_and_names_the_imports(tmp_path):
    done = check(tmp_path, SHADOWED)
    assert done.returncode == 1
    assert not (tmp_path / ".config.toml.gpu-docker.tmp").exists()
    (line,) = done.stderr.splitlines()
    assert line.startswith("gpu-docker: containerd config dump of the merged")
    assert "runtime_type is missing, options.BinaryName is missing" in line
    assert '/etc/containerd/conf.d/10-cri.toml"], whose CRI section wins' in line
    assert line.endswith("/etc/containerd/config.toml left untouched")


def test_default_and_cdi_are_confirmed_when_asked(tmp_path):
    done = check(tmp_path, DUMP_V2.replace("enable_cdi = true", "enable_cdi = false"), "1", "1")
    assert done.returncode == 1
    assert 'default_runtime_name is not "nvidia", enable_cdi is not true' in done.stderr


def test_a_wrong_binary_or_type_is_named(tmp_path):
    dump = DUMP_V2.replace(RUNTIME, "/usr/bin/runc").replace('"io.containerd.runc.v2"', '""')
    done = check(tmp_path, dump)
    assert done.returncode == 1
    assert 'runtime_type is "", options.BinaryName is "/usr/bin/runc"' in done.stderr


def test_a_candidate_containerd_rejects_is_removed_with_its_reason(tmp_path):
    done = check(tmp_path, None)
    assert done.returncode == 1
    assert not (tmp_path / ".config.toml.gpu-docker.tmp").exists()
    assert "containerd rejected the merged /etc/containerd/config.toml" in done.stderr
    assert "failed to load TOML" in done.stderr
