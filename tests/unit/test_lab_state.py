"""lab.json round trip and the state/cache directory settings."""

from __future__ import annotations

from pathlib import Path

import pytest
from lab_samples import sample_state

from gpu_docker.lab.state import LabState, cache_dir, dump, load, parse, save, state_dir


def _state() -> LabState:
    return sample_state(http_pid=42)


def test_state_survives_a_round_trip_through_the_file(tmp_path: Path) -> None:
    path = tmp_path / "lab.json"
    save(_state(), path)
    assert load(path) == _state()
    assert not list(tmp_path.glob("*.tmp"))


def test_load_returns_none_when_no_lab_is_up(tmp_path: Path) -> None:
    assert load(tmp_path / "lab.json") is None


def test_repo_url_keeps_the_literal_arch_variable_for_apt() -> None:
    assert "$(ARCH)" in parse(dump(_state())).repo_url


def test_host_lookup_names_the_hosts_that_exist() -> None:
    state = _state()
    assert state.host("lab-restricted-1").group == "restricted"
    with pytest.raises(KeyError, match="lab-online-1"):
        state.host("lab-online-9")


def test_directories_follow_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GPU_DOCKER_LAB_DIR", "/tmp/labdir")
    monkeypatch.setenv("GPU_DOCKER_LAB_CACHE", "/tmp/labcache")
    assert state_dir() == Path("/tmp/labdir")
    assert cache_dir() == Path("/tmp/labcache")
    monkeypatch.delenv("GPU_DOCKER_LAB_DIR")
    monkeypatch.delenv("GPU_DOCKER_LAB_CACHE")
    monkeypatch.setenv("GPU_DOCKER_LAB_SLOT", "0")  # whatever slot this run itself uses
    assert state_dir() == Path("/var/lib/gpu-docker-lab")
    assert cache_dir() == Path("/var/cache/gpu-docker-lab")
    monkeypatch.setenv("GPU_DOCKER_LAB_SLOT", "3")
    assert state_dir() == Path("/var/lib/gpu-docker-lab-3")
    assert cache_dir() == Path("/var/cache/gpu-docker-lab")  # root filesystems are shared
