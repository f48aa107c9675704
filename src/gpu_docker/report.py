"""The per-host verification report, as lines an operator reads and one verdict.

Pure: it turns the verification fact into text, so the wording of every outcome is
unit-tested. "Verified" means what users run works: ``docker run --gpus all`` on the probe
image on every host, GPU or not (a GPU-less host runs a static binary through it, which
catches a dockerd without the device driver), and ``nvidia-smi -L`` in containers where
GPUs answer. A driver whose nvidia-smi fails is a failure naming nvidia-smi's own words.
"""

from __future__ import annotations

from gpu_docker.verification import Check, Verification

#: What each check shows, for the log and the fleet report.
CHECK_TITLES = {
    "gpus": "--gpus all",
    "runtime": "--runtime + NVIDIA_VISIBLE_DEVICES=all",
    "cdi": "CDI --device nvidia.com/gpu=all",
    "image": "smoke_test_image --gpus all",
}
NO_DRIVER = "dockerd did not register the --gpus device driver"
RESTART_HINT = "restart docker once the toolkit is installed (deploys/gpu_docker.py does both)"


def check_problem(check: Check, gpus: bool, why_no_driver: str = NO_DRIVER) -> str | None:
    """Why a check fails the host, or ``None``.

    ``why_no_driver`` explains a missing --gpus device driver (from the running dockerd:
    no hook on its PATH, or started before the hook). On a host without GPUs the
    ``--gpus`` check proves only that dockerd registered the device driver: the real
    NVIDIA hook then fails for want of a GPU, which is fine.
    """
    if check.ok:
        return None
    if check.no_device_driver:
        return f"`{check.command}` failed: {check.line}; {why_no_driver}: {RESTART_HINT}"
    if check.name == "gpus" and not gpus and check.hook_ran:
        return None
    return f"`{check.command}` failed (exit {check.rc}): {check.line}"


def device_driver_registered(report: Verification) -> bool | None:
    """Whether dockerd serves --gpus: the ``--gpus`` check says so when it ran, else the
    comparison of dockerd's start with the hook's ctime."""
    check = report.check("gpus")
    if check is not None:
        return check.hook_ran and not check.no_device_driver
    if not report.dockerd.pid:
        return None
    return report.dockerd.missing_driver() is None


def pending_restart(report: Verification, runtime_name: str) -> str | None:
    """Why docker still needs a restart (or reload) for what is installed, or ``None``."""
    reasons = []
    if device_driver_registered(report) is False:
        reasons.append(
            report.dockerd.missing_driver() or "docker run --gpus all found no device driver"
        )
    if report.dockerd.runtimes is not None and runtime_name not in report.dockerd.runtimes:
        reasons.append(f"docker does not list the {runtime_name!r} runtime")
    return "; ".join(reasons) or None


def describe(
    report: Verification, runtime_name: str, smoke_test_image: str | None
) -> tuple[list[str], str | None]:
    """Lines for the log, and the problem that fails the host (``None`` when verified)."""
    lines = [
        f"nvidia-container-cli: {report.cli_version or 'not found'}",
        f"nvidia-ctk: {report.ctk_version or 'not found'}",
    ]
    runtimes = report.dockerd.runtimes
    if runtimes is None:
        error = report.dockerd.docker_error or "docker info failed"
        lines.append(f"docker runtimes: unknown (docker info failed: {error})")
        return lines, f"docker does not answer: {error}"
    lines.append(f"docker runtimes: {', '.join(runtimes)}")
    problems: list[str] = []
    if runtime_name not in runtimes:
        problems.append(f"docker does not list the {runtime_name!r} runtime (restart pending?)")
    lines.append(report.gpu.describe())
    gpu_problem = report.gpu.problem()
    if gpu_problem:
        problems.append(gpu_problem)
    if report.probe_error:
        problems.append(f"no probe image for the --gpus check: {report.probe_error}")
    gpus = bool(report.gpu.gpus)
    why_no_driver = report.dockerd.missing_driver() or NO_DRIVER
    for check in report.checks:
        problem = check_problem(check, gpus, why_no_driver)
        title = CHECK_TITLES.get(check.name, check.name)
        if problem is None and not check.ok:
            lines.append(
                f"check {title}: ok, device driver registered (the NVIDIA hook ran and, "
                f"without a GPU, said: {check.line})"
            )
        elif problem is None:
            lines.append(f"check {title}: ok: {check.line}")
        else:
            lines.append(f"check {title}: FAILED: {check.line}")
            problems.append(problem)
    if gpus and not smoke_test_image:
        lines.append(f"check {CHECK_TITLES['image']}: skipped, smoke_test_image unset")
    return lines, "; ".join(problems) or None
