"""What a host proves about GPU containers, and the report an operator reads of it.

One round trip per host (``gpu_docker.facts.docker.GpuDockerVerification``, running
``verify.sh``) gathers the host (OS, docker, toolkit packages), the running dockerd
(``lib_dockerd.sh``: did it register the ``--gpus`` device driver), the driver and its
nvidia-smi wherever the driver put it (``lib_gpu.sh``), and the result of each
``docker run`` check on the probe image (``lib_probe.sh``).

"Verified" means what users run works: ``docker run --gpus all`` on the probe image on
every host, GPU or not (a GPU-less host runs a static binary through it, which catches a
dockerd without the device driver), and ``nvidia-smi -L`` in containers where GPUs
answer. A driver whose nvidia-smi fails is a failure naming nvidia-smi's own words.

Pure: parsing, wording and verdict are unit-tested without pyinfra; the same module
serves the ``verify`` operation, the ``verify`` deploy and the fleet report.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable
from dataclasses import dataclass, field

from debian.debian_support import Version

from gpu_docker import advisories, toolkit
from gpu_docker.dockerd_gpus import HOOK_ERRORS, DockerdGpus, parse_dockerd_gpus

#: Where gpu-docker looks for nvidia-smi after dockerd's PATH (see lib_gpu.sh).
SMI_DIRS = ("/usr/bin", "/usr/local/bin", "/usr/local/nvidia/bin", "/usr/lib/wsl/lib")


@dataclass(frozen=True)
class Check:
    """One ``docker run`` the verification ran: its name, exit code, command and output."""

    name: str
    rc: int
    command: str
    output: str

    @property
    def ok(self) -> bool:
        return self.rc == 0

    @property
    def line(self) -> str:
        """The one line to report: the GPUs listed, the first output line, or the error."""
        lines = [
            line.strip()
            for line in self.output.splitlines()
            if line.strip() and not line.startswith("See 'docker run --help'")
        ]
        if not lines:
            return "(no output)"
        if self.ok:
            gpus = [line for line in lines if line.startswith("GPU ")]
            return "; ".join(gpus) if gpus else lines[0]
        daemon = [line for line in lines if "Error response from daemon" in line]
        errors = [line for line in lines if "error" in line.lower()]
        return (daemon or errors or lines[-1:])[0][:400]

    @property
    def no_device_driver(self) -> bool:
        """dockerd has no --gpus device driver: it started before the hook was installed.

        Only for ``[[gpu]]`` requests: ``device driver "cdi"`` is CDI being off instead.
        """
        return "could not select device driver" in self.output and "[[gpu]]" in self.output

    @property
    def hook_ran(self) -> bool:
        """The NVIDIA hook ran (so the device driver is registered), whatever it then said."""
        return self.ok or any(word in self.output for word in HOOK_ERRORS)


@dataclass(frozen=True)
class GpuState:
    """The NVIDIA driver as the host shows it: loaded module, nvidia-smi and what it says."""

    driver_loaded: str = ""
    smi: str = ""
    smi_rc: int | None = None
    smi_lines: tuple[str, ...] = ()

    @property
    def gpus(self) -> tuple[str, ...]:
        """``GPU 0: NVIDIA H200 (UUID: ...)`` lines, when nvidia-smi works."""
        if self.smi_rc != 0:
            return ()
        return tuple(line for line in self.smi_lines if line.startswith("GPU "))

    def problem(self) -> str | None:
        """Why the GPUs cannot be listed on a host that has a driver; ``None`` otherwise.

        A loaded driver or an installed nvidia-smi means the host is meant to have GPUs:
        a failing nvidia-smi is then a failure naming its own words, never "no GPU".
        """
        if self.smi and self.smi_rc != 0:
            said = next((line for line in self.smi_lines if line.strip()), "no output")
            hint = ""
            if "version mismatch" in said:
                hint = (
                    " (the loaded kernel module is not the installed driver's, e.g. a driver "
                    "upgrade without a reboot: reboot or reload the nvidia modules)"
                )
            elif "couldn't communicate with the NVIDIA driver" in said:
                hint = " (the NVIDIA kernel module is not loaded)"
            rc = "timed out" if self.smi_rc == 124 else f"exit {self.smi_rc}"
            return f"NVIDIA driver problem: {self.smi} -L failed ({rc}): {said}{hint}"
        if self.driver_loaded and not self.smi:
            return (
                f"NVIDIA driver loaded ({self.driver_loaded}) but no nvidia-smi found on "
                f"PATH or in {', '.join(SMI_DIRS)}: the GPUs cannot be checked"
            )
        return None

    def describe(self) -> str:
        """One line: how many GPUs, and where nvidia-smi was found."""
        if self.gpus:
            return f"GPUs: {len(self.gpus)} (nvidia-smi at {self.smi}): {'; '.join(self.gpus)}"
        if self.problem():
            return "GPUs: unknown, the driver does not answer"
        if self.smi:
            return f"GPUs: none listed by {self.smi}"
        return "GPUs: none (no NVIDIA driver loaded, no nvidia-smi found)"


@dataclass(frozen=True)
class Verification:
    """Everything one host says about GPU containers (see ``verify.sh``)."""

    os: str = ""
    docker_version: str = ""
    packages: dict[str, str] = field(default_factory=dict)
    cli_version: str = ""
    ctk_version: str = ""
    dockerd: DockerdGpus = field(default_factory=DockerdGpus)
    cdi: bool = False
    gpu: GpuState = field(default_factory=GpuState)
    probe: str = ""
    probe_error: str = ""
    checks: tuple[Check, ...] = ()
    #: A preview only (``--dry``): the probe image a real verify would make first, and
    #: the checks it would run (name, command) for want of their image.
    probe_missing: str = ""
    planned: tuple[tuple[str, str], ...] = ()

    def check(self, name: str) -> Check | None:
        return next((check for check in self.checks if check.name == name), None)

    @property
    def complete(self) -> bool:
        """A preview that ran every check a real verify runs: the probe image was there,
        and so was any smoke-test image (a real verify would only have made or pulled
        them first)."""
        return bool(self.probe) and not self.probe_missing and not self.planned


def _decode(text: str) -> str:
    try:
        return base64.b64decode(text).decode("utf-8", errors="replace")
    except (binascii.Error, ValueError):
        return text


def _int(text: str) -> int | None:
    return int(text) if text.lstrip("-").isdigit() else None


def parse_verification(output: Iterable[str]) -> Verification:
    """Parse ``verify.sh``'s ``key=value`` lines (``pkg``, ``smi_out``, ``check`` repeat)."""
    lines = list(output)
    first: dict[str, str] = {}
    packages: dict[str, str] = {}
    smi_lines: list[str] = []
    checks: list[Check] = []
    planned: list[tuple[str, str]] = []
    for line in lines:
        key, sep, value = line.partition("=")
        if not sep:
            continue
        if key == "pkg":
            name, _, rest = value.partition("\t")
            version, _, status = rest.partition("\t")
            if version and status.startswith("ii"):
                packages[name] = version
        elif key == "smi_out":
            smi_lines.append(value.strip())
        elif key == "check":
            name, _, rest = value.partition("|")
            rc, _, rest = rest.partition("|")
            command, _, encoded = rest.rpartition("|")
            code = _int(rc)
            checks.append(Check(name, -1 if code is None else code, command, _decode(encoded)))
        elif key == "would":
            name, _, command = value.partition("|")
            planned.append((name, command))
        else:
            first.setdefault(key, value.strip())
    return Verification(
        os=first.get("os", ""),
        docker_version=first.get("docker_version", ""),
        packages=packages,
        cli_version=first.get("cli", ""),
        ctk_version=first.get("ctk", ""),
        dockerd=parse_dockerd_gpus(lines),
        cdi=first.get("cdi") == "1",
        gpu=GpuState(
            driver_loaded=first.get("driver_loaded", ""),
            smi=first.get("smi", ""),
            smi_rc=_int(first.get("smi_rc", "")),
            smi_lines=tuple(smi_lines),
        ),
        probe=first.get("probe", ""),
        probe_error=first.get("probe_error", ""),
        checks=tuple(checks),
        probe_missing=first.get("probe_missing", ""),
        planned=tuple(planned),
    )


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


