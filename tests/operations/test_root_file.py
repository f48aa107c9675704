"""Small files gpu-docker owns (the apt pin, the udev rule): left alone when content, mode
and owner are right, else uploaded beside the target and renamed over it, root 0644."""

import pytest
from fake_host import fact

from gpu_docker.facts.files import RemoteFileText
from gpu_docker.files import RemoteFile
from gpu_docker.operations.files import root_file

PIN = "/etc/apt/preferences.d/nvidia-container-toolkit"
CONTENT = "Package: nvidia-container-toolkit\nPin: version 1.17.8-1\nPin-Priority: 1001\n"


def remote(text, meta="644 root root", target=PIN):
    return {fact(RemoteFileText, path=PIN): RemoteFile(PIN, target, text, meta)}


def test_a_file_as_wanted_is_not_touched(run_op):
    commands, host = run_op(root_file, remote(CONTENT), dest=PIN, content=CONTENT)
    assert commands == []
    assert host.noops == [f"{PIN} is up to date"]


@pytest.mark.parametrize(
    ("text", "meta"),
    [(None, ""), ("Pin: version 1.17.7-1\n", "644 root root"), (CONTENT, "600 root root")],
    ids=["absent", "other content", "other mode"],
)
def test_a_file_that_differs_is_uploaded_beside_it_and_renamed_over_it(run_op, text, meta):
    commands, _ = run_op(root_file, remote(text, meta), dest=PIN, content=CONTENT)
    temp = "/etc/apt/preferences.d/.nvidia-container-toolkit.gpu-docker.tmp"
    assert commands[0] == "mkdir -p /etc/apt/preferences.d"
    assert commands[1] == ("upload_beside", CONTENT, temp, PIN)
    assert commands[2].endswith(f"gpu-docker {temp} {PIN}")
    assert 'chmod 644 "$1" && chown root:root "$1" && mv -f "$1" "$2"' in commands[2]


def test_a_symlinked_file_is_written_at_its_target(run_op):
    commands, _ = run_op(root_file, remote("old\n", target="/srv/pin"), dest=PIN, content=CONTENT)
    assert commands[1][3] == "/srv/pin"


def test_a_directory_the_read_found_is_not_made_again(run_op):
    found = {fact(RemoteFileText, path=PIN): RemoteFile(PIN, PIN, None, "", parent_exists=True)}
    commands, _ = run_op(root_file, found, dest=PIN, content=CONTENT)
    temp = "/etc/apt/preferences.d/.nvidia-container-toolkit.gpu-docker.tmp"
    assert commands[0] == ("upload_beside", CONTENT, temp, PIN)  # no mkdir round trip
    assert len(commands) == 2
