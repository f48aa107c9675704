"""What a host proves about GPU containers: the fact ``verify.sh`` answers, parsed.

One round trip per host gathers the host (OS, docker, toolkit packages), the running
dockerd (``lib_dockerd.sh``: did it register the ``--gpus`` device driver), the driver and
its nvidia-smi wherever the driver put it (``lib_gpu.sh``), and the result of each
``docker run`` check on the probe image (``lib_probe.sh``). The wording and the verdict
live in :mod:`gpu_docker.report`; this module only reads.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable
from dataclasses import dataclass, field

from pyinfra.api import FactBase, StringCommand

from gpu_docker import sh
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

    def check(self, name: str) -> Check | None:
        return next((check for check in self.checks if check.name == name), None)


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
    )


class GpuDockerVerification(FactBase[Verification]):
    """Ask the host whether GPU containers work: ``docker run --gpus all`` on every host,
    ``nvidia-smi -L`` inside containers where GPUs answer (see ``verify.sh``)."""

    def command(
        self, runtime_name: str, image: str = "", packages: tuple[str, ...] = ()
    ) -> StringCommand:
        return sh.command(
            "verify", runtime_name, image, *packages, libs=("dockerd", "gpu", "probe")
        )

    def process(self, output: list[str]) -> Verification:
        return parse_verification(output)
