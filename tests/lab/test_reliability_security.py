"""Reliability: security, in one ``-vvv`` run over 7 lab hosts using the shipped group data.

- No secret in the output: pyinfra's ``-vvv`` prints every command and its output, and
  none of it may hold the controller's private key (its body or "PRIVATE KEY").
- Files root-owned with fixed modes: lab-online-1 starts with an operator daemon.json that
  is 0666 and owned by nobody; the written file is 0644 root:root, its backup 0600 root,
  and nothing the deploy touches is left world-writable.
- Host data is quoted, never run: ``remote_cache_dir`` and ``daemon_json_path`` with a space
  and ``;touch /tmp/pwned`` are used literally (both hosts converge); apt URLs that would
  add a command or a second apt source are refused with the key named. No /tmp/pwned*
  appears on any host.
- Host keys: the inventory sets no ``ssh_strict_host_key_checking``; the shipped
  ``inventories/group_data/all.py`` does. A host whose key changed and one whose key is
  unknown (pyinfra's own default, accept-new, would take it) are refused and named; the
  other hosts in the run converge, and the known_hosts file is not rewritten.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hosts_state import (
    PACKAGES,
    PROJECT,
    docker_runtimes,
    dpkg_state,
    host_lines,
    lab_of,
    output,
    pyinfra,
    read_bytes,
    seed_file,
    snapshot,
    summary,
    write_inventory,
)

from gpu_docker.lab.inventory import LAB_TOOLKIT_VERSION as PIN
from gpu_docker.lab.state import LabState

pytestmark = pytest.mark.lab

PERMS = "lab-online-1"
KEY_URL = "lab-online-2"
REPO_URL = "lab-online-3"
CHANGED_KEY = "lab-online-4"
UNKNOWN_KEY = "lab-online-5"
CACHE_DIR = "lab-restricted-1"
SPACED_JSON = "lab-restricted-2"
REFUSED_SETTINGS = (KEY_URL, REPO_URL)
REFUSED_KEYS = (CHANGED_KEY, UNKNOWN_KEY)
CONVERGED = (PERMS, CACHE_DIR, SPACED_JSON)

DAEMON_JSON = "/etc/docker/daemon.json"
OPERATOR_JSON = b'{\n  "log-level": "warn"\n}\n'
CACHE_PATH = "/var/cache/gpu docker;touch /tmp/pwned"
SPACED_PATH = "/etc/docker conf;touch /tmp/pwned3/daemon.json"
OWNED_FILES = (
    "/etc/apt/sources.list.d/nvidia-container-toolkit.list",
    "/etc/apt/preferences.d/nvidia-container-toolkit",
    "/usr/share/keyrings/nvidia-container-toolkit-keyring.gpg",
    DAEMON_JSON,
)


@pytest.fixture(scope="module")
def lab() -> Iterator[LabState]:
    with lab_of(online=5, restricted=2) as state:
        yield state


def _known_hosts(lab: LabState, path: Path) -> Path:
    """The lab's known_hosts with CHANGED_KEY given another host's key, UNKNOWN_KEY left out."""
    lines = Path(lab.known_hosts).read_text().splitlines()
    by_address = {line.split(" ", 1)[0]: line for line in lines}
    changed = lab.host(CHANGED_KEY).address
    other_key = by_address[lab.host(PERMS).address].split(" ", 1)[1]
    by_address[changed] = f"{changed} {other_key}"
    del by_address[lab.host(UNKNOWN_KEY).address]
    path.write_text("\n".join(by_address.values()) + "\n")
    return path


@pytest.fixture(scope="module")
def setup(lab, host_exec, tmp_path_factory) -> dict[str, Any]:
    """Seed the hosts, write an inventory beside the shipped group data, run once with -vvv."""
    seed_file(lab, host_exec, PERMS, DAEMON_JSON, OPERATOR_JSON)
    loosen = host_exec(
        lab, PERMS, f"chown nobody:nogroup {DAEMON_JSON} && chmod 0666 {DAEMON_JSON}"
    )
    assert loosen.returncode == 0, loosen.stderr
    seed_file(lab, host_exec, SPACED_JSON, SPACED_PATH, OPERATOR_JSON)
    link = host_exec(lab, SPACED_JSON, ["ln", "-sf", SPACED_PATH, DAEMON_JSON])
    assert link.returncode == 0, link.stderr

    directory = tmp_path_factory.mktemp("inv")
    (directory / "group_data").symlink_to(PROJECT / "inventories" / "group_data")
    known_hosts = _known_hosts(lab, directory / "known_hosts")
    known_before = known_hosts.read_bytes()
    repo_root = lab.repo_url.split("/stable/", 1)[0]
    cases: dict[str, dict[str, Any]] = {
        host.name: {"ssh_known_hosts_file": str(known_hosts)} for host in lab.hosts
    }
    cases[KEY_URL]["apt_key_url"] = f"{lab.key_url};touch /tmp/pwned2"
    cases[REPO_URL]["apt_repo_url"] = f"{lab.repo_url} /\ndeb [trusted=yes] {repo_root}/unsigned"
    cases[CACHE_DIR]["remote_cache_dir"] = CACHE_PATH
    cases[SPACED_JSON]["daemon_json_path"] = SPACED_PATH
    inventory = write_inventory(
        directory / "inventory.py", lab, cases, {}, drop=("ssh_strict_host_key_checking",)
    )
    assert "ssh_strict_host_key_checking" not in inventory.read_text()

    before = {name: snapshot(lab, host_exec, name) for name in (*REFUSED_SETTINGS, *REFUSED_KEYS)}
    run = pyinfra(inventory, "-vvv")
    return {"run": run, "before": before, "known_hosts": (known_hosts, known_before)}


def _private_key_lines(lab: LabState) -> list[str]:
    lines = Path(lab.ssh_key).read_text().splitlines()
    body = [line for line in lines if line and not line.startswith("-----")]
    assert body, "the lab's private key has a body"
    return body


def test_verbose_output_holds_no_private_key(lab, setup):
    text = output(setup["run"])
    assert ">>> sh -c" in text and "os_id=debian" in text  # commands and their output shown
    assert "PRIVATE KEY" not in text
    leaked = [line for line in _private_key_lines(lab) if line in text]
    assert leaked == []


def test_written_files_are_root_owned_with_fixed_modes(lab, host_exec, setup):
    """An operator's 0666 daemon.json owned by nobody: ours is 0644 root, the backup 0600."""
    found = host_exec(
        lab,
        PERMS,
        f"stat -c '%a %U:%G %n' {' '.join(OWNED_FILES)} {DAEMON_JSON}.gpu-docker-*.bak",
    )
    assert found.returncode == 0, found.stderr
    stats = {}
    for line in found.stdout.splitlines():
        mode, owner, path = line.split(" ", 2)
        stats[path] = (mode, owner)
    (backup,) = [path for path in stats if path.endswith(".bak")]
    assert {path: stats[path] for path in OWNED_FILES} == dict.fromkeys(
        OWNED_FILES, ("644", "root:root")
    )
    assert stats[backup] == ("600", "root:root")
    assert read_bytes(lab, host_exec, PERMS, backup) == OPERATOR_JSON


