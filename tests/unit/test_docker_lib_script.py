"""lib_docker.sh against a stub ``docker``: docker info and the probe images asked once per
read, fields out of docker info's JSON, and dockerd being down told apart from an answer
(docker 20.10 exits 0 then)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from gpu_docker.sh import text

INFO = {
    "ID": "X:Y",
    "Plugins": {"Runtimes": "not this one", "Log": ["json-file", "local"]},
    "Name": 'quo"te } and { braces ] [',
    "ServerVersion": "26.1.5+dfsg1",
    "LiveRestoreEnabled": False,
    "ContainersRunning": 3,
    "Runtimes": {"nvidia": {"path": "nvidia-container-runtime", "runtimeArgs": ["--x={}"]}},
    "Warnings": None,
    "CDISpecDirs": ["/etc/cdi", "/var/run/cdi"],
}
DOWN_2010 = {"ServerErrors": ["Cannot connect to the Docker daemon. Is it running?"]}


def run(tmp_path: Path, body: str, stdout: str, rc: int = 0, memo: bool = False) -> list[str]:
    """``body`` after the library, with a ``docker`` that prints ``stdout`` and exits
    ``rc``, counting its calls in ``calls``."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    (tmp_path / "answer").write_text(stdout + "\n")
    docker = bin_dir / "docker"
    docker.write_text(
        f'#!/bin/sh\necho "$*" >> {tmp_path}/calls\ncat {tmp_path}/answer\nexit {rc}\n'
    )
    docker.chmod(0o755)
    env = {"PATH": f"{bin_dir}:{os.environ['PATH']}"}
    if memo:
        (tmp_path / "memo").mkdir(exist_ok=True)
        env["GPU_DOCKER_MEMO"] = str(tmp_path / "memo")
    done = subprocess.run(
        ["sh", "-c", text("lib_docker") + body],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    return done.stdout.splitlines()


def calls(tmp_path: Path) -> int:
    path = tmp_path / "calls"
    return len(path.read_text().splitlines()) if path.exists() else 0


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("ServerVersion", '"26.1.5+dfsg1"'),
        ("LiveRestoreEnabled", "false"),
        ("ContainersRunning", "3"),
        ("Runtimes", json.dumps(INFO["Runtimes"], separators=(",", ":"))),
        ("Name", json.dumps(INFO["Name"])),
        ("Warnings", "null"),
        ("CDISpecDirs", '["/etc/cdi","/var/run/cdi"]'),
        ("Missing", ""),
    ],
)
def test_info_value_is_the_top_level_keys_json(tmp_path: Path, key: str, expected: str) -> None:
    document = json.dumps(INFO, separators=(",", ":"))
    out = run(tmp_path, f"docker_info; info_value {key}", document)
    assert out == ([expected] if expected else [])


def test_info_value_and_text_parse_back_to_the_document(tmp_path: Path) -> None:
    document = json.dumps(INFO, separators=(",", ":"))
    out = run(tmp_path, "docker_info; info_value Runtimes; info_text ServerVersion", document)
    assert json.loads(out[0]) == INFO["Runtimes"]
    assert out[1] == "26.1.5+dfsg1"


def test_docker_info_is_asked_once_per_script(tmp_path: Path) -> None:
    out = run(tmp_path, 'docker_info; docker_info && echo "rc=$?"', json.dumps(INFO))
    assert out == ["rc=0"]
    assert calls(tmp_path) == 1


def test_a_read_asks_once_for_all_its_facts_shells(tmp_path: Path) -> None:
    """Each fact of the one-round-trip read runs in a shell of its own: the memo directory
    carries the answer from the first to the others."""
    second = tmp_path / "second.sh"
    second.write_text(text("lib_docker") + "docker_info && info_text ServerVersion\n")
    body = f"docker_info; sh {second}; info_text ServerVersion"
    out = run(tmp_path, body, json.dumps(INFO), memo=True)
    assert out == ["26.1.5+dfsg1", "26.1.5+dfsg1"]
    assert calls(tmp_path) == 1


def test_docker_2010_down_exits_0_with_server_errors_and_is_a_failure(tmp_path: Path) -> None:
    out = run(tmp_path, 'docker_info; echo "rc=$?"; info_error', json.dumps(DOWN_2010))
    assert out == ["rc=1", "Cannot connect to the Docker daemon. Is it running?"]


def test_docker_down_with_an_exit_code_keeps_it_and_says_why(tmp_path: Path) -> None:
    out = run(tmp_path, 'docker_info; echo "rc=$?"; info_error', "error during connect", rc=7)
    assert out == ["rc=7", "error during connect"]


def test_the_probe_images_are_listed_once_per_script(tmp_path: Path) -> None:
    body = (
        "probe_listed gpu-docker-probe:2.36 && echo listed; "
        "probe_listed gpu-docker-probe:2.3 || echo 'not a prefix match'"
    )
    out = run(tmp_path, body, "gpu-docker-probe:2.31\ngpu-docker-probe:2.36")
    assert out == ["listed", "not a prefix match"]
    assert calls(tmp_path) == 1
