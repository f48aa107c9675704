"""containerd drop-ins and config versions end to end (issue 20): what containerd runs, read
from ``containerd config dump``, not only from config.toml.

One lab, one run: four bookworm hosts (containerd 1.6) and four trixie hosts (containerd
1.7), each seeded with a config.toml (and drop-ins under /etc/containerd/conf.d) and run
with ``container_engine=containerd``:

- no drop-in, version 2, ``cdi=true``: merged, the runtime in the dump; ``enable_cdi`` set
  and in the dump on 1.7, said to be absent on 1.6 (no CDI there);
- NVIDIA's drop-in (what ``nvidia-ctk runtime configure`` 1.18+ writes: config.toml's CRI
  section copied into conf.d/99-nvidia.toml plus the runtime, config.toml importing
  conf.d/*.toml): the dump already runs the runtime, config.toml is left byte for byte and
  containerd is not restarted;
- another drop-in holding a CRI section (a registry mirror) but no runtime: before 2.1 it
  replaces config.toml's whole CRI section, so an edit of config.toml would not take
  effect: refused, naming the drop-in, nothing changed;
- a version 3 file: containerd 1.6 starts with it but runs it as version 2, its
  ``io.containerd.cri.v1.runtime`` section dropped (its CRI plugin is the version 2 one);
  containerd 1.7 does not start with it ("unsupported config version `3`"): refused on
  both.
  No containerd 2.x is in the lab; version 3 merges are unit-tested only.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from typing import NamedTuple

import pytest
from hosts_state import (
    host_lines,
    lab_of,
    output,
    pyinfra,
    read_bytes,
    seed_file,
    summary,
    write_inventory,
)
from lab_docker import run

from gpu_docker.lab.state import LabState

pytestmark = pytest.mark.lab

CONFIG = "/etc/containerd/config.toml"
BIN = "/usr/bin/nvidia-container-runtime"
CONF_D = "/etc/containerd/conf.d"
CRI = '[plugins."io.containerd.grpc.v1.cri"'
NODE = b"""version = 2
imports = ["/etc/containerd/conf.d/*.toml"]

