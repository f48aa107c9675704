"""Security defaults of what we ship: strict host key checking on, no password anywhere.

The inventories and group data are what operators copy; a password or a relaxed host key
check there would spread to every fleet using them. The lab inventory is checked too,
since its host data is what the end-to-end tests prove pyinfra honours.
"""

from __future__ import annotations

import ast
import runpy
from pathlib import Path

import pytest
from lab_samples import sample_state

from gpu_docker.lab.inventory import host_data
from gpu_docker.lab.state import LabHost

INVENTORIES = Path(__file__).resolve().parents[2] / "inventories"
SHIPPED = sorted(INVENTORIES.rglob("*.py"))
SECRET_WORDS = ("password", "passphrase", "secret", "token")


def _assigned_names(path: Path) -> set[str]:
    """Every name assigned at module level or used as a dict key in the file."""
    tree = ast.parse(path.read_text())
    names = {
        t.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign)
        for t in node.targets
        if isinstance(t, ast.Name)
    }
    keys = {
        k.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Dict)
        for k in node.keys
        if isinstance(k, ast.Constant) and isinstance(k.value, str)
    }
    return names | keys


def test_there_are_shipped_inventories_to_check() -> None:
    assert INVENTORIES / "group_data" / "all.py" in SHIPPED


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: str(p.relative_to(INVENTORIES)))
def test_no_password_or_secret_in_shipped_inventories(path: Path) -> None:
    found = sorted(n for n in _assigned_names(path) if any(w in n.lower() for w in SECRET_WORDS))
    assert found == [], f"{path}: {found}: use SSH keys or an agent; sudo: --use-sudo-password"


def test_group_data_turns_strict_host_key_checking_on_for_every_host() -> None:
    data = runpy.run_path(str(INVENTORIES / "group_data" / "all.py"))
    assert data["ssh_strict_host_key_checking"] == "yes"


def test_lab_host_data_is_strict_and_key_based() -> None:
    state = sample_state(hosts=[])
    for group in ("online", "restricted"):
        data = host_data(state, LabHost("h", "10.0.0.1", group, "bookworm", "n", "v"))
        assert data["ssh_strict_host_key_checking"] == "yes"
        assert data["ssh_key"] == state.ssh_key
        assert not [k for k in data if any(w in k.lower() for w in SECRET_WORDS)]
