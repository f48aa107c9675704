"""What containerd and podman hosts prove about GPU containers (``container_engine``).

docker's verification (:mod:`gpu_docker.verify`) runs ``docker run --gpus all``. The other
engines are held to the same promise, a GPU container started through the engine's own
effective configuration:

- **containerd**: what CRI's ``nvidia`` handler names in ``containerd config dump`` (its
  ``runtime_type``, ``options.BinaryName`` and ``SystemdCgroup``, CRI's snapshotter) is
  what ``ctr run`` uses on the probe image imported into containerd's ``k8s.io``
  namespace, with the environment a GPU pod gets (``NVIDIA_VISIBLE_DEVICES=all``). CRI
  reads ``options`` as runc options only for a runc ``runtime_type``: any other type, or
  no ``BinaryName``, means pods of that runtime class run without the NVIDIA runtime, and
  fails the host before anything runs. With ``cdi``, CRI's ``enable_cdi`` must be on, and
  ``ctr run --device nvidia.com/gpu=all`` runs where ctr resolves CDI names itself (2.0+).
- **podman**: NVIDIA supports it through CDI only: ``podman run --device
  nvidia.com/gpu=all`` on the probe image (``podman import``). A host without a driver has
  no CDI spec (``nvidia-ctk cdi generate`` needs the driver's files): the probe then runs
  without the request, and the report says why no GPU was asked for.

Pure: parsing, wording and verdict are unit-tested; ``gpu_docker.operations.engines``
runs them.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from gpu_docker.cdi import SPEC_PATH
from gpu_docker.containerd import grpc_address
from gpu_docker.dockerd_gpus import HOOK_ERRORS
from gpu_docker.toml_merge import TomlMergeError, dig, plain
from gpu_docker.verify import Check, Verification, parse_verification, security_line

#: runtime_types whose ``options`` CRI reads as runc options (BinaryName, SystemdCgroup).
RUNC_TYPES = ("io.containerd.runc.v2", "io.containerd.runc.v1")
#: Where each config version keeps CRI's runtimes, its snapshotter and enable_cdi.
_CRI = {
    2: (("io.containerd.grpc.v1.cri", "containerd"), ("io.containerd.grpc.v1.cri", "containerd")),
    3: (("io.containerd.cri.v1.runtime", "containerd"), ("io.containerd.cri.v1.images",)),
}
_CDI_PLUGIN = {2: "io.containerd.grpc.v1.cri", 3: "io.containerd.cri.v1.runtime"}


@dataclass(frozen=True)
class CriRuntime:
    """The runtime CRI's handler names, as ``containerd config dump`` shows it."""

    name: str
    runtime_type: str
    binary: str
    systemd_cgroup: bool
    snapshotter: str
    #: ``None``: the dump has no such key, a containerd without CDI (1.6 drops it).
    enable_cdi: bool | None
    address: str

    def describe(self) -> str:
        cgroup = ", SystemdCgroup" if self.systemd_cgroup else ""
        return (
            f"CRI runtime {self.name!r}: runtime_type {self.runtime_type or '(empty)'}, "
            f"BinaryName {self.binary or '(none)'}{cgroup}; snapshotter {self.snapshotter}"
        )


def decode_dump(output: Iterable[str]) -> tuple[str | None, str]:
    """``containerd_dump.sh``'s answer: ``(dump text, '')`` or ``(None, why not)``."""
    found: dict[str, str] = {}
    for line in output:
        key, sep, value = line.partition("=")
        if sep:
            found.setdefault(key, value.strip())
    if found.get("missing"):
        return None, "containerd is not installed (no containerd on PATH)"
    if found.get("rc") != "0":
        return None, f"containerd config dump failed: {found.get('error') or 'no output'}"
    try:
        return base64.b64decode(found.get("b64", "")).decode("utf-8", errors="replace"), ""
    except (binascii.Error, ValueError):
        return None, "containerd config dump gave no readable output"


def cri_runtime(dump: str, runtime_name: str) -> tuple[CriRuntime | None, str | None]:
    """CRI's handler ``runtime_name`` from the dump, or why none can serve GPU pods."""
    try:
        data = plain(dump)
    except TomlMergeError as exc:
        return None, f"containerd config dump is not TOML: {exc}"
    version = 3 if data.get("version") == 3 else 2
    runtimes_at, images_at = _CRI[version]
    runtimes = dig(data, "plugins", *runtimes_at, "runtimes")
    entry = runtimes.get(runtime_name) if isinstance(runtimes, Mapping) else None
    if not isinstance(entry, Mapping):
        names = ", ".join(sorted(runtimes)) if isinstance(runtimes, Mapping) else "none"
        return None, (
            f"containerd config dump has no CRI runtime {runtime_name!r} (runtimes: {names}): "
            "containerd does not read the file's runtime (an import or drop-in shadowing "
            "it, or a config version this containerd does not know)"
        )
    options = entry.get("options")
    options = options if isinstance(options, Mapping) else {}
    snapshotter = dig(data, "plugins", *images_at, "snapshotter")
    runtime = CriRuntime(
        name=runtime_name,
        runtime_type=str(entry.get("runtime_type") or ""),
        binary=str(options.get("BinaryName") or ""),
        systemd_cgroup=options.get("SystemdCgroup") is True,
        snapshotter=snapshotter if isinstance(snapshotter, str) and snapshotter else "overlayfs",
        enable_cdi=_flag(dig(data, "plugins", _CDI_PLUGIN[version], "enable_cdi")),
        address=grpc_address(data),
    )
    return runtime, _runtime_problem(runtime)


