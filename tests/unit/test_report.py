"""Verification report: says what ran, what did not, and never pretends a GPU test ran."""

from gpu_docker.facts import GpuDockerVerification, Verification
from gpu_docker.report import describe as describe_report


def verification(**kwargs) -> Verification:
    base = {
        "cli_version": "cli-version: 1.17.8",
        "ctk_version": "NVIDIA Container Toolkit CLI version 1.17.8",
        "runtimes": ("io.containerd.runc.v2", "nvidia", "runc"),
        "docker_error": "",
        "gpus": 0,
        "smoke_rc": None,
        "smoke_output": "",
    }
    return Verification(**(base | kwargs))


def describe(report, image=None):
    return describe_report(report, "nvidia", image)


def test_no_gpu_is_said_plainly_and_is_not_a_failure():
    lines, problem = describe(verification(), image="cuda")
    assert problem is None
    assert "GPU smoke test: skipped, no GPU on this host (nvidia-smi -L lists none)" in lines


def test_missing_runtime_fails_the_host():
    _, problem = describe(verification(runtimes=("runc",)))
    assert problem == "docker does not list the 'nvidia' runtime (restart pending?)"


def test_docker_down_fails_the_host_with_dockers_words():
    _, problem = describe(verification(runtimes=None, docker_error="Cannot connect"))
    assert problem == "docker does not answer: Cannot connect"


def test_gpu_without_image_says_why_the_test_was_skipped():
    lines, problem = describe(verification(gpus=2))
    assert problem is None
    assert "2 GPU(s) present but smoke_test_image unset" in lines[-1]


def test_smoke_test_result_is_reported_either_way():
    ok_lines, ok = describe(verification(gpus=1, smoke_rc=0, smoke_output="GPU 0: H200"), "cuda")
    assert ok is None and "GPU 0: H200" in ok_lines[-1]
    _, bad = describe(verification(gpus=1, smoke_rc=125, smoke_output="could not select"), "cuda")
    assert bad is not None and "exit 125" in bad and "could not select" in bad


def test_verification_fact_parses_its_output():
    report = GpuDockerVerification().process(
        [
            "cli=cli-version: 1.18.1",
            "ctk=NVIDIA Container Toolkit CLI version 1.18.1",
            'runtimes={"runc":{},"nvidia":{}}',
            "gpus=1",
            "smoke_rc=0",
            "smoke_out=GPU 0: NVIDIA H200 ",
        ]
    )
    assert report.runtimes == ("nvidia", "runc")
    assert (report.gpus, report.smoke_rc, report.smoke_output) == (1, 0, "GPU 0: NVIDIA H200")
