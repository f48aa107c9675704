"""Verification report: what ran, what failed and why; never "no GPU" for a broken driver."""

import base64

from gpu_docker.dockerd_gpus import DockerdGpus
from gpu_docker.verify import (
    Check,
    GpuState,
    Verification,
    device_driver_registered,
    parse_verification,
    pending_restart,
)
from gpu_docker.verify import describe as describe_report

PROBE = "gpu-docker-probe:2.36-9_deb12u14"
RUNTIMES = ("io.containerd.runc.v2", "nvidia", "runc")
NO_DRIVER = (
    'docker: Error response from daemon: could not select device driver "" with '
    "capabilities: [[gpu]].\nSee 'docker run --help'.\n"
)
MISMATCH = (
    "Failed to initialize NVML: Driver/library version mismatch",
    "NVML library version: 580",
)


def check(name="gpus", rc=0, output="ldconfig (Debian GLIBC 2.36-9+deb12u14) 2.36\n") -> Check:
    return Check(name, rc, f"docker run --rm --network none --gpus all {PROBE} x", output)


def verification(**kwargs) -> Verification:
    base = {
        "cli_version": "cli-version: 1.17.8",
        "ctk_version": "NVIDIA Container Toolkit CLI version 1.17.8",
        "dockerd": DockerdGpus(
            pid="53", started_at=100.0, hook="/usr/bin/h", hook_ctime=50.0, runtimes=RUNTIMES
        ),
        "probe": PROBE,
        "checks": (check(),),
    }
    return Verification(**(base | kwargs))


def describe(report, image=None):
    return describe_report(report, "nvidia", image)


def test_gpu_less_host_is_verified_by_a_static_binary_through_gpus_all():
    lines, problem = describe(verification())
    assert problem is None
    assert "GPUs: none (no NVIDIA driver loaded, no nvidia-smi found)" in lines
    assert "check --gpus all: ok: ldconfig (Debian GLIBC 2.36-9+deb12u14) 2.36" in lines


def test_missing_device_driver_fails_with_dockers_words_and_the_fix():
    report = verification(checks=(check(rc=125, output=NO_DRIVER),))
    _, problem = describe(report)
    assert problem is not None
    assert 'could not select device driver "" with capabilities: [[gpu]]' in problem
    assert "restart docker" in problem
    assert "See 'docker run --help'" not in problem
    assert device_driver_registered(report) is False


def test_gpu_less_host_where_the_real_hook_ran_and_failed_is_still_verified():
    said = "nvidia-container-cli: initialization error: load library failed: libnvidia-ml.so.1"
    report = verification(
        checks=(check(rc=125, output=f"docker: Error response from daemon: {said}"),)
    )
    lines, problem = describe(report)
    assert problem is None
    assert device_driver_registered(report) is True
    assert any("device driver registered" in line and said in line for line in lines)


def test_driver_library_mismatch_is_a_failure_naming_nvidia_smi_and_where_it_is():
    gpu = GpuState(smi="/usr/local/nvidia/bin/nvidia-smi", smi_rc=18, smi_lines=MISMATCH)
    _, problem = describe(verification(gpu=gpu))
    assert problem is not None
    assert problem.startswith("NVIDIA driver problem: /usr/local/nvidia/bin/nvidia-smi -L failed")
    assert "(exit 18): Failed to initialize NVML: Driver/library version mismatch" in problem
    assert "reboot" in problem


def test_loaded_driver_without_nvidia_smi_is_a_failure_not_no_gpu():
    gpu = GpuState(driver_loaded="NVRM version: NVIDIA UNIX x86_64 Kernel Module  580.95")
    lines, problem = describe(verification(gpu=gpu))
    assert problem is not None and "no nvidia-smi found" in problem
    assert "/usr/local/nvidia/bin" in problem
    assert not any("GPUs: none" in line for line in lines)


def test_gpu_host_runs_nvidia_smi_in_each_form_and_reports_them():
    gpu = GpuState(smi="/usr/bin/nvidia-smi", smi_rc=0, smi_lines=("GPU 0: NVIDIA H200 (UUID: G)",))
    checks = tuple(check(name, 0, "GPU 0: NVIDIA H200 (UUID: G)\n") for name in ("gpus", "runtime"))
    lines, problem = describe(verification(gpu=gpu, checks=checks))
    assert problem is None
    assert "GPUs: 1 (nvidia-smi at /usr/bin/nvidia-smi): GPU 0: NVIDIA H200 (UUID: G)" in lines
    assert "check --runtime + NVIDIA_VISIBLE_DEVICES=all: ok: GPU 0: NVIDIA H200 (UUID: G)" in lines
    assert "check smoke_test_image --gpus all: skipped, smoke_test_image unset" in lines


def test_a_failed_check_on_a_gpu_host_names_command_exit_and_error():
    gpu = GpuState(smi="/usr/bin/nvidia-smi", smi_rc=0, smi_lines=("GPU 0: H200",))
    said = 'docker: Error response from daemon: could not select device driver "cdi" with capabilities: []'
    bad = check("cdi", 125, said + "\nSee 'docker run --help'.\n")
    _, problem = describe(verification(gpu=gpu, checks=(check("gpus", 0, "GPU 0: H200"), bad)))
    # CDI switched off is not a missing --gpus device driver: no restart advice.
    assert problem == f"`{bad.command}` failed (exit 125): {said}"


