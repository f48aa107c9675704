"""Host names, addresses and interface names of the lab."""

from __future__ import annotations

import pytest

from gpu_docker.lab.layout import MAX_HOSTS_PER_GROUP, SLOT, SUBNETS, plan_hosts
from gpu_docker.lab.lifecycle import _ensure_inotify, inotify_instances_needed


def test_groups_get_separate_subnets_off_the_bridge_address() -> None:
    """Slot-independent: the slot (``GPU_DOCKER_LAB_SLOT``) only moves the /23."""
    online, restricted = SUBNETS["online"].network, SUBNETS["restricted"].network
    assert online == f"10.213.{2 * SLOT}" and restricted == f"10.213.{2 * SLOT + 1}"
    hosts = plan_hosts(2, 2)
    assert [(h.name, h.address, h.group) for h in hosts] == [
        ("lab-online-1", f"{online}.10", "online"),
        ("lab-online-2", f"{online}.11", "online"),
        ("lab-restricted-1", f"{restricted}.10", "restricted"),
        ("lab-restricted-2", f"{restricted}.11", "restricted"),
    ]
    assert SUBNETS["online"].gateway == f"{online}.1"
    assert SUBNETS["restricted"].gateway == f"{restricted}.1"


def test_addresses_and_names_are_unique_and_interface_names_fit_the_kernel() -> None:
    hosts = plan_hosts(MAX_HOSTS_PER_GROUP, MAX_HOSTS_PER_GROUP)
    for attribute in ("name", "address", "netns", "veth"):
        values = [getattr(host, attribute) for host in hosts]
        assert len(set(values)) == len(values), attribute
    assert max(len(host.veth) for host in hosts) <= 15
    assert all(int(host.address.rsplit(".", 1)[1]) <= 254 for host in hosts)


def test_trixie_docker_goes_to_the_last_online_hosts() -> None:
    hosts = plan_hosts(3, 1, trixie_docker=2)
    assert [(h.name, h.release) for h in hosts] == [
        ("lab-online-1", "bookworm"),
        ("lab-online-2", "trixie"),
        ("lab-online-3", "trixie"),
        ("lab-restricted-1", "bookworm"),
    ]


def test_hosts_of_a_group_take_releases_and_logins_in_turn() -> None:
    hosts = plan_hosts(
        3, 2, releases=("bullseye", "bookworm", "trixie"), init="sysv", logins=("root", "sudo")
    )
    assert [(h.name, h.release, h.login, h.init) for h in hosts] == [
        ("lab-online-1", "bullseye", "root", "sysv"),
        ("lab-online-2", "bookworm", "sudo", "sysv"),
        ("lab-online-3", "trixie", "root", "sysv"),
        ("lab-restricted-1", "bullseye", "root", "sysv"),
        ("lab-restricted-2", "bookworm", "sudo", "sysv"),
    ]


def test_hosts_boot_systemd_as_root_on_bookworm_unless_told_otherwise() -> None:
    assert {(h.release, h.init, h.login) for h in plan_hosts(2, 2)} == {
        ("bookworm", "systemd", "root")
    }


@pytest.mark.parametrize(
    ("online", "restricted", "trixie"),
    [(0, 0, 0), (-1, 2, 0), (1, 1, 2), (MAX_HOSTS_PER_GROUP + 1, 0, 0)],
)
def test_impossible_labs_are_refused(online: int, restricted: int, trixie: int) -> None:
    with pytest.raises(ValueError):
        plan_hosts(online, restricted, trixie)


def test_lab_up_raises_the_inotify_limit_for_systemd_hosts_and_never_lowers_it(tmp_path) -> None:
    limit = tmp_path / "max_user_instances"
    limit.write_text("128\n")
    _ensure_inotify(0, limit)
    assert limit.read_text() == "128\n"
    _ensure_inotify(10, limit)
    assert int(limit.read_text()) == inotify_instances_needed(10) > 128 + 10 * 8
    limit.write_text("100000\n")
    _ensure_inotify(10, limit)
    assert limit.read_text() == "100000\n"
