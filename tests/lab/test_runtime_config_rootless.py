"""The toolkit's config.toml settings and rootless docker end to end (issue 13), one lab,
three pyinfra runs: a converge, a preview (``--dry --diff``), and a rerun.

config.toml: the stand-in base package's postinst writes nvidia-ctk 1.17's layout (a TEST
FIXTURE); the settings are merged into it after the install, an operator's own file keeps
every other line, a file that is not TOML is refused before anything is installed, a
setting changed later rewrites the file without restarting docker.

Rootless docker runs for real on the trixie hosts: Debian's rootlesskit, uidmap and
slirp4netns (in the lab's trixie layer), docker.io's own ``dockerd-rootless-setuptool.sh``
for user ``alice``, her systemd manager kept by ``loginctl enable-linger``, and the system
docker disabled (a rootless-only host, as Docker documents it). Two TEST FIXTURE settings
make it fit the sandbox: rootlesskit shares the host's network (``/dev/net/tun`` is not
granted to nspawn hosts) and her daemon.json sets ``bridge: none`` and the ``vfs`` storage
driver (no bridge in a shared network, no overlay on the lab's overlay root). Not covered:
a GPU (the stand-in runtime hands over to runc), cgroup v2 delegation to the user, and
``no-cgroups`` being honoured (the stand-in CLI ignores its config).
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from typing import NamedTuple

import pytest
import tomllib
from hosts_state import (
    DEPLOY,
    dpkg_state,
    host_lines,
    lab_of,
    output,
    pyinfra,
    read_bytes,
    seed_file,
    summary,
    write_inventory,
)
from lab_docker import dockerd_pid, run

from gpu_docker.lab.state import LabState

pytestmark = pytest.mark.lab

CONFIG = "/etc/nvidia-container-runtime/config.toml"
KNOBS, OPERATOR, NOT_TOML, BESIDE_ROOTFUL = (f"lab-online-{n}" for n in range(1, 5))
ROOTLESS, REJECTS = "lab-online-5", "lab-online-6"  # trixie, docker 26
USER_JSON = "/home/alice/.config/docker/daemon.json"
KNOB_SETTINGS = {
    "runtime_mode": "legacy",
    "runtime_ldconfig": "@/sbin/ldconfig.real",
    "runtime_debug_log": "/var/log/nvidia-container-runtime.log",
    "runtime_cli_debug_log": "/var/log/nvidia-container-toolkit.log",
}
OPERATOR_TOML = b"""# Tuned by the platform team: keep the swarm resource.
swarm-resource = "DOCKER_RESOURCE_GPU"

[nvidia-container-cli]
ldconfig = "@/sbin/ldconfig"  # our images need the host's
user = "root:video"

[nvidia-container-runtime]
log-level = "debug"
"""
CASES: dict[str, dict[str, object]] = {
    KNOBS: KNOB_SETTINGS,
    OPERATOR: {"runtime_debug_log": "/var/log/gpu-runtime.log"},
    NOT_TOML: {"runtime_mode": "cdi", "cdi": True},
    BESIDE_ROOTFUL: {"rootless_users": ["ops"]},
    ROOTLESS: {"rootless_users": ["alice"]},
    REJECTS: {"rootless_users": ["alice"]},
}
# alice's daemon.json: the lab's two fixture keys, plus one dockerd rejects on REJECTS.
ALICE_JSON = b'{\n  "bridge": "none",\n  "storage-driver": "vfs"\n}\n'
ALICE_REJECTED = b'{\n  "bridge": "none",\n  "storage-driver": "vfs",\n  "log-level": "loud"\n}\n'
ROOTLESS_SETUP = """
set -e
useradd -m -s /bin/bash alice
# docker.io ships the rootless scripts in its contrib folder; the setup tool wants them
# beside the docker CLI, where docker-ce's rootless-extras package puts them.
install -m 755 /usr/share/docker.io/contrib/dockerd-rootless.sh \\
    /usr/share/docker.io/contrib/dockerd-rootless-setuptool.sh /usr/bin/