def _flag(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def _runtime_problem(runtime: CriRuntime) -> str | None:
    """Why pods of this runtime class would not get the NVIDIA runtime, read from the dump."""
    if runtime.runtime_type not in RUNC_TYPES:
        return (
            f"CRI runtime {runtime.name!r} has runtime_type "
            f"{runtime.runtime_type or '(empty)'!r}: containerd reads options.BinaryName "
            f"only for {RUNC_TYPES[0]}, so its pods would run without "
            f"{runtime.binary or 'the NVIDIA runtime'}"
        )
    if not runtime.binary:
        return (
            f"CRI runtime {runtime.name!r} has no options.BinaryName: its pods run plain runc, "
            "without the NVIDIA runtime"
        )
    return None


@dataclass(frozen=True)
class EngineReport:
    """One engine's verification: the common part (OS, GPUs, probe, checks) and its own."""

    engine: str
    base: Verification = field(default_factory=Verification)
    version: str = ""
    error: str = ""
    cdi_spec: bool = False
    cdi_unsupported: str = ""


def parse_engine(engine: str, output: Iterable[str]) -> EngineReport:
    """``containerd_verify.sh``'s or ``podman_verify.sh``'s ``key=value`` lines."""
    lines = list(output)
    found: dict[str, str] = {}
    for line in lines:
        key, sep, value = line.partition("=")
        if sep:
            found.setdefault(key, value.strip())
    return EngineReport(
        engine=engine,
        base=parse_verification(lines),
        version=found.get("engine_version", ""),
        error=found.get("engine_error", ""),
        cdi_spec=found.get("cdi_spec") == "1",
        cdi_unsupported=found.get("cdi_unsupported", ""),
    )


#: What each check shows, per engine.
TITLES = {
    ("containerd", "runtime"): "ctr run through CRI's runtime + NVIDIA_VISIBLE_DEVICES=all",
    ("containerd", "cdi"): "ctr run --device nvidia.com/gpu=all (CDI)",
    ("podman", "cdi"): "podman run --device nvidia.com/gpu=all (CDI)",
    ("podman", "run"): "podman run (no CDI spec: no GPU requested)",
}


def check_ok(check: Check, gpus: bool) -> bool:
    """A check passes when it ran; on a GPU-less host the NVIDIA hook failing for want of a
    GPU also proves the runtime path (as docker's ``--gpus`` check)."""
    if check.ok:
        return True
    return not gpus and check.name == "runtime" and any(w in check.output for w in HOOK_ERRORS)


def describe_engine(
    report: EngineReport, runtime: CriRuntime | None = None, cdi: bool = False
) -> tuple[list[str], str | None]:
    """Lines for the log, and the problem that fails the host (``None`` when verified)."""
    engine = report.engine
    if report.error:
        return [f"{engine}: does not answer: {report.error}"], (
            f"{engine} does not answer: {report.error}"
        )
    lines = [f"{engine}: {report.version or 'version unknown'}"]
    security = security_line(report.base)
    if security:
        lines.append(security)
    if runtime is not None:
        lines.append(runtime.describe())
    problems: list[str] = []
    gpu = report.base.gpu
    lines.append(gpu.describe())
    if gpu.problem():
        problems.append(gpu.problem() or "")
    if report.base.probe_error:
        problems.append(f"no probe image for the {engine} check: {report.base.probe_error}")
    gpus = bool(gpu.gpus)
    for check in report.base.checks:
        title = TITLES.get((engine, check.name), check.name)
        if check_ok(check, gpus):
            lines.append(f"check {title}: ok: {check.line}")
        else:
            lines.append(f"check {title}: FAILED: {check.line}")
            problems.append(
                f"{engine}: the probe container did not start ({title}, exit {check.rc}): "
                f"{check.line}"
            )
    if report.base.probe_missing:
        lines.append(
            f"probe image {report.base.probe_missing}: not in {engine}; a real verify imports "
            "it first (the host's glibc, about 6 MB), this preview does not"
        )
    for name, command in report.base.planned:
        lines.append(f"check {TITLES.get((engine, name), name)}: would run `{command}`")
    if engine == "podman" and not report.cdi_spec:
        if gpu.driver_loaded or gpu.smi:
            problems.append(
                f"podman: no CDI spec at {SPEC_PATH} although the host has an NVIDIA driver: "
                "podman gets GPUs only through CDI (the converge generates it)"
            )
        else:
            lines.append(
                f"CDI: no spec at {SPEC_PATH}: no NVIDIA driver on this host (nvidia-ctk cdi "
                "generate needs the driver's files), so no GPU was requested"
            )
    if engine == "containerd" and cdi and runtime is not None:
        if runtime.enable_cdi is None:
            lines.append(
                "CDI through containerd: this containerd has none (no enable_cdi in its dump; "
                "containerd 1.7+): CDI devices only through docker here"
            )
        elif not runtime.enable_cdi:
            problems.append(
                "containerd: cdi=true but CRI's enable_cdi is off in containerd config dump: "
                "pods' CDI device requests are ignored"
            )
        elif report.cdi_unsupported:
            lines.append(
                f"check CDI through containerd: not run, {report.cdi_unsupported} cannot request "
                "CDI devices (ctr 2.0+ can); CRI's enable_cdi is on"
            )
    return lines, "; ".join(problems) or None


def check_records(report: EngineReport) -> list[dict[str, Any]]:
    """The checks as the fleet report lists them, each naming its engine."""
    gpus = bool(report.base.gpu.gpus)
    return [
        {
            "engine": report.engine,
            "name": check.name,
            "title": TITLES.get((report.engine, check.name), check.name),
            "command": check.command,
            "exit": check.rc,
            "ok": check_ok(check, gpus),
            "output": check.line,
        }
        for check in report.base.checks
    ]