def test_missing_runtime_fails_the_host():
    _, problem = describe(verification(dockerd=DockerdGpus(pid="1", runtimes=("runc",))))
    assert problem is not None
    assert "docker does not list the 'nvidia' runtime (restart pending?)" in problem


def test_docker_down_fails_the_host_with_dockers_words():
    report = verification(dockerd=DockerdGpus(docker_error="Cannot connect"), checks=())
    _, problem = describe(report)
    assert problem == "docker does not answer: Cannot connect"


def test_pending_restart_names_the_reason():
    late = DockerdGpus(
        pid="7", started_at=10.0, hook="/usr/bin/h", hook_ctime=20.0, runtimes=("runc",)
    )
    reason = pending_restart(verification(dockerd=late, checks=()), "nvidia")
    assert reason is not None
    assert "never registered the --gpus device driver" in reason
    assert "docker does not list the 'nvidia' runtime" in reason
    assert pending_restart(verification(), "nvidia") is None


def test_verification_fact_parses_its_output():
    out = base64.b64encode(b"GPU 0: NVIDIA H200\n").decode()
    report = parse_verification(
        [
            "os=Ubuntu 24.04.1 LTS",
            "docker_version=26.1.5",
            "pkg=nvidia-container-toolkit\t1.17.8-1\tii ",
            "pkg=libnvidia-container1\t1.17.7-1\trc ",
            "cli=cli-version: 1.17.8",
            "dockerd_pid=12",
            'daemon_runtimes={"runc":{},"nvidia":{}}',
            "cdi=1",
            "driver_loaded=NVRM version: 580",
            "smi=/usr/local/nvidia/bin/nvidia-smi",
            "smi_rc=0",
            "smi_out=GPU 0: NVIDIA H200",
            "smi_out=GPU 1: NVIDIA H200",
            f"probe={PROBE}",
            f"check=gpus|0|docker run --rm --gpus all {PROBE} nvidia-smi -L|{out}",
            f"check=cdi|125||{base64.b64encode(NO_DRIVER.encode()).decode()}",
        ]
    )
    assert report.os == "Ubuntu 24.04.1 LTS" and report.docker_version == "26.1.5"
    assert report.packages == {"nvidia-container-toolkit": "1.17.8-1"}  # rc: removed
    assert report.dockerd.runtimes == ("nvidia", "runc") and report.cdi
    assert report.gpu.gpus == ("GPU 0: NVIDIA H200", "GPU 1: NVIDIA H200")
    assert report.gpu.smi == "/usr/local/nvidia/bin/nvidia-smi"
    gpus, cdi = report.checks
    assert (gpus.rc, gpus.line) == (0, "GPU 0: NVIDIA H200")
    assert gpus.command == f"docker run --rm --gpus all {PROBE} nvidia-smi -L"
    assert cdi.rc == 125 and cdi.no_device_driver


def test_a_dry_preview_names_the_probe_it_would_make_and_the_checks_it_would_run():
    would = (
        f"docker run --rm --network none --pull never --gpus all {PROBE} /sbin/ldconfig --version"
    )
    report = parse_verification(
        [f"probe_missing={PROBE}", "probe_static=/sbin/ldconfig", f"would=gpus|{would}"]
    )
    assert report.probe == "" and report.checks == ()
    assert report.probe_missing == PROBE and report.planned == (("gpus", would),)
    dockerd = DockerdGpus(
        pid="53", started_at=100.0, hook="/usr/bin/h", hook_ctime=50.0, runtimes=RUNTIMES
    )
    lines, problem = describe(
        Verification(dockerd=dockerd, probe_missing=PROBE, planned=report.planned)
    )
    assert problem is None  # dockerd started after the hook: nothing against it yet
    assert f"check --gpus all: would run `{would}`" in lines
    assert any(line.startswith(f"probe image {PROBE}: not on the host") for line in lines)


def test_without_the_gpus_check_a_dockerd_older_than_the_hook_still_fails_the_host():
    stale = DockerdGpus(
        pid="53", started_at=100.0, hook="/usr/bin/h", hook_ctime=150.0, runtimes=RUNTIMES
    )
    _, problem = describe(Verification(dockerd=stale, probe_missing=PROBE))
    assert problem is not None
    assert "never registered the --gpus device driver" in problem
    assert "restart docker" in problem


def test_only_a_preview_that_ran_every_check_stands_for_a_verify():
    """The converge's read verifies as a preview (nothing made or pulled): its answer may
    stand for the verify only where a real verify would have run the same checks."""
    assert verification().complete
    assert verification(checks=(check(rc=125, output=NO_DRIVER),)).complete  # failed, but ran
    would = ("gpus", f"docker run --rm --network none --gpus all {PROBE} x")
    assert not verification(probe="", probe_missing=PROBE, checks=(), planned=(would,)).complete
    image = ("image", "docker run --rm --network none --gpus all cuda:12 nvidia-smi -L")
    assert not verification(planned=(image,)).complete  # the smoke-test image is not pulled
    assert not verification(probe="", checks=()).complete  # docker did not answer
