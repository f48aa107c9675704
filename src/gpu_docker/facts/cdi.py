"""CDI on the host: what decides NVIDIA's spec (see :mod:`gpu_docker.cdi`)."""

from __future__ import annotations

from pyinfra.api import FactBase, StringCommand

from gpu_docker import sh
from gpu_docker.cdi import CdiHost


class CdiFacts(FactBase[CdiHost]):
    """Driver, toolkit, spec, stamp and refresh units, in one round trip."""

    def command(self, spec: str, stamp: str) -> StringCommand:
        return sh.command("cdi_facts", spec, stamp)

    @staticmethod
    def default() -> CdiHost:
        """No output at all: no driver, no toolkit (a rollback removed it), no spec."""
        return CdiHost(
            "", "", spec_exists=False, stamp="", refresh_units=False, refresh_enabled=False
        )

    def process(self, output: list[str]) -> CdiHost:
        found: dict[str, str] = {}
        for line in output:
            key, sep, value = line.partition("=")
            if sep:
                found.setdefault(key, value.strip())
        return CdiHost(
            driver=found.get("driver", ""),
            toolkit=found.get("toolkit", ""),
            spec_exists=found.get("spec") == "1",
            stamp=found.get("stamp", ""),
            refresh_units=found.get("refresh") == "1",
            refresh_enabled=found.get("refresh_enabled") == "1",
            refresh_spec=found.get("refresh_spec") == "1",
            refresh_spec_path=found.get("refresh_spec_path") or "/var/run/cdi/nvidia.yaml",
            refresh_lingering=found.get("refresh_lingering") == "1",
            refresh_skips=found.get("refresh_skips", ""),
        )
