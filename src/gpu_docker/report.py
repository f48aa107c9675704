"""The per-host verification report, as lines an operator reads and one verdict.

Pure: it turns the verification fact into text, so the wording of every outcome is
unit-tested. Without a GPU the report says so and does not count that as a failure
(image baking and this project's own sandbox have none); it never claims a GPU test ran.
"""

from __future__ import annotations

from gpu_docker.facts import Verification


def describe(
    report: Verification, runtime_name: str, smoke_test_image: str | None
) -> tuple[list[str], str | None]:
    """Lines for the log, and the problem that fails the host (``None`` when verified)."""
    lines = [
        f"nvidia-container-cli: {report.cli_version or 'not found'}",
        f"nvidia-ctk: {report.ctk_version or 'not found'}",
    ]
    if report.runtimes is None:
        lines.append(f"docker runtimes: unknown (docker info failed: {report.docker_error})")
        return lines, f"docker does not answer: {report.docker_error or 'docker info failed'}"
    lines.append(f"docker runtimes: {', '.join(report.runtimes)}")
    problem = None
    if runtime_name not in report.runtimes:
        problem = f"docker does not list the {runtime_name!r} runtime (restart pending?)"
    if report.gpus == 0:
        lines.append("GPU smoke test: skipped, no GPU on this host (nvidia-smi -L lists none)")
    elif not smoke_test_image:
        lines.append(
            f"GPU smoke test: skipped, {report.gpus} GPU(s) present but smoke_test_image unset"
        )
    elif report.smoke_rc == 0:
        lines.append(f"GPU smoke test (--gpus all, {smoke_test_image}): {report.smoke_output}")
    else:
        lines.append(
            f"GPU smoke test (--gpus all, {smoke_test_image}) failed: {report.smoke_output}"
        )
        problem = problem or (
            f"docker run --gpus all {smoke_test_image} nvidia-smi -L failed "
            f"(exit {report.smoke_rc}): {report.smoke_output}"
        )
    return lines, problem
