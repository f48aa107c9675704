"""What the converge plans on a host that passes its preflight: which operations, in
which order, named how. The names are the run's output, and the lab tests read them.

Every operation is replaced by a recorder, and the host's checks by "no problem", so
the plan alone is compared; the operations themselves are tested on their own.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import pytest
from fake_host import FakeHost
from pyinfra.context import ctx_host, ctx_state
from pyinfra_testing.util import FakeState

import gpu_docker.operations
from gpu_docker import deploys, preflight, rootless, run, runtime_config
from gpu_docker.facts import host_state
from gpu_docker.facts.containerd import ContainerdFacts
from gpu_docker.facts.files import RemoteFileText
from gpu_docker.facts.nvml import NvmlFacts
from gpu_docker.facts.preflight import HostPreflight
from gpu_docker.facts.rootless import RootlessDocker
from gpu_docker.operations import docker
from gpu_docker.preflight import DockerInfo, Preflight
from gpu_docker.settings import load_settings


@dataclass
class Recorded:
    """An operation the converge called: its name and every other argument."""

    name: str
    arguments: dict[str, Any]
    changed = True


def _modules() -> Iterator[ModuleType]:
    """The modules that call operations: the deploys, their steps, the operations."""
    yield deploys
    yield importlib.import_module("gpu_docker.plan")
    for info in pkgutil.iter_modules(gpu_docker.operations.__path__):
        yield importlib.import_module(f"gpu_docker.operations.{info.name}")


def _record(monkeypatch: pytest.MonkeyPatch, data: dict[str, Any], host: Preflight) -> list[str]:
    """The names of the operations the converge plans, in order, on a host as ``host``."""
    calls: list[Recorded] = []

    def recorder(**kwargs: Any) -> Recorded:
        calls.append(Recorded(kwargs.pop("name"), kwargs))
        return calls[-1]

    for module in _modules():
        for attr, value in vars(module).items():
            owner = getattr(value, "__module__", "")
            if hasattr(value, "_inner") and owner.startswith("gpu_docker.operations"):
                monkeypatch.setattr(module, attr, recorder)
    for nested in ("install_online", "install_offline", "rootless_user"):
        monkeypatch.setattr(deploys, nested, getattr(deploys, nested)._inner)
    settings = load_settings("gpu-test", data)
    monkeypatch.setattr(run, "start", lambda done: ".gpu-docker-test.bak")
    monkeypatch.setattr(run, "settings_or_fail", lambda: settings)
    monkeypatch.setattr(run, "read_host", lambda settings: None)
    monkeypatch.setattr(docker, "startup_problems", lambda path, owned: ([], ""))
    monkeypatch.setattr(preflight, "problems", lambda settings, facts: [])
    monkeypatch.setattr(preflight, "containerd_problems", lambda settings, facts: [])
    monkeypatch.setattr(rootless, "problems", lambda *args: [])
    monkeypatch.setattr(runtime_config, "problems", lambda *args: [])
    fake = FakeHost(
        facts={
            HostPreflight: host,
            ContainerdFacts: type("Containerd", (), {"service": "systemd"})(),
            NvmlFacts: type("Nvml", (), {"cgroup_driver": "systemd"})(),
            RootlessDocker: None,
            RemoteFileText: "",
        }
    )
    monkeypatch.setattr(host_state, "read", fake.get_fact)
    with ctx_state.use(FakeState()), ctx_host.use(fake):
        deploys.converge._inner()
    return [call.name for call in calls]


RUNNING = Preflight(
    docker=DockerInfo("28.0.1", False, 0, ("runc",)), dockerd_version="28.0.1", tools=frozenset()
)
STOPPED = Preflight(dockerd_version="28.0.1", docker_enabled=True)

ONLINE = [
    "Check held and newer toolkit packages",
    "Put back a daemon.json an interrupted purge left aside",
    "Purge NVIDIA's superseded packages (nvidia-docker2, nvidia-container-runtime)",
    "Add the toolkit apt source (tried on its own first, key fingerprint checked)",
    "Pin the toolkit packages to the version",
    "Refresh NVIDIA's apt source if needed",
    "Finish an interrupted dpkg run, if any",
    "Install the toolkit packages at 1.17.8-1",
]
DOCKER = [
    "Install NVIDIA's udev rule for the /dev/char links",
    "Create the /dev/char links of the NVIDIA devices",
    "Merge the nvidia runtime into daemon.json",
    "Apply to docker (restart if needed, for --gpus too)",
    "Verify GPU containers run (docker run --gpus all)",
]
CONTAINERD = [
    "Merge the nvidia runtime into containerd's config.toml",
    "Apply to containerd (restart if its config changed)",
    "Verify a GPU container runs through containerd's nvidia runtime",
]


def test_docker_host_is_installed_then_applied_and_verified(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    names = _record(monkeypatch, {"toolkit_version": "1.17.8"}, RUNNING)
    assert names == ONLINE + DOCKER


def test_stopped_docker_is_started_before_the_install(monkeypatch: pytest.MonkeyPatch) -> None:
    names = _record(monkeypatch, {"toolkit_version": "1.17.8"}, STOPPED)
    assert names == [*ONLINE[:3], "Start docker (it was not running)", *ONLINE[3:], *DOCKER]


def test_both_engines_rootless_users_and_config_toml(monkeypatch: pytest.MonkeyPatch) -> None:
    data = {
        "toolkit_version": "1.17.8",
        "container_engine": "both",
        "cdi": True,
        "runtime_ldconfig": "@/sbin/ldconfig",
        "rootless_users": ["alice"],
    }
    names = _record(monkeypatch, data, RUNNING)
    assert names == [
        *ONLINE,
        "Merge the runtime settings into the toolkit's config.toml (no restart)",
        "Generate the CDI spec if it is missing or stale",
        *CONTAINERD,
        "Merge the nvidia runtime into alice's rootless daemon.json",
        "Apply to alice's rootless docker (systemctl --user, if anything changed)",
        "Verify alice's rootless docker runs --gpus all",
        *DOCKER,
    ]


def test_rootless_only_host_leaves_the_system_docker_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data = {"toolkit_version": "1.17.8", "rootless_users": ["alice"]}
    names = _record(monkeypatch, data, Preflight(dockerd_version="28.0.1"))
    assert names[len(ONLINE) :] == [
        "Merge the runtime settings into the toolkit's config.toml (no restart)",
        "Merge the nvidia runtime into alice's rootless daemon.json",
        "Apply to alice's rootless docker (systemctl --user, if anything changed)",
        "Verify alice's rootless docker runs --gpus all",
    ]


def test_podman_is_verified_through_cdi(monkeypatch: pytest.MonkeyPatch) -> None:
    data = {"toolkit_version": "1.17.8", "container_engine": "podman"}
    host = Preflight(tools=frozenset({"podman"}))
    names = _record(monkeypatch, data, host)
    assert names == [
        *ONLINE,
        "Generate the CDI spec if it is missing or stale",
        "Verify a GPU container runs through podman (CDI)",
    ]
