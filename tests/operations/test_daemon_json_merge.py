"""daemon.json's merge: left alone when it has the settings, else uploaded beside its target
and swapped in with a backup; a file that is not JSON fails the host, untouched."""

import json

import pytest
from fake_host import fact

from gpu_docker.facts.files import RemoteFileText
from gpu_docker.files import RemoteFile
from gpu_docker.operations import daemon_json

OWNED = {"runtimes": {"nvidia": {"path": "nvidia-container-runtime", "args": []}}}


def remote(text, target="/etc/docker/daemon.json"):
    path = "/etc/docker/daemon.json"
    return {fact(RemoteFileText, path=path): RemoteFile(path, target, text)}


def test_daemon_json_with_the_runtime_is_not_touched(run_op):
    text = json.dumps({"debug": True, **OWNED})
    commands, host = run_op(
        daemon_json.merge, remote(text), path="/etc/docker/daemon.json", owned=OWNED, backup=".b"
    )
    assert commands == []
    assert host.noops == ["/etc/docker/daemon.json already has the owned settings"]


def test_daemon_json_is_uploaded_beside_the_target_then_swapped_with_a_backup(run_op):
    commands, host = run_op(
        daemon_json.merge,
        remote('{"debug": true}', target="/srv/conf/daemon.json"),
        path="/etc/docker/daemon.json",
        owned=OWNED,
        backup=".gpu-docker-X.bak",
    )
    assert commands[0] == "mkdir -p /srv/conf"
    kind, data, dest, target = commands[1]
    assert (kind, dest, target) == (
        "upload_beside",
        "/srv/conf/.daemon.json.gpu-docker.tmp",
        "/srv/conf/daemon.json",
    )
    assert json.loads(data) == {"debug": True, **OWNED}
    assert commands[2].endswith(
        "gpu-docker /srv/conf/.daemon.json.gpu-docker.tmp /srv/conf/daemon.json "
        "/srv/conf/daemon.json.gpu-docker-X.bak"
    )
    assert host.logs[0] == "Will modify /srv/conf/daemon.json"


def test_a_fact_read_with_other_arguments_than_given_fails_the_test(run_op):
    """The fake host is keyed by arguments: reading another file is caught, not answered."""
    with pytest.raises(KeyError, match=r"/etc/docker/other\.json"):
        run_op(
            daemon_json.merge, remote("{}"), path="/etc/docker/other.json", owned=OWNED, backup=".b"
        )


def test_unparseable_daemon_json_fails_the_host_and_writes_nothing(run_op):
    commands, _ = run_op(
        daemon_json.merge, remote("{oops"), path="/etc/docker/daemon.json", owned=OWNED, backup=".b"
    )
    assert len(commands) == 1
    assert "not valid JSON" in commands[0] and "left untouched" in commands[0]
    assert commands[0].endswith("exit 1")
