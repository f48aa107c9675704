"""pyinfra fact and operation for the NVML mitigation: see :mod:`gpu_docker.nvml`."""

from __future__ import annotations

from dataclasses import dataclass

from pyinfra import host
from pyinfra.api import FactBase, StringCommand, operation

from gpu_docker import nvml, sh


@dataclass(frozen=True)
class NvmlHost:
    """docker's cgroup driver; NVIDIA device nodes and how many lack a /dev/char link."""

    cgroup_driver: str
    nodes: int
    missing: int


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


@operation()
def dev_char_symlinks():
    """
    Create the /dev/char links of the NVIDIA device nodes where any is missing.

    Nothing to do without device nodes (no driver loaded: the udev rule creates the links
    when it loads) or when every node has its link.
    """
    facts = host.get_fact(NvmlFacts)
    if not facts.nodes:
        host.noop("no /dev/nvidia* device nodes: the udev rule links them when the driver loads")
        return
    if not facts.missing:
        host.noop(f"all {facts.nodes} NVIDIA device nodes have their /dev/char link")
        return
    yield StringCommand(nvml.CREATE_COMMAND)