systemctl disable --now docker.service docker.socket
loginctl enable-linger alice
for i in $(seq 50); do [ -S /run/user/$(id -u alice)/systemd/private ] && break; sleep 0.2; done
runuser -u alice -- sh -c '
    mkdir -p ~/.config/systemd/user/docker.service.d ~/.config/docker
    printf "%s\\n" "# gpu-docker TEST FIXTURE: the lab grants nspawn hosts no /dev/net/tun." \\
        "[Service]" \\
        "Environment=DOCKERD_ROOTLESS_ROOTLESSKIT_NET=host DOCKERD_ROOTLESS_ROOTLESSKIT_PORT_DRIVER=none" \\
        > ~/.config/systemd/user/docker.service.d/gpu-docker-lab.conf
    printf "{\\n  \\"bridge\\": \\"none\\",\\n  \\"storage-driver\\": \\"vfs\\"\\n}\\n" \\
        > ~/.config/docker/daemon.json
    chmod 640 ~/.config/docker/daemon.json
    # The tool ends with `docker version`, which docker 26.1 answers with a panic under
    # rootlesskit --net=host (fillRootlessVersion); `docker info` works: waited for below.
    cd && XDG_RUNTIME_DIR=/run/user/$(id -u) \\
        dockerd-rootless-setuptool.sh install --skip-iptables >/dev/null 2>&1 || true
    export DOCKER_HOST=unix:///run/user/$(id -u)/docker.sock
    for i in $(seq 90); do docker info >/dev/null 2>&1 && exit 0; sleep 1; done
    echo "alice'"'"'s rootless docker did not answer" >&2; exit 1
'
"""
AS_ALICE = "runuser -u alice -- env XDG_RUNTIME_DIR=/run/user/$(id -u alice) "
ALICE_DOCKER = AS_ALICE + "DOCKER_HOST=unix:///run/user/$(id -u alice)/docker.sock docker "


class Runs(NamedTuple):
    """The three runs and what each host held around them."""

    first: subprocess.CompletedProcess[str]
    preview: subprocess.CompletedProcess[str]
    second: subprocess.CompletedProcess[str]
    shipped: bytes  # config.toml as the stand-in postinst writes it (a clean install)
    configs: dict[str, bytes | None]  # config.toml after the first run
    dockerd: dict[str, str]  # system dockerd's pid after the first run
    alice_pid: dict[str, str]  # alice's dockerd pid before the first run ...
    alice_after: dict[str, str]  # ... and after it
    alice_json: dict[str, bytes | None]  # her daemon.json after the first run
    after_preview: bytes | None  # OPERATOR's config.toml after the --dry run


def row(done: subprocess.CompletedProcess[str], op: str) -> list[str]:
    """The closing table's counts for one operation: hosts, success, error, no change."""
    (line,) = [
        line for line in output(done).splitlines() if line.strip().startswith(f"gpu-docker | {op}")
    ]
    return line.split()[-4:]


def alice_dockerd(lab: LabState, host_exec, host: str) -> str:
    """The pid of alice's rootless dockerd (empty when it does not run)."""
    return run(lab, host_exec, host, "pgrep -u alice -x dockerd || true")


@pytest.fixture(scope="module")
def lab() -> Iterator[LabState]:
    with lab_of(online=len(CASES), restricted=0, trixie=2) as state:
        yield state


@pytest.fixture(scope="module")
def runs(lab, host_exec, run_pyinfra, tmp_path_factory):
    seed_file(lab, host_exec, OPERATOR, CONFIG, OPERATOR_TOML)
    seed_file(lab, host_exec, NOT_TOML, CONFIG, b"[nvidia-container-runtime\nmode = auto\n")
    for host in (ROOTLESS, REJECTS):
        run(lab, host_exec, host, ROOTLESS_SETUP)
    seed_file(lab, host_exec, REJECTS, USER_JSON, ALICE_REJECTED)
    run(lab, host_exec, REJECTS, f"chown alice: {USER_JSON}")
    alice_pid = {host: alice_dockerd(lab, host_exec, host) for host in (ROOTLESS, REJECTS)}
    directory = tmp_path_factory.mktemp("inv")
    inventory = write_inventory(directory / "first.py", lab, CASES, {})
    first = pyinfra(inventory)
    configs = {host: read_bytes(lab, host_exec, host, CONFIG) for host in CASES}
    dockerd = {host: dockerd_pid(lab, host_exec, host) for host in (KNOBS, OPERATOR)}
    alice_after = {host: alice_dockerd(lab, host_exec, host) for host in (ROOTLESS, REJECTS)}
    alice_json = {host: read_bytes(lab, host_exec, host, USER_JSON) for host in (ROOTLESS, REJECTS)}
    # What a clean install's postinst writes: nvidia-ctk asked again for a new file.
    shipped = run(
        lab, host_exec, ROOTLESS, "nvidia-ctk config --config-file=/tmp/c --in-place; cat /tmp/c"
    )
    # Later, the operator sets one more knob on OPERATOR: a preview, then the rerun.
    changed = {**CASES, OPERATOR: {**CASES[OPERATOR], "runtime_mode": "legacy"}}
    second_inventory = write_inventory(directory / "second.py", lab, changed, {})
    preview = run_pyinfra(
        str(DEPLOY),
        "--dry",
        "--diff",
        "--limit",
        OPERATOR,
        "--limit",
        ROOTLESS,
        "--data",
        "rootless_users=[]",
        inventory=second_inventory,
        yes=False,
    )
    after_preview = read_bytes(lab, host_exec, OPERATOR, CONFIG)
    second = pyinfra(second_inventory)
    return Runs(
        first,
        preview,
        second,
        (shipped + "\n").encode(),
        configs,
        dockerd,
        alice_pid,
        alice_after,
        alice_json,
        after_preview,
    )


