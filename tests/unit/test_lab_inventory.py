"""The sandbox inventory built from lab.json."""

from __future__ import annotations

from pathlib import Path

import pytest
from lab_samples import sample_state

from gpu_docker.lab.inventory import NoLabError, sandbox_groups
from gpu_docker.lab.layout import SUBNETS, plan_hosts
from gpu_docker.lab.state import save
from gpu_docker.settings import load_settings


@pytest.fixture
def lab_json(tmp_path: Path) -> Path:
    path = tmp_path / "lab.json"
    save(sample_state(hosts=plan_hosts(2, 1), key_fingerprint="B" * 40), path)
    return path


def test_hosts_are_reached_as_root_by_key_with_strict_host_key_checking(lab_json: Path) -> None:
    groups = sandbox_groups(lab_json)
    assert [name for name, _ in groups["online"]] == ["lab-online-1", "lab-online-2"]
    assert [name for name, _ in groups["restricted"]] == ["lab-restricted-1"]
    _, data = groups["restricted"][0]
    assert data["ssh_hostname"] == SUBNETS["restricted"].address(1)  # per lab slot
    assert data["ssh_user"] == "root"
    assert data["ssh_key"] == "/lab/id_ed25519"
    assert data["ssh_known_hosts_file"] == "/lab/known_hosts"
    assert data["ssh_strict_host_key_checking"] == "yes"


def test_online_hosts_use_the_lab_repo_and_restricted_hosts_the_bundles(lab_json: Path) -> None:
    groups = sandbox_groups(lab_json)
    _, online = groups["online"][0]
    assert online["install_method"] == "apt"
    assert online["apt_repo_url"] == "http://10.213.0.1:8000/stable/deb/$(ARCH)"
    assert online["apt_key_url"] == "http://10.213.0.1:8000/gpgkey"
    assert online["apt_key_fingerprint"] == "B" * 40
    _, restricted = groups["restricted"][0]
    assert restricted["install_method"] == "offline"
    assert restricted["bundle_dir"] == "/lab/debs"
    assert "apt_repo_url" not in restricted


def test_host_data_is_valid_deploy_settings(lab_json: Path) -> None:
    for hosts in sandbox_groups(lab_json).values():
        for name, data in hosts:
            settings = load_settings(name, data)
            assert settings.require_driver is False
            assert settings.toolkit_version == "1.20.0"  # the default pin, as on real fleets


def test_without_a_lab_the_inventory_says_how_to_start_one(tmp_path: Path) -> None:
    with pytest.raises(NoLabError, match="gpu-docker lab up"):
        sandbox_groups(tmp_path / "lab.json")


def test_sudo_logins_use_the_lab_users_and_only_sudo_password_gets_the_password(
    tmp_path: Path,
) -> None:
    path = tmp_path / "lab.json"
    hosts = plan_hosts(3, 0, logins=("root", "sudo", "sudo-password"))
    save(sample_state(hosts=hosts, sudo_password="pw-for-test"), path)
    logins = [data for _, data in sandbox_groups(path)["online"]]
    assert [(d["ssh_user"], d.get("_sudo"), d.get("_sudo_password")) for d in logins] == [
        ("root", None, None),
        ("ops", True, None),
        ("opspw", True, "pw-for-test"),
    ]
    assert path.stat().st_mode & 0o777 == 0o600  # lab.json holds that password