[plugins]
  [plugins."io.containerd.grpc.v1.cri"]
    sandbox_image = "registry.k8s.io/pause:3.9"
    [plugins."io.containerd.grpc.v1.cri".containerd]
      default_runtime_name = "runc"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
        runtime_type = "io.containerd.runc.v2"
        [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
          SystemdCgroup = true
"""
PLAIN = NODE.replace(b'imports = ["/etc/containerd/conf.d/*.toml"]\n', b"")
# nvidia-ctk 1.18+: the drop-in carries config.toml's CRI section plus the runtime.
NVIDIA_DROP_IN = b"""version = 2

[plugins]
  [plugins."io.containerd.grpc.v1.cri"]
    sandbox_image = "registry.k8s.io/pause:3.9"
    [plugins."io.containerd.grpc.v1.cri".containerd]
      default_runtime_name = "runc"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
        runtime_type = "io.containerd.runc.v2"
        [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
          SystemdCgroup = true
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.nvidia]
        runtime_type = "io.containerd.runc.v2"
        [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.nvidia.options]
          BinaryName = "/usr/bin/nvidia-container-runtime"
          SystemdCgroup = true
"""
MIRROR = b"""version = 2
[plugins."io.containerd.grpc.v1.cri".registry.mirrors."docker.io"]
  endpoint = ["https://mirror.example.invalid"]
"""
V3 = b"""version = 3
[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
  runtime_type = 'io.containerd.runc.v2'
"""
NVIDIA = f"{CONF_D}/99-nvidia.toml"
OTHER = f"{CONF_D}/50-mirror.toml"

# host -> (config.toml, drop-ins, settings); hosts 1-4 bookworm (1.6), 5-8 trixie (1.7).
CASES: dict[str, tuple[bytes, dict[str, bytes], dict[str, object]]] = {}
for first in (1, 5):
    names = [f"lab-online-{first + i}" for i in range(4)]
    CASES[names[0]] = (PLAIN, {}, {"container_engine": "containerd", "cdi": True})
    CASES[names[1]] = (NODE, {NVIDIA: NVIDIA_DROP_IN}, {"container_engine": "containerd"})
    CASES[names[2]] = (NODE, {OTHER: MIRROR}, {"container_engine": "containerd"})
    CASES[names[3]] = (V3, {}, {"container_engine": "containerd"})
BOOKWORM = [f"lab-online-{i}" for i in range(1, 5)]
TRIXIE = [f"lab-online-{i}" for i in range(5, 9)]


class Runs(NamedTuple):
    first: subprocess.CompletedProcess[str]
    versions: dict[str, str]  # containerd --version
    seeded_dumps: dict[str, str]  # containerd config dump of the seeded files
    pid_before: dict[str, str]
    pid_after: dict[str, str]
    configs: dict[str, bytes | None]
    dumps: dict[str, str]  # after the run


def pid(lab: LabState, host_exec, host: str) -> str:
    return run(lab, host_exec, host, "systemctl show -p MainPID --value containerd.service")


def dump(lab: LabState, host_exec, host: str) -> str:
    """What containerd reads from config.toml and its imports; ``FAILED: <last line>`` when
    it refuses them."""
    done = host_exec(lab, host, f"containerd --config {CONFIG} config dump")
    if done.returncode != 0:
        return "FAILED: " + (done.stderr.strip().splitlines() or [""])[-1]
    return done.stdout


@pytest.fixture(scope="module")
def lab() -> Iterator[LabState]:
    with lab_of(online=len(CASES), restricted=0, trixie=len(TRIXIE)) as state:
        yield state


@pytest.fixture(scope="module")
def runs(lab, host_exec, tmp_path_factory) -> Runs:
    for host, (config, drop_ins, _) in CASES.items():
        seed_file(lab, host_exec, host, CONFIG, config)
        for path, data in drop_ins.items():
            seed_file(lab, host_exec, host, path, data)
        # containerd 1.7 refuses a version 3 file: it does not start.
        host_exec(lab, host, "systemctl restart containerd.service")
    versions = {h: run(lab, host_exec, h, "containerd --version") for h in CASES}
    seeded = {h: dump(lab, host_exec, h) for h in CASES}
    before = {h: pid(lab, host_exec, h) for h in CASES}
    settings = {host: data for host, (_, _, data) in CASES.items()}
    inventory = write_inventory(tmp_path_factory.mktemp("inv") / "inventory.py", lab, settings, {})
    first = pyinfra(inventory)
    return Runs(
        first,
        versions,
        seeded,
        before,
        {h: pid(lab, host_exec, h) for h in CASES},
        {h: read_bytes(lab, host_exec, h, CONFIG) for h in CASES},
        {h: dump(lab, host_exec, h) for h in CASES},
    )


def test_the_lab_runs_containerd_1_6_on_bookworm_and_1_7_on_trixie(runs):
    for host in BOOKWORM:
        assert " 1.6." in runs.versions[host], runs.versions[host]
    for host in TRIXIE:
        assert " 1.7." in runs.versions[host], runs.versions[host]


def test_without_a_drop_in_the_runtime_is_merged_and_containerd_runs_it(runs):
    for host in ("lab-online-1", "lab-online-5"):
        assert host not in summary(runs.first), output(runs.first)
        assert runs.pid_after[host] != runs.pid_before[host], f"{host}: not restarted"
        assert f"{CRI}.containerd.runtimes.nvidia]" in runs.dumps[host]
        assert f'BinaryName = "{BIN}"' in runs.dumps[host]
        assert b"SystemdCgroup = true" in (runs.configs[host] or b"").split(b"nvidia", 1)[1]
    # containerd 1.7 has CDI: enable_cdi written and read; 1.6 has none: said, not written.
    assert "enable_cdi = true" in runs.dumps["lab-online-5"]
    assert b"enable_cdi" not in (runs.configs["lab-online-1"] or b"")
    assert "enable_cdi" not in runs.dumps["lab-online-1"]
    assert any(
        "has no CDI (containerd 1.7+)" in line for line in host_lines(runs.first, "lab-online-1")
    )


def test_nvidias_drop_in_already_runs_the_runtime_and_config_toml_is_left_alone(runs):
    for host in ("lab-online-2", "lab-online-6"):
        assert host not in summary(runs.first), output(runs.first)
        assert runs.configs[host] == NODE
        assert runs.pid_after[host] == runs.pid_before[host], f"{host}: restarted for nothing"
        assert f'BinaryName = "{BIN}"' in runs.dumps[host]
        assert NVIDIA in runs.dumps[host]  # containerd lists what it imported
        assert 'sandbox_image = "registry.k8s.io/pause:3.9"' in runs.seeded_dumps[host]


def test_a_drop_in_that_shadows_the_cri_section_is_refused_naming_it(runs):
    for host in ("lab-online-3", "lab-online-7"):
        assert host in summary(runs.first), output(runs.first)
        assert runs.configs[host] == NODE
        assert runs.pid_after[host] == runs.pid_before[host]
        # What the refusal guards against: the drop-in's section replaced config.toml's.
        assert 'sandbox_image = "registry.k8s.io/pause:3.9"' not in runs.seeded_dumps[host]
        (line,) = [x for x in host_lines(runs.first, host) if x.startswith("gpu-docker: /etc")]
        assert f"{OTHER}, which it imports, replaces its" in line, line
        assert "left untouched" in line


def test_a_version_3_file_on_containerd_1_x_is_refused(runs):
    # containerd 1.6 starts with it, but runs it as version 2 without its CRI section ...
    seeded = runs.seeded_dumps
    assert "\nversion = 2\n" in seeded["lab-online-4"], seeded["lab-online-4"]
    assert "io.containerd.cri.v1.runtime" not in seeded["lab-online-4"]
    # ... and containerd 1.7 refuses to read it at all.
    assert "unsupported config version `3`" in seeded["lab-online-8"], seeded["lab-online-8"]
    for host in ("lab-online-4", "lab-online-8"):
        assert host in summary(runs.first), output(runs.first)
        assert runs.configs[host] == V3
        (line,) = [x for x in host_lines(runs.first, host) if x.startswith("gpu-docker: /etc")]
        assert "config version 3 is containerd 2.x's" in line, line