def test_knobs_are_merged_into_the_shipped_file_changing_only_their_lines(lab, host_exec, runs):
    assert KNOBS not in summary(runs.first), output(runs.first)
    new = runs.configs[KNOBS].decode().splitlines()
    old = runs.shipped.decode().splitlines()
    assert [line for line in old if line not in new] == [
        'ldconfig = "@/sbin/ldconfig"',
        'mode = "auto"',
    ]
    assert sorted(line for line in new if line not in old) == [
        'debug = "/var/log/nvidia-container-runtime.log"',
        'debug = "/var/log/nvidia-container-toolkit.log"',
        'ldconfig = "@/sbin/ldconfig.real"',
        'mode = "legacy"',
    ]
    data = tomllib.loads(runs.configs[KNOBS].decode())
    assert data["nvidia-container-runtime"]["debug"] == "/var/log/nvidia-container-runtime.log"
    assert data["nvidia-container-cli"]["debug"] == "/var/log/nvidia-container-toolkit.log"
    modes = run(lab, host_exec, KNOBS, f"stat -c '%a %U' {CONFIG} {CONFIG}.gpu-docker-*.bak")
    assert modes.splitlines() == ["644 root", "600 root"]


def test_an_operators_file_keeps_every_key_through_the_postinst_and_every_line_in_the_merge(
    lab, host_exec, runs
):
    """The install's postinst rewrites the operator's file in nvidia-ctk's own formatting
    (NVIDIA's does, on every configure); gpu-docker's merge then changes only its line."""
    seed_file(lab, host_exec, ROOTLESS, "/tmp/op.toml", OPERATOR_TOML)
    rewritten = run(
        lab,
        host_exec,
        ROOTLESS,
        "nvidia-ctk --quiet config --config-file=/tmp/op.toml --in-place && cat /tmp/op.toml",
    )
    assert "Tuned by the platform team" not in rewritten  # NVIDIA's loader keeps no comment
    text = runs.configs[OPERATOR].decode()
    assert text == (rewritten + "\n").replace(
        'log-level = "debug"\n', 'log-level = "debug"\ndebug = "/var/log/gpu-runtime.log"\n'
    )
    data = tomllib.loads(text)
    assert data["swarm-resource"] == "DOCKER_RESOURCE_GPU"
    assert data["nvidia-container-cli"] == {"ldconfig": "@/sbin/ldconfig", "user": "root:video"}


def test_unset_settings_leave_the_shipped_file_alone(lab, host_exec, runs):
    # REJECTS sets only rootless_users: no-cgroups is its one line more than shipped.
    new = runs.configs[REJECTS].decode().splitlines()
    assert [line for line in new if line not in runs.shipped.decode().splitlines()] == [
        "no-cgroups = true"
    ]


def test_a_file_that_is_not_toml_is_refused_before_the_install(lab, host_exec, runs):
    (line,) = host_lines(runs.first, NOT_TOML)
    assert line.startswith(f"gpu-docker: {CONFIG}: not valid TOML"), line
    assert runs.configs[NOT_TOML] == b"[nvidia-container-runtime\nmode = auto\n"
    assert dpkg_state(lab, host_exec, NOT_TOML)[0] == {}


def test_rootless_beside_rootful_docker_is_refused(lab, host_exec, runs):
    (line,) = host_lines(runs.first, BESIDE_ROOTFUL)
    assert "no-cgroups = true, which is global: rootful docker on this host" in line, line
    assert "runtime_mode=cdi" in line
    assert dpkg_state(lab, host_exec, BESIDE_ROOTFUL)[0] == {}


