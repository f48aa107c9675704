"""The /dev/char links are created only where a device node lacks one."""

from gpu_docker.facts.nvml import NvmlFacts
from gpu_docker.nvml import NvmlHost
from gpu_docker.operations import nvml


def test_links_created_only_when_some_are_missing(run_op):
    commands, _ = run_op(nvml.dev_char_symlinks, {NvmlFacts: NvmlHost("systemd", 5, 2)})
    assert commands == ["nvidia-ctk system create-dev-char-symlinks --create-all"]


def test_nothing_to_do_with_every_link_or_no_device(run_op):
    commands, host = run_op(nvml.dev_char_symlinks, {NvmlFacts: NvmlHost("systemd", 5, 0)})
    assert commands == [] and host.noops == ["all 5 NVIDIA device nodes have their /dev/char link"]
    commands, host = run_op(nvml.dev_char_symlinks, {NvmlFacts: NvmlHost("cgroupfs", 0, 0)})
    assert commands == [] and host.noops[0].startswith("no /dev/nvidia* device nodes")


def test_fact_reads_the_script_output():
    fact = NvmlFacts()
    assert fact.process(["cgroup_driver=systemd", "nodes=4", "missing=1"]) == NvmlHost(
        "systemd", 4, 1
    )
    assert fact.process([]) == NvmlHost("", 0, 0)
