"""The NVML "Unknown Error" mitigation: /dev/char links and NVIDIA's udev rule where
docker's cgroup driver calls for them (the rules: :mod:`gpu_docker.nvml`)."""

from __future__ import annotations

from collections.abc import Generator

from pyinfra import host
from pyinfra.api import StringCommand, operation

from gpu_docker import nvml
from gpu_docker.facts import host_state
from gpu_docker.facts.nvml import NvmlFacts
from gpu_docker.settings import NvmlSymlinks


def wanted(setting: NvmlSymlinks) -> bool:
    """Whether this host gets the links and the rule; the run (and its preview) says
    which cgroup driver docker uses and what follows from it."""
    found = host_state.read(NvmlFacts)
    host.log(nvml.describe(setting, found.cgroup_driver))
    return nvml.wanted(setting, found.cgroup_driver)


@operation()
def dev_char_symlinks() -> Generator[StringCommand, None, None]:
    """
    Create the /dev/char links of the NVIDIA device nodes where any is missing.

    Nothing to do without device nodes (no driver loaded: the udev rule creates the links
    when it loads) or when every node has its link.

    **Example:**

    .. code:: python

        nvml.dev_char_symlinks(name="Create the /dev/char links of the NVIDIA devices")
    """
    facts = host_state.read(NvmlFacts)
    if not facts.nodes:
        host.noop("no /dev/nvidia* device nodes: the udev rule links them when the driver loads")
        return
    if not facts.missing:
        host.noop(f"all {facts.nodes} NVIDIA device nodes have their /dev/char link")
        return
    yield StringCommand(nvml.CREATE_COMMAND)
