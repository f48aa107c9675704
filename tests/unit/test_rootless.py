"""Rootless docker's pure rules: what its daemon.json gets, when a host is refused."""

import pytest

from gpu_docker.preflight import Preflight, problems
from gpu_docker.rootless import conflict, daemon_json_owned, rootless_only, unconfigured
from gpu_docker.runtime_config import owned
from gpu_docker.settings import SettingsError, load_settings


def settings(**data):
    return load_settings("h", data)


def test_rootless_users_put_no_cgroups_in_the_toolkit_config():
    assert owned(settings(rootless_users=["alice"])) == {
        "nvidia-container-cli": {"no-cgroups": True}
    }
    assert owned(settings()) == {}


def test_users_come_as_a_list_or_a_json_list_and_never_as_root():
    assert settings(rootless_users='["alice", "bob"]').rootless_users == ["alice", "bob"]
    with pytest.raises(SettingsError, match="not the login name of a non-root user"):
        settings(rootless_users=["root"])
    with pytest.raises(SettingsError, match="not a JSON list"):
        settings(rootless_users="alice")
    with pytest.raises(SettingsError, match="must be a list of strings"):
        settings(rootless_users=[1])


def test_rootless_daemon_json_gets_the_runtime_not_the_system_daemons_extras():
    found = daemon_json_owned(
        settings(daemon_json_extra={"data-root": "/srv/docker"}, live_restore=True), "26.1.5"
    )
    assert found == {"runtimes": {"nvidia": {"path": "nvidia-container-runtime", "args": []}}}
    assert daemon_json_owned(settings(set_default_runtime=True), "26.1.5")["default-runtime"] == (
        "nvidia"
    )


def test_cdi_puts_features_cdi_into_a_rootless_daemon_json_on_docker_25_and_later():
    assert daemon_json_owned(settings(cdi=True), "25.0.0")["features"] == {"cdi": True}
    assert "features" not in daemon_json_owned(settings(cdi=True), "24.0.9")
    assert "features" not in daemon_json_owned(settings(), "28.1.1")


@pytest.mark.parametrize(
    ("running", "enabled", "only"),
    [(False, False, True), (True, False, False), (False, True, False)],
)
def test_rootless_only_means_the_system_docker_is_neither_up_nor_enabled(running, enabled, only):
    assert rootless_only(settings(rootless_users=["alice"]), running, enabled) is only
    assert rootless_only(settings(), False, False) is False


def test_no_cgroups_beside_a_rootful_engine_is_refused_unless_cdi_mode():
    users = {"rootless_users": ["alice"]}
    found = conflict(settings(**users), True, True)
    assert found is not None and "rootful docker on this host" in found
    found = conflict(settings(**users, container_engine="containerd"), False, False)
    assert found is not None and "containerd on this host" in found
    assert conflict(settings(**users), False, False) is None  # rootless-only
    assert conflict(settings(**users, runtime_mode="cdi", cdi=True), True, True) is None
    assert conflict(settings(), True, True) is None


def test_unconfigured_rootless_host_is_named_instead_of_docker_missing():
    facts = Preflight(
        os_id="debian",
        os_version="13",
        arch="amd64",
        driver="x",
        rootless=("alice",),
        tools=frozenset({"dpkg", "curl", "gpg"}),
    )
    (line,) = problems(settings(), facts)
    assert line.startswith("docker runs only rootless here (for alice)")
    assert "rootless_users=['alice']" in line
    assert problems(settings(rootless_users=["alice"]), facts) == []
    assert unconfigured(("alice",), settings(rootless_users=["alice"])) is None
    assert unconfigured((), settings()) is None


def test_rootful_docker_stopped_without_rootless_users_is_still_docker_missing():
    facts = Preflight(
        os_id="debian",
        os_version="13",
        arch="amd64",
        driver="x",
        tools=frozenset({"dpkg", "curl", "gpg"}),
    )
    (line,) = problems(settings(), facts)
    assert line == "docker is not installed (no dockerd/docker on PATH)"
