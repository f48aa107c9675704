"""The package stands alone: its template and scripts inside it, nothing done on import."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from gpu_docker import sh
from gpu_docker.daemon_json import TEMPLATE, template_path

PROJECT = Path(__file__).resolve().parents[2]
SRC = PROJECT / "src" / "gpu_docker"


def test_package_template_is_the_projects_template() -> None:
    """The copy a pip-installed package renders must be the file operators edit here."""
    assert (SRC / TEMPLATE).read_bytes() == (PROJECT / TEMPLATE).read_bytes()


def test_template_falls_back_to_the_package_copy_outside_a_checkout(tmp_path: Path) -> None:
    assert template_path(PROJECT) == PROJECT / TEMPLATE
    assert template_path(tmp_path) == SRC / TEMPLATE
    assert template_path(None) == SRC / TEMPLATE


def test_every_script_the_code_names_ships_with_the_package() -> None:
    named = set()
    for module in SRC.rglob("*.py"):
        code = module.read_text()
        named |= set(re.findall(r'sh\.command\(\s*"([a-z_]+)"', code))
    for script in (SRC / "sh").glob("*.sh"):
        for line in script.read_text().splitlines():
            if line.startswith(sh.LIBS_LINE):
                named |= {f"lib_{lib}" for lib in line[len(sh.LIBS_LINE) :].split()}
    shipped = {path.stem for path in (SRC / "sh").glob("*.sh")}
    assert named, "no sh.command calls found: the pattern is out of date"
    assert named == shipped
    for name in shipped:
        assert sh.text(name).startswith("#!/bin/sh\n")


def test_importing_the_deploys_changes_nothing_in_pyinfra() -> None:
    """Importing must not patch pyinfra's SSH connector for every deploy in the process;
    the guard is installed when one of our deploys runs."""
    probe = (
        "from pyinfra.connectors.ssh import SSHConnector\n"
        "before = SSHConnector.run_shell_command\n"
        "import gpu_docker.deploys\n"
        "assert SSHConnector.run_shell_command is before, 'patched on import'\n"
    )
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
