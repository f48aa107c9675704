"""Names and addresses of lab hosts, decided before anything is created.

Pure functions, so the plan can be tested without root and so teardown can find what a
half-finished ``lab up`` made from the names alone. Each group has its own bridge and /24:
the repository listens only on the online bridge, and the restricted bridge has no path to
it. 10.213.0.0/23 is unlikely to collide with a real network or docker's 172.17/16;
slot N (``GPU_DOCKER_LAB_SLOT``) uses 10.213.2N.0/23 and its own names.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

from gpu_docker.lab.state import Group, Init, LabHost, Login, Release, lab_slot

_T = TypeVar("_T")

SLOT = lab_slot()
PREFIX = "gdlab" if SLOT == 0 else f"gdl{SLOT}"
NFT_TABLE = "gpu_docker_lab" if SLOT == 0 else f"gpu_docker_lab{SLOT}"
FIRST_HOST_OCTET = 10
MAX_HOSTS_PER_GROUP = 200


@dataclass(frozen=True)
class Subnet:
    """One group's network: the root namespace's bridge and its /24."""

    bridge: str
    network: str  # the first three octets, e.g. "10.213.0"

    @property
    def gateway(self) -> str:
        """The bridge's own address in the root namespace (the controller's side)."""
        return f"{self.network}.1"

    def address(self, index: int) -> str:
        """The address of the group's ``index``-th host (1-based)."""
        if not 1 <= index <= MAX_HOSTS_PER_GROUP:
            raise ValueError(f"host index {index} outside 1..{MAX_HOSTS_PER_GROUP}")
        return f"{self.network}.{FIRST_HOST_OCTET + index - 1}"


SUBNETS: dict[Group, Subnet] = {
    "online": Subnet(bridge=f"{PREFIX}-on", network=f"10.213.{2 * SLOT}"),
    "restricted": Subnet(bridge=f"{PREFIX}-rs", network=f"10.213.{2 * SLOT + 1}"),
}


def _cycle(values: Sequence[_T], index: int, what: str) -> _T:
    """The ``index``-th (1-based) host's value: hosts of a group take ``values`` in turn."""
    if not values:
        raise ValueError(f"a lab needs at least one {what}")
    return values[(index - 1) % len(values)]


def plan_hosts(
    online: int,
    restricted: int,
    trixie_docker: int = 0,
    *,
    releases: Sequence[Release] = ("bookworm",),
    init: Init = "systemd",
    logins: Sequence[Login] = ("root",),
) -> list[LabHost]:
    """Name, address and wire up ``online`` + ``restricted`` hosts.

    Within each group, hosts take ``releases`` and ``logins`` in turn (host 1 the first,
    host 2 the second...), so one lab can hold every release or login next to each other.
    The last ``trixie_docker`` online hosts run Debian trixie (docker 26, which has
    ``dockerd --validate``) whatever ``releases`` says.
    """
    if online < 0 or restricted < 0 or online + restricted == 0:
        raise ValueError("a lab needs at least one host")
    if not 0 <= trixie_docker <= online:
        raise ValueError(f"--trixie-docker {trixie_docker} must be between 0 and --online {online}")
    counts: tuple[tuple[Group, int], ...] = (("online", online), ("restricted", restricted))
    hosts: list[LabHost] = []
    for group, count in counts:
        short = group[:2]
        for index in range(1, count + 1):
            trixie = group == "online" and index > online - trixie_docker
            release: Release = "trixie" if trixie else _cycle(releases, index, "release")
            hosts.append(
                LabHost(
                    name=f"lab-{group}-{index}",
                    address=SUBNETS[group].address(index),
                    group=group,
                    release=release,
                    netns=f"{PREFIX}-{group}-{index}",
                    veth=f"{PREFIX}-{short}{index}",
                    init=init,
                    login=_cycle(logins, index, "login"),
                )
            )
    return hosts
