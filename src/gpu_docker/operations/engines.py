"""containerd and podman asked whether GPU containers run through them (``verify`` for
the engines ``container_engine`` names besides docker; see :mod:`gpu_docker.engine_verify`).
"""

from __future__ import annotations

from collections.abc import Generator

from pyinfra import host
from pyinfra.api import StringCommand, operation

from gpu_docker import cdi, fleet_report, toolkit
from gpu_docker.engine_verify import EngineReport, cri_runtime, describe_engine
from gpu_docker.facts.engines import ContainerdDump, ContainerdVerification, PodmanVerification
from gpu_docker.operations.util import conclude_verification


def _finish(
    engine: str,
    report: EngineReport | None,
    lines: list[str],
    problem: str | None,
    fleet: bool,
    report_path: str | None,
) -> Generator[StringCommand, None, None]:
    """Log the lines, add the host to the fleet report, fail it with the problem."""
    entry = fleet_report.engine_record(host.name, engine, report, problem) if fleet else None
    yield from conclude_verification(lines, problem, entry, report_path)


@operation()
def verify_containerd(
    config_path: str,
    runtime_name: str,
    cdi: bool = False,
    fleet: bool = False,
    report_path: str | None = None,
) -> Generator[StringCommand, None, None]:
    """
    Report whether a GPU container starts through containerd's ``runtime_name`` handler.

    + config_path: containerd's config.toml, as containerd reads it (``config dump``)
    + runtime_name: CRI's handler for GPU pods
    + cdi: also a CDI device request, and CRI's ``enable_cdi`` must be on
    + fleet, report_path: as ``docker.verify`` (the verify deploy's own use)

    Reads the effective configuration (drop-ins included), imports the probe image into
    containerd's ``k8s.io`` namespace on first use, and runs it with ``ctr run`` through
    the handler's runtime_type and BinaryName. Fails the host naming what did not start.

    **Example:**

    .. code:: python

        engines.verify_containerd(
            name="Verify a GPU container runs through containerd's nvidia runtime",
            config_path="/etc/containerd/config.toml",
            runtime_name="nvidia",
        )
    """
    executing = host.state.is_executing
    if not executing and not fleet:
        host.noop("verification runs once the changes are applied")
        return
    dump, why = host.get_fact(ContainerdDump, path=config_path)
    runtime, problem = cri_runtime(dump, runtime_name) if dump is not None else (None, why)
    if runtime is None or problem:
        lines = [runtime.describe()] if runtime else []
        yield from _finish("containerd", None, lines, f"containerd: {problem}", fleet, report_path)
        return
    report = host.get_fact(
        ContainerdVerification,
        address=runtime.address,
        snapshotter=runtime.snapshotter,
        runtime_type=runtime.runtime_type,
        binary=runtime.binary,
        systemd_cgroup=runtime.systemd_cgroup,
        cdi=cdi,
        packages=toolkit.PACKAGES,
        dry=not executing,
    )
    lines, problem = describe_engine(report, runtime, cdi)
    yield from _finish("containerd", report, lines, problem, fleet, report_path)


@operation()
def verify_podman(
    fleet: bool = False, report_path: str | None = None
) -> Generator[StringCommand, None, None]:
    """
    Report whether ``podman run --device nvidia.com/gpu=all`` starts a GPU container.

    + fleet, report_path: as ``docker.verify`` (the verify deploy's own use)

    The probe image is imported into podman on first use. Without a CDI spec (no driver)
    the probe runs without the request and the report says why.

    **Example:**

    .. code:: python

        engines.verify_podman(name="Verify a GPU container runs through podman (CDI)")
    """
    executing = host.state.is_executing
    if not executing and not fleet:
        host.noop("verification runs once the changes are applied")
        return
    report = host.get_fact(
        PodmanVerification, spec=cdi.SPEC_PATH, packages=toolkit.PACKAGES, dry=not executing
    )
    lines, problem = describe_engine(report)
    yield from _finish("podman", report, lines, problem, fleet, report_path)
