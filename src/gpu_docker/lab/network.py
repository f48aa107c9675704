"""Bridges, network namespaces and the firewall that keeps restricted hosts restricted.

Every object is named with the lab's prefix so teardown can find what a failed
``lab up`` left behind without trusting the state file. Hosts get a connected /24 and no
default route. The nft table stops the controller from forwarding anything into or out of
the lab bridges, and drops anything a restricted host opens towards the controller: the
repository listens on the online bridge address, which is still a local address of the
controller and would otherwise answer a restricted host that added a route to it.
"""

from __future__ import annotations

import shutil
import subprocess

from gpu_docker.lab.layout import NFT_TABLE, PREFIX, SUBNETS, Subnet
from gpu_docker.lab.state import LabHost


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], check=check, capture_output=True, text=True)


def create_bridge(subnet: Subnet) -> None:
    """Create a group's bridge with the controller's address on it."""
    _ip("link", "add", subnet.bridge, "type", "bridge")
    _ip("addr", "add", f"{subnet.gateway}/24", "dev", subnet.bridge)
    _ip("link", "set", subnet.bridge, "up")


def create_netns(host: LabHost) -> None:
    """Give a host its namespace, a veth into its group's bridge, and its address."""
    subnet = SUBNETS[host.group]
    _ip("netns", "add", host.netns)
    _ip("link", "add", host.veth, "type", "veth", "peer", "name", "eth0", "netns", host.netns)
    _ip("link", "set", host.veth, "master", subnet.bridge, "up")
    _ip("-n", host.netns, "link", "set", "lo", "up")
    _ip("-n", host.netns, "addr", "add", f"{host.address}/24", "dev", "eth0")
    _ip("-n", host.netns, "link", "set", "eth0", "up")


def lab_netns() -> list[str]:
    """Every network namespace this lab could have made, whatever the state file says."""
    listing = _ip("netns", "list", check=False).stdout.splitlines()
    names = [line.split()[0] for line in listing if line.strip()]
    return [name for name in names if name.startswith(f"{PREFIX}-")]


def netns_pids(netns: str) -> list[int]:
    """Processes living in a namespace (the host's unshare, init and daemons)."""
    out = _ip("netns", "pids", netns, check=False).stdout
    return [int(pid) for pid in out.split()]


def delete_netns(netns: str) -> None:
    """Remove a namespace; its veth pair goes with it."""
    _ip("netns", "del", netns, check=False)


def delete_bridges() -> None:
    """Remove both group bridges if they exist."""
    for subnet in SUBNETS.values():
        _ip("link", "del", subnet.bridge, check=False)


def _ruleset() -> str:
    online, restricted = SUBNETS["online"].bridge, SUBNETS["restricted"].bridge
    isolate = "\n".join(
        f'    iifname "{bridge}" oifname != "{bridge}" drop\n'
        f'    oifname "{bridge}" iifname != "{bridge}" drop'
        for bridge in (online, restricted)
    )
    return f"""\
table inet {NFT_TABLE} {{
  chain input {{
    type filter hook input priority filter; policy accept;
    iifname "{restricted}" ct state established,related accept
    iifname "{restricted}" drop
  }}
  chain forward {{
    type filter hook forward priority filter; policy accept;
{isolate}
  }}
}}
"""


def install_firewall() -> None:
    """Load the lab's nft table (replacing an old one)."""
    remove_firewall()
    subprocess.run(["nft", "-f", "-"], input=_ruleset(), check=True, text=True)


def remove_firewall() -> None:
    """Drop the lab's nft table if it is loaded (nothing to drop without nft)."""
    if shutil.which("nft") is None:
        return
    subprocess.run(
        ["nft", "delete", "table", "inet", NFT_TABLE],
        check=False,
        capture_output=True,
    )
