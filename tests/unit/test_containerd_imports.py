"""config.toml ``imports`` and NVIDIA's drop-in: what gpu-docker writes, judged on the
effective config (``containerd config dump``) and the files containerd imported."""

from __future__ import annotations

import base64

import pytest

from gpu_docker.containerd import ContainerdHost, plan, shadowing
from gpu_docker.facts.containerd import ContainerdFacts
from gpu_docker.settings import load_settings
from gpu_docker.toml_merge import TomlMergeError

V16 = "containerd github.com/containerd/containerd 1.6.20~ds1 1.6.20~ds1-1+deb12u3"
V17 = "containerd github.com/containerd/containerd 1.7.24~ds1 1.7.24~ds1-6+b4"
V21 = "containerd github.com/containerd/containerd/v2 v2.1.1 cb1076646aa3"
SETTINGS = load_settings("h", {"container_engine": "containerd"})
TARGET = "/etc/containerd/config.toml"
DROP_IN = "/etc/containerd/conf.d/99-nvidia.toml"
BASE = 'version = 2\nimports = ["/etc/containerd/conf.d/*.toml"]\n'
# What nvidia-ctk 1.18 writes into its drop-in: config.toml's whole CRI section plus the runtime.
NVIDIA_DROP_IN = """version = 2

[plugins]
  [plugins."io.containerd.grpc.v1.cri"]
    [plugins."io.containerd.grpc.v1.cri".containerd]
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes]
        [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.nvidia]
          privileged_without_host_devices = false
          runtime_engine = ""
          runtime_root = ""
          runtime_type = "io.containerd.runc.v2"
          [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.nvidia.options]
            BinaryName = "/usr/bin/nvidia-container-runtime"
"""
# A dump (trimmed) of containerd with that drop-in.
DUMP_WITH_RUNTIME = f"""imports = ["{DROP_IN}"]
version = 2
[plugins]
  [plugins."io.containerd.grpc.v1.cri"]
    enable_cdi = false
    [plugins."io.containerd.grpc.v1.cri".containerd]
      default_runtime_name = "runc"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.nvidia]
        runtime_type = "io.containerd.runc.v2"
        [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.nvidia.options]
          BinaryName = "/usr/bin/nvidia-container-runtime"
"""
OTHER_DROP_IN = """version = 2
[plugins."io.containerd.grpc.v1.cri".registry.mirrors."docker.io"]
  endpoint = ["https://mirror.example"]
"""
DUMP_WITHOUT_RUNTIME = """imports = ["/etc/containerd/conf.d/50-mirror.toml"]
version = 2
[plugins]
  [plugins."io.containerd.grpc.v1.cri"]
    [plugins."io.containerd.grpc.v1.cri".containerd]
      default_runtime_name = "runc"
"""


def host(text, dump, imports, version=V17):
    return ContainerdHost(version, "systemd", TARGET, text, dump, imports)


def test_nvidias_drop_in_carrying_the_runtime_leaves_config_toml_alone():
    result = plan(SETTINGS, host(BASE, DUMP_WITH_RUNTIME, {DROP_IN: NVIDIA_DROP_IN}))
    assert not result.changed
    assert result.text == BASE


@pytest.mark.parametrize("version", [V16, V17])
def test_a_drop_in_with_a_cri_section_but_not_the_runtime_is_refused_naming_it(version):
    found = host(
        BASE,
        DUMP_WITHOUT_RUNTIME,
        {"/etc/containerd/conf.d/50-mirror.toml": OTHER_DROP_IN},
        version,
    )
    with pytest.raises(TomlMergeError) as raised:
        plan(SETTINGS, found)
    message = str(raised.value)
    assert "/etc/containerd/conf.d/50-mirror.toml, which it imports, replaces its" in message
    assert 'no plugins."io.containerd.grpc.v1.cri".containerd.runtimes.nvidia' in message


def test_from_containerd_2_1_only_a_drop_in_setting_our_keys_shadows():
    wanted = {
        "plugins": {
            "io.containerd.cri.v1.runtime": {
                "containerd": {
                    "runtimes": {
                        "nvidia": {
                            "runtime_type": "io.containerd.runc.v2",
                            "options": {"BinaryName": "/b"},
                        }
                    }
                }
            }
        }
    }
    mirror = "version = 3\n[plugins.'io.containerd.cri.v1.runtime']\nenable_cdi = true\n"
    runtime = (
        "version = 3\n[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.nvidia]\n"
        "runtime_type = ''\n"
    )
    imports = {"/a.toml": mirror, "/b.toml": runtime}
    assert shadowing(imports, wanted, V21) == ["/b.toml"]
    assert shadowing(imports, wanted, V17) == ["/a.toml", "/b.toml"]


def test_imports_without_a_cri_section_do_not_stop_the_merge():
    imports = {"/etc/containerd/conf.d/10-debug.toml": 'version = 2\n[debug]\nlevel = "debug"\n'}
    result = plan(SETTINGS, host(BASE, DUMP_WITHOUT_RUNTIME, imports))
    assert result.changed
    assert "BinaryName" in result.text


def test_no_dump_falls_back_to_the_file():
    result = plan(SETTINGS, host(BASE, None, {DROP_IN: NVIDIA_DROP_IN}))
    assert result.changed


def test_the_fact_reads_the_dump_and_each_imported_file():
    def b64(text):
        return base64.b64encode(text.encode()).decode()

    fact = ContainerdFacts()
    fact.command(path=TARGET)
    found = fact.process(
        [
            f"version={V17}",
            "service=systemd",
            f"target={TARGET}",
            f"b64={b64(BASE)}",
            f"dump={b64(DUMP_WITH_RUNTIME)}",
            f"import={b64(DROP_IN)}:{b64(NVIDIA_DROP_IN)}",
        ]
    )
    assert found.dump == DUMP_WITH_RUNTIME
    assert found.imports == {DROP_IN: NVIDIA_DROP_IN}
    assert found.text == BASE


def test_enable_cdi_only_where_containerd_has_cdi_and_v3_only_on_containerd_2():
    cdi = load_settings("h", {"container_engine": "containerd", "cdi": True})
    on_16 = plan(cdi, host("version = 2\n", None, {}, V16))
    assert "enable_cdi" not in on_16.text
    on_17 = plan(cdi, host("version = 2\n", None, {}, V17))
    assert on_17.data["plugins"]["io.containerd.grpc.v1.cri"]["enable_cdi"] is True
    on_21 = plan(cdi, host("version = 3\n", None, {}, V21))
    assert on_21.data["plugins"]["io.containerd.cri.v1.runtime"]["enable_cdi"] is True
    with pytest.raises(
        TomlMergeError, match=r"containerd 1\.7 has no io\.containerd\.cri\.v1\.runtime"
    ):
        plan(cdi, host("version = 3\n", None, {}, V17))