def installed_toolkit(report: Verification) -> str:
    """The toolkit version the host runs: the oldest of its toolkit packages (they move
    together; a mixed set is judged by its weakest part), "" when none is installed."""
    versions = [
        toolkit.upstream_version(version)
        for name, version in report.packages.items()
        if name in toolkit.PACKAGES and version
    ]
    return str(min(versions, key=Version)) if versions else ""


def open_bulletins(report: Verification) -> list[advisories.Bulletin]:
    """NVIDIA's security bulletins the installed toolkit lacks the fix of."""
    version = installed_toolkit(report)
    return advisories.affecting(version) if version else []


def security_line(report: Verification) -> str | None:
    """The verify line of a host whose installed toolkit lacks a published fix."""
    exposed = open_bulletins(report)
    if not exposed:
        return None
    return f"security: {advisories.summary(installed_toolkit(report), exposed)}"


def describe(
    report: Verification, runtime_name: str, smoke_test_image: str | None
) -> tuple[list[str], str | None]:
    """Lines for the log, and the problem that fails the host (``None`` when verified).

    For a preview (``--dry``) the checks that could not run without making the probe
    image are listed as what a real verify runs; without the ``--gpus`` check, whether
    dockerd registered the device driver is judged from its start and the hook's ctime.
    """
    lines = [
        f"nvidia-container-cli: {report.cli_version or 'not found'}",
        f"nvidia-ctk: {report.ctk_version or 'not found'}",
    ]
    security = security_line(report)
    if security:
        lines.append(security)
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
    if report.probe_missing:
        lines.append(
            f"probe image {report.probe_missing}: not on the host; a real verify makes it "
            "first (docker import of the host's glibc, about 6 MB), this preview does not"
        )
    for name, command in report.planned:
        lines.append(f"check {CHECK_TITLES.get(name, name)}: would run `{command}`")
    if report.check("gpus") is None and report.dockerd.missing_driver():
        problems.append(f"{report.dockerd.missing_driver()}: {RESTART_HINT}")
    if gpus and not smoke_test_image:
        lines.append(f"check {CHECK_TITLES['image']}: skipped, smoke_test_image unset")
    return lines, "; ".join(problems) or None
