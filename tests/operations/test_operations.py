"""What each operation yields for a given host state: the commands, or a reason for none."""

import json
from pathlib import Path

import pytest
from fake_host import fact

from gpu_docker.bundle.manifest import BundleEntry
from gpu_docker.facts.dpkg import InstalledPackages, PackageSelections
from gpu_docker.facts.files import RemoteFileText, RemoteSha256
from gpu_docker.files import RemoteFile
from gpu_docker.operations import daemon_json, docker, dpkg
from gpu_docker.preflight import DockerInfo, Preflight

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


def entries(tmp_path: Path):
    names = ["libnvidia-container1", "libnvidia-container-tools"]
    return [
        BundleEntry(
            file=f"{n}_1.17.8-1_amd64.deb",
            package=n,
            version="1.17.8-1",
            arch="amd64",
            size=1,
            sha256=f"{i}" * 64,
            order=i,
            depends="",
            directory=tmp_path,
        )
        for i, n in enumerate(names, 1)
    ]


def test_bundle_already_installed_uploads_nothing(run_op, tmp_path):
    installed = {"libnvidia-container1": "1.17.8-1", "libnvidia-container-tools": "1.17.8-1"}
    commands, host = run_op(
        dpkg.install_bundle,
        {fact(InstalledPackages, packages=list(installed)): installed},
        entries=entries(tmp_path),
        remote_dir="/var/cache/gpu-docker/1.17.8/amd64",
        lock_timeout=300,
    )
    assert commands == []
    assert host.noops == ["2 bundle packages already installed at 1.17.8-1"]


def test_bundle_uploads_only_debs_whose_checksum_differs_and_installs_in_order(run_op, tmp_path):
    cache = "/var/cache/gpu-docker/1.17.8/amd64"
    debs = entries(tmp_path)
    paths = [f"{cache}/{d.file}" for d in debs]
    commands, _ = run_op(
        dpkg.install_bundle,
        {
            fact(InstalledPackages, packages=[d.package for d in debs]): {},
            fact(RemoteSha256, paths=paths): {paths[0]: debs[0].sha256},
            fact(PackageSelections, packages=[d.package for d in debs]): {},
        },
        entries=debs,
        remote_dir=cache,
        lock_timeout=300,
    )
    assert commands[0] == dpkg.lock_wait(300).get_raw_value()
    assert commands[1] == f"install -d -m 0755 {cache}"
    assert commands[2] == ("upload", str(debs[1].path), f"{cache}/{debs[1].file}")
    assert len(commands) == 4
    order = [f"{d.file}={d.sha256}" for d in debs]
    assert commands[3].endswith(f"gpu-docker {cache} {order[0]} {order[1]}")


class Meta:
    def __init__(self, changed: bool):
        self.changed = changed


DOCKER = DockerInfo("26.1.5", live_restore=False, containers_running=2, runtimes=("runc",))


def apply(run_op, changed, **overrides):
    kwargs = {
        "changes": [Meta(False), Meta(changed)],
        "strategy": "restart",
        "daemon_json_path": "/etc/docker/daemon.json",
        "backup": ".b",
        "runtime_name": "nvidia",
        "timeout": 60,
        "preflight": Preflight(init="systemd", docker_validate=True, docker=DOCKER),
    } | overrides
    return run_op(docker.apply, {}, **kwargs)


def test_docker_is_left_running_when_nothing_changed(run_op):
    commands, host = apply(run_op, changed=False)
    assert commands == []
    assert host.noops == ["nothing changed: docker left running"]


def test_restart_script_gets_init_system_and_validation(run_op):
    for init, validate, flag in (("systemd", True, "1"), ("sysv", False, "0")):
        facts = Preflight(init=init, docker_validate=validate, docker=DOCKER)
        commands, _ = apply(run_op, changed=True, preflight=facts, live_restore=True)
        assert commands[0].endswith(
            f"gpu-docker restart /etc/docker/daemon.json .b nvidia 60 {init} {flag} 1"
        )


def test_preview_says_what_the_restart_does_to_running_containers(run_op):
    _, host = apply(run_op, changed=True, executing=False)
    assert host.logs == [
        "docker will be restarted; 2 containers running; live-restore off: "
        "the restart will stop them",
        "dockerd 26.1.5 validates the new daemon.json (--validate) before applying it",
    ]


def test_never_strategy_reports_a_pending_restart_instead(run_op):
    commands, host = apply(run_op, changed=True, strategy="never")
    assert commands == []
    assert host.logs == ["gpu-docker: docker restart pending (restart_strategy=never)"]
    _, preview = apply(run_op, changed=True, strategy="never", executing=False)
    assert (
        preview.logs[0] == "docker restart pending (restart_strategy=never); 2 containers running"
    )
