"""The NVML mitigation's view of the host (see :mod:`gpu_docker.nvml`)."""

from __future__ import annotations

from pyinfra.api import FactBase, StringCommand

from gpu_docker import sh
from gpu_docker.nvml import NvmlHost


class NvmlFacts(FactBase[NvmlHost]):
    """docker's cgroup driver and the /dev/char links of the NVIDIA devices."""

    def command(self) -> StringCommand:
        return sh.command("nvml_facts")

    def process(self, output: list[str]) -> NvmlHost:
        found: dict[str, str] = {}
        for line in output:
            key, sep, value = line.partition("=")
            if sep:
                found.setdefault(key, value.strip())

        def number(key: str) -> int:
            value = found.get(key, "0")
            return int(value) if value.isdigit() else 0

        return NvmlHost(found.get("cgroup_driver", ""), number("nodes"), number("missing"))