def test_rootless_user_gets_the_runtime_as_themselves(lab, host_exec, runs):
    assert ROOTLESS not in summary(runs.first), output(runs.first)
    assert tomllib.loads(runs.configs[ROOTLESS].decode())["nvidia-container-cli"]["no-cgroups"]
    merged = json.loads(runs.alice_json[ROOTLESS])
    assert merged == {
        "bridge": "none",
        "storage-driver": "vfs",
        "runtimes": {"nvidia": {"path": "nvidia-container-runtime", "args": []}},
    }
    listing = run(
        lab, host_exec, ROOTLESS, f"stat -c '%a %U' {USER_JSON} {USER_JSON}.gpu-docker-*.bak"
    )
    assert listing.splitlines() == ["640 alice", "600 alice"]  # her mode kept
    # Her docker was restarted (through her systemd manager) and now has the runtime.
    assert runs.alice_after[ROOTLESS] not in ("", runs.alice_pid[ROOTLESS])
    runtimes = run(lab, host_exec, ROOTLESS, ALICE_DOCKER + "info --format '{{json .Runtimes}}'")
    assert "nvidia" in json.loads(runtimes)
    # gpu-docker's own verify passed there (REJECTS failed before it), and --gpus all runs
    # in her docker: dockerd registered the device driver when she restarted it.
    assert row(runs.first, "Rootless docker | Verify alice's") == ["2", "1", "1", "-"]
    ran = run(
        lab,
        host_exec,
        ROOTLESS,
        "cd / && " + ALICE_DOCKER + "run --rm --network none --gpus all "
        "$(" + ALICE_DOCKER + "image ls -q gpu-docker-probe | head -n1) /sbin/ldconfig --version "
        "| head -n1",
    )
    assert ran.startswith("ldconfig"), ran
    # The system docker stays as the operator left it: stopped and disabled.
    assert run(lab, host_exec, ROOTLESS, "systemctl is-active docker.service || true") == "inactive"


def test_a_file_alices_dockerd_rejects_is_put_back_and_her_docker_left_running(
    lab, host_exec, runs
):
    (line,) = host_lines(runs.first, REJECTS)
    assert line.startswith("gpu-docker: alice's rootless docker: dockerd rejected"), line
    assert "invalid logging level: loud" in line and "the previous daemon.json is back" in line
    assert runs.alice_json[REJECTS] == ALICE_REJECTED
    assert runs.alice_after[REJECTS] == runs.alice_pid[REJECTS]


def test_preview_shows_the_config_diff_without_restart_and_names_a_rootless_only_host(
    lab, host_exec, runs
):
    text = output(runs.preview)
    assert f"Will modify {CONFIG}" in text, text
    assert 'mode = "legacy"' in text
    assert runs.after_preview == runs.configs[OPERATOR]  # --dry touched nothing
    assert "no restart needed: the runtime reads it for each new container" in text
    (line,) = host_lines(runs.preview, ROOTLESS)
    assert line == (
        "gpu-docker: docker runs only rootless here (for alice), the system docker is not "
        "running: set rootless_users=['alice'] to configure it"
    )


def test_rerun_changes_only_the_new_knob_and_restarts_nothing(lab, host_exec, runs):
    for host in (KNOBS, ROOTLESS):
        assert read_bytes(lab, host_exec, host, CONFIG) == runs.configs[host]
    assert read_bytes(lab, host_exec, ROOTLESS, USER_JSON) == runs.alice_json[ROOTLESS]
    assert alice_dockerd(lab, host_exec, ROOTLESS) == runs.alice_after[ROOTLESS]
    after = read_bytes(lab, host_exec, OPERATOR, CONFIG).decode()
    assert after == runs.configs[OPERATOR].decode().replace(
        'debug = "/var/log/gpu-runtime.log"\n',
        'debug = "/var/log/gpu-runtime.log"\nmode = "legacy"\n',
    )
    # config.toml is read per container: the changed knob restarted no docker.
    for host in (KNOBS, OPERATOR):
        assert dockerd_pid(lab, host_exec, host) == runs.dockerd[host]
    # Hosts, success, error, no change: OPERATOR's new knob is the one change; REJECTS's
    # file, put back, is merged and rejected again.
    assert row(runs.second, "Merge the runtime settings") == ["4", "1", "-", "3"]
    assert row(runs.second, "Rootless docker | Merge") == ["2", "1", "-", "1"]
    assert row(runs.second, "Rootless docker | Apply") == ["2", "-", "1", "1"]
