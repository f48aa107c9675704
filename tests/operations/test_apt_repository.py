"""NVIDIA's apt source: left alone when in place, otherwise probed before it is written."""

from gpu_docker.apt_sources import AptSourceFiles
from gpu_docker.facts.apt import HostAptSources, KeyringFingerprints
from gpu_docker.facts.files import RemoteFileText
from gpu_docker.files import RemoteFile
from gpu_docker.operations import apt

FPR = "C95B321B61E88C1809C4F759DDCAE044F796ECB0"
KEYRING = "/usr/share/keyrings/nvidia-container-toolkit-keyring.gpg"
URL = "https://nvidia.github.io/libnvidia-container/stable/deb/$(ARCH)"
LIST = "/etc/apt/sources.list.d/nvidia-container-toolkit.list"
LINE = f"deb [signed-by={KEYRING}] {URL} /"
OLD = "/etc/apt/sources.list.d/nvidia-docker.list"


def facts(files, key=(FPR,), current=LINE + "\n"):
    return {
        HostAptSources: AptSourceFiles(files, "amd64", ""),
        KeyringFingerprints: list(key),
        RemoteFileText: RemoteFile(LIST, LIST, current),
    }


def run(run_op, found, executing=True):
    return run_op(
        apt.repository,
        found,
        executing=executing,
        key_url="https://k",
        fingerprint=FPR,
        keyring=KEYRING,
        repo_url=URL,
        list_path=LIST,
        line=LINE,
        backup=".gpu-docker-X.bak",
    )


def test_source_and_key_in_place_without_conflicts_is_left_alone(run_op):
    commands, host = run(run_op, facts({LIST: LINE + "\n"}))
    assert commands == []
    assert host.noops == [f"{LIST} and {KEYRING} in place, no conflicting source"]


def test_an_old_unsigned_source_for_the_repository_is_named_and_disabled_after_the_probe(run_op):
    old = f"deb {URL} /\n"
    commands, host = run(run_op, facts({LIST: LINE + "\n", OLD: old}), executing=False)
    assert host.logs == [
        f"{URL} will be tried on its own before {LIST} is written",
        f"will disable {OLD} names the same repository with no signed-by "
        f"(kept as {OLD}.gpu-docker-X.bak)",
    ]
    ((function, key, *_, conflicts, _proxy),) = commands
    assert function == "_probe_and_commit" and key == ("https://k", FPR, KEYRING)
    assert [c.file for c in conflicts] == [OLD]
    assert conflicts[0].new_text.endswith(f"{LIST}): deb {URL} /\n")


def test_a_missing_key_means_a_probe_even_with_the_list_in_place(run_op):
    commands, _ = run(run_op, facts({LIST: LINE + "\n"}, key=()))
    assert len(commands) == 1 and commands[0][0] == "_probe_and_commit"
