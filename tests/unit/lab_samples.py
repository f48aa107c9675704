"""A sample lab state for unit tests of the lab's pure parts (no lab is brought up)."""

from __future__ import annotations

from typing import Any

from gpu_docker.lab.layout import plan_hosts
from gpu_docker.lab.state import LabState


def sample_state(**overrides: Any) -> LabState:
    """2 online hosts (the second running trixie) and 1 restricted, on slot 0's names."""
    fields: dict[str, Any] = {
        "hosts": plan_hosts(2, 1, trixie_docker=1),
        "ssh_key": "/lab/id_ed25519",
        "known_hosts": "/lab/known_hosts",
        "repo_url": "http://10.213.0.1:8000/stable/deb/$(ARCH)",
        "key_url": "http://10.213.0.1:8000/gpgkey",
        "wrong_key_url": "http://10.213.0.1:8000/gpgkey-wrong",
        "key_fingerprint": "A" * 40,
        "bundle_dir": "/lab/debs",
        "versions": ["1.17.8", "1.18.1"],
        "bridges": ["gdlab-on", "gdlab-rs"],
        "nft_table": "gpu_docker_lab",
    }
    return LabState(**(fields | overrides))
