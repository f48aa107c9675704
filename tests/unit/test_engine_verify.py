"""containerd's and podman's verification: what CRI's handler names, what ran, the verdict."""

import base64

import pytest

from gpu_docker.engine_verify import (
    CriRuntime,
    check_records,
    cri_runtime,
    decode_dump,
    describe_engine,
    parse_engine,
)
from gpu_docker.fleet_report import engine_record, merged, table

BIN = "/usr/bin/nvidia-container-runtime"
DUMP_V2 = f"""version = 2
[grpc]
  address = "/run/containerd/containerd.sock"
[plugins]
  [plugins."io.containerd.grpc.v1.cri"]
    enable_cdi = false
    [plugins."io.containerd.grpc.v1.cri".containerd]
      snapshotter = "overlayfs"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes]
        [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.nvidia]
          runtime_type = "io.containerd.runc.v2"
          [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.nvidia.options]
            BinaryName = "{BIN}"
            SystemdCgroup = true
"""
DUMP_V3 = f"""version = 3
[plugins]
  [plugins.'io.containerd.cri.v1.images']
    snapshotter = 'native'
  [plugins.'io.containerd.cri.v1.runtime']
    enable_cdi = true
    [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.nvidia]
      runtime_type = 'io.containerd.runc.v2'
      [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.nvidia.options]
        BinaryName = '{BIN}'
"""


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_the_dump_names_the_runtime_its_binary_cgroup_driver_and_snapshotter():
    runtime, problem = cri_runtime(DUMP_V2, "nvidia")
    assert problem is None
    assert runtime == CriRuntime(
        "nvidia",
        "io.containerd.runc.v2",
        BIN,
        systemd_cgroup=True,
        snapshotter="overlayfs",
        enable_cdi=False,
        address="/run/containerd/containerd.sock",
    )
    v3, problem = cri_runtime(DUMP_V3, "nvidia")
    assert problem is None and v3 is not None
    assert (v3.snapshotter, v3.enable_cdi, v3.systemd_cgroup) == ("native", True, False)


def test_a_missing_runtime_is_said_with_the_runtimes_containerd_reads():
    runtime, problem = cri_runtime(DUMP_V2.replace("runtimes.nvidia", "runtimes.runc"), "nvidia")
    assert runtime is None and problem is not None
    assert "no CRI runtime 'nvidia' (runtimes: runc)" in problem


@pytest.mark.parametrize(
    ("edit", "said"),
    [
        ('runtime_type = "io.containerd.runc.v2"', "runtime_type '(empty)'"),
        ('runtime_type = "io.containerd.runc.v2"', "runtime_type 'io.containerd.kata.v2'"),
        (f'BinaryName = "{BIN}"', "no options.BinaryName"),
    ],
)
def test_a_runtime_cri_would_not_run_the_nvidia_binary_through_fails(edit, said):
    replacement = 'runtime_type = "io.containerd.kata.v2"' if "kata" in said else ""
    runtime, problem = cri_runtime(DUMP_V2.replace(edit, replacement), "nvidia")
    assert runtime is not None and problem is not None and said in problem


def test_a_failed_dump_says_containerd_words():
    assert decode_dump(["rc=1", "error=failed to load TOML: bad", "b64="]) == (
        None,
        "containerd config dump failed: failed to load TOML: bad",
    )
    assert decode_dump(["rc=0", "error=", f"b64={b64('version = 2')}"]) == ("version = 2", "")
    assert decode_dump(["missing=1"])[0] is None


def lines(check: str, rc: int, output: str, *extra: str) -> list[str]:
    command = f"ctr -n k8s.io run --rm --runtime io.containerd.runc.v2 --runc-binary {BIN} x"
    return [
        "engine_version=1.7.24",
        *extra,
        "probe=docker.io/library/gpu-docker-probe:2.41",
        f"check={check}|{rc}|{command}|{b64(output)}",
    ]