def test_nothing_the_deploy_touches_is_world_writable(lab, host_exec, setup):
    for name in CONVERGED:
        found = host_exec(
            lab,
            name,
            "find /etc/docker /etc/apt /usr/share/keyrings /var/cache/gpu* "
            "'/etc/docker conf;touch ' -xdev ! -type l -perm -o+w 2>/dev/null; true",
        )
        assert found.stdout == "", (name, found.stdout)


def test_no_host_ran_a_command_from_host_data(lab, host_exec, setup):
    for host in lab.hosts:
        if host.name in REFUSED_KEYS:
            continue  # never connected
        found = host_exec(lab, host.name, "ls -d /tmp/pwned* 2>/dev/null; true")
        assert found.stdout == "", (host.name, found.stdout)


def test_paths_with_space_and_semicolon_are_used_literally(lab, host_exec, setup):
    cached = host_exec(lab, CACHE_DIR, ["ls", f"{CACHE_PATH}/{PIN}/amd64"])
    assert cached.returncode == 0, cached.stderr
    assert len([f for f in cached.stdout.split() if f.endswith(".deb")]) == len(PACKAGES)
    link = host_exec(lab, SPACED_JSON, ["readlink", DAEMON_JSON])
    assert link.stdout.strip() == SPACED_PATH  # the link stays, its target was edited
    text = read_bytes(lab, host_exec, SPACED_JSON, SPACED_PATH).decode()
    assert text.startswith('{\n  "log-level": "warn",\n  "runtimes"'), text


@pytest.mark.parametrize("name", CONVERGED)
def test_hosts_with_odd_but_valid_data_converge(lab, host_exec, setup, name):
    run = setup["run"]
    assert name not in summary(run), output(run)
    status, audit = dpkg_state(lab, host_exec, name)
    assert status == dict.fromkeys(PACKAGES, f"ii{PIN}-1") and audit == "", (status, audit)
    assert "nvidia" in (docker_runtimes(lab, host_exec, name) or [])


@pytest.mark.parametrize(("name", "key"), [(KEY_URL, "apt_key_url"), (REPO_URL, "apt_repo_url")])
def test_urls_that_would_inject_are_refused_naming_the_key(lab, host_exec, setup, name, key):
    run = setup["run"]
    (line,) = host_lines(run, name)
    assert line.startswith(f"gpu-docker: setting {key!r}: "), line
    assert line.endswith("is not a URL (scheme://..., no spaces or brackets)"), line
    assert summary(run)[name] == "failed at: gpu-docker | Check settings"
    assert snapshot(lab, host_exec, name) == setup["before"][name]


@pytest.mark.parametrize(
    ("name", "why"), [(CHANGED_KEY, "does not match"), (UNKNOWN_KEY, "No host key")]
)
def test_changed_or_unknown_host_key_is_refused_by_the_shipped_group_data(
    lab, host_exec, setup, name, why
):
    run = setup["run"]
    assert summary(run)[name] == "unreachable (could not connect)"
    named = [line for line in output(run).splitlines() if f"[{name}]" in line and why in line]
    assert named, output(run)
    assert snapshot(lab, host_exec, name) == setup["before"][name]
    path, before = setup["known_hosts"]
    assert path.read_bytes() == before  # not rewritten (accept-new would append the key)
