"""containerd and podman on the host: what containerd makes of its configuration, and
whether a GPU container starts through each engine (see :mod:`gpu_docker.engine_verify`)."""

from __future__ import annotations

from pyinfra.api import FactBase, StringCommand

from gpu_docker import sh
from gpu_docker.engine_verify import EngineReport, decode_dump, parse_engine


class ContainerdDump(FactBase[tuple[str | None, str]]):
    """``containerd config dump``: ``(text, '')``, or ``(None, why it failed)``."""

    def command(self, path: str) -> StringCommand:
        return sh.command("containerd_dump", path)

    def process(self, output: list[str]) -> tuple[str | None, str]:
        return decode_dump(output)


class ContainerdVerification(FactBase[EngineReport]):
    """``ctr run`` of the probe image through CRI's runtime (see ``containerd_verify.sh``).

    The probe is imported on first use, so this fact changes the host; ``dry=True`` (a
    preview) imports nothing and runs only on a probe already there."""

    def command(
        self,
        address: str,
        snapshotter: str,
        runtime_type: str,
        binary: str,
        systemd_cgroup: bool,
        cdi: bool,
        packages: tuple[str, ...] = (),
        dry: bool = False,
    ) -> StringCommand:
        flags = ("1" if systemd_cgroup else "0", "1" if cdi else "0", "0" if dry else "1")
        return sh.command(
            "containerd_verify", address, snapshotter, runtime_type, binary, *flags, *packages
        )

    def process(self, output: list[str]) -> EngineReport:
        return parse_engine("containerd", output)


class PodmanVerification(FactBase[EngineReport]):
    """``podman run --device nvidia.com/gpu=all`` of the probe (see ``podman_verify.sh``);
    ``dry=True`` imports nothing."""

    def command(
        self, spec: str, packages: tuple[str, ...] = (), dry: bool = False
    ) -> StringCommand:
        return sh.command("podman_verify", spec, "0" if dry else "1", *packages)

    def process(self, output: list[str]) -> EngineReport:
        return parse_engine("podman", output)