def test_a_containerd_container_that_ran_verifies_the_host():
    runtime, _ = cri_runtime(DUMP_V2, "nvidia")
    report = parse_engine("containerd", lines("runtime", 0, "ldconfig (GNU libc) 2.41\n"))
    text, problem = describe_engine(report, runtime)
    assert problem is None
    assert any(line.startswith("check ctr run through CRI's runtime") for line in text)
    assert f"BinaryName {BIN}, SystemdCgroup" in text[1]


def test_a_container_that_did_not_start_fails_the_host_naming_the_command():
    runtime, _ = cri_runtime(DUMP_V2, "nvidia")
    said = 'ctr: failed to create shim task: exec: "/nope": no such file or directory: unknown'
    report = parse_engine("containerd", lines("runtime", 1, said))
    _, problem = describe_engine(report, runtime)
    assert problem is not None
    assert problem.startswith("containerd: the probe container did not start (ctr run through")
    assert "(exit 1)" not in problem and "exit 1): ctr: failed to create shim task" in problem


def test_without_a_gpu_the_nvidia_hook_failing_proves_the_runtime_path():
    runtime, _ = cri_runtime(DUMP_V2, "nvidia")
    said = "nvidia-container-cli: initialization error: nvml error: driver not loaded"
    report = parse_engine("containerd", lines("runtime", 1, said))
    assert describe_engine(report, runtime)[1] is None
    with_gpu = lines("runtime", 1, said, "smi=/usr/bin/nvidia-smi", "smi_rc=0", "smi_out=GPU 0: X")
    assert describe_engine(parse_engine("containerd", with_gpu), runtime)[1] is not None


def test_cdi_needs_cri_enable_cdi_and_says_when_ctr_cannot_ask():
    runtime, _ = cri_runtime(DUMP_V2, "nvidia")
    report = parse_engine("containerd", lines("runtime", 0, "ok", "cdi_unsupported=ctr 1.7.24"))
    _, problem = describe_engine(report, runtime, cdi=True)
    assert problem is not None and "enable_cdi is off" in problem
    on, _ = cri_runtime(DUMP_V2.replace("enable_cdi = false", "enable_cdi = true"), "nvidia")
    text, problem = describe_engine(report, on, cdi=True)
    assert problem is None
    assert any("ctr 1.7.24 cannot request CDI devices" in line for line in text)


def test_a_containerd_without_cdi_is_said_not_failed():
    runtime, _ = cri_runtime(DUMP_V2.replace("    enable_cdi = false\n", ""), "nvidia")
    assert runtime is not None and runtime.enable_cdi is None
    report = parse_engine("containerd", lines("runtime", 0, "ok", "cdi_unsupported=ctr 1.6.20"))
    text, problem = describe_engine(report, runtime, cdi=True)
    assert problem is None
    assert any("this containerd has none" in line for line in text)


def test_podman_without_a_driver_says_why_no_gpu_was_requested():
    report = parse_engine("podman", ["engine_version=5.4.2", *lines("run", 0, "ok")[1:]])
    text, problem = describe_engine(report)
    assert problem is None
    assert any("no NVIDIA driver on this host" in line for line in text)
    with_driver = parse_engine("podman", [*lines("run", 0, "ok"), "driver_loaded=NVRM 580"])
    assert "no CDI spec" in (describe_engine(with_driver)[1] or "")


def test_podman_that_does_not_answer_fails():
    report = parse_engine("podman", ["engine_error=cannot connect"])
    assert describe_engine(report) == (
        ["podman: does not answer: cannot connect"],
        "podman does not answer: cannot connect",
    )


def test_the_fleet_report_names_the_engine_of_each_check_and_joins_a_host():
    podman = parse_engine("podman", ["cdi_spec=1", *lines("cdi", 0, "GPU 0: X")])
    cont = parse_engine("containerd", lines("runtime", 1, "boom"))
    first = engine_record("h", "containerd", cont, "containerd: boom")
    both = merged(first, engine_record("h", "podman", podman, None))
    assert both["status"] == "failed" and both["engines"] == ["containerd", "podman"]
    assert [c["engine"] for c in both["checks"]] == ["containerd", "podman"]
    assert check_records(podman)[0]["ok"] is True
    _, row = table([both])
    assert "containerd/runtime:FAIL podman/cdi:ok" in row
