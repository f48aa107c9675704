"""The package is split as pyinfra's own is: pure rules apart from pyinfra, facts apart from
operations, and ``deploys`` holding only ``@deploy`` functions.

Each import runs in a fresh interpreter: in this one pytest has long imported pyinfra.
"""

from __future__ import annotations

import inspect
import pkgutil
import subprocess
import sys

import pytest

import gpu_docker
import gpu_docker.facts
from gpu_docker import deploys

#: Modules that run on pyinfra (the rest of the package's top level must not import it).
PYINFRA_SIDE = {
    "connection",  # patches pyinfra's SSH connector
    "deploys",
    "facts",
    "fleet_report",  # collects over a pyinfra run
    "operations",
    "plan",  # the converge's steps, calling operations
    "run",
    "sh",  # builds pyinfra commands
    "summary",  # a pyinfra state callback
}
PURE = sorted(
    info.name
    for info in pkgutil.iter_modules(gpu_docker.__path__)
    if info.name not in PYINFRA_SIDE and info.name != "lab"
)
FACTS = sorted(info.name for info in pkgutil.iter_modules(gpu_docker.facts.__path__))


def _imports_after(module: str) -> set[str]:
    """The modules loaded once ``module`` is imported in a new interpreter."""
    probe = f"import sys, {module}; print('\\n'.join(sys.modules))"
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    return set(run.stdout.split())


@pytest.mark.parametrize("name", PURE)
def test_pure_module_does_not_import_pyinfra(name: str) -> None:
    loaded = _imports_after(f"gpu_docker.{name}")
    assert "pyinfra" not in loaded, f"gpu_docker.{name} pulls in pyinfra"


@pytest.mark.parametrize("name", FACTS)
def test_facts_import_nothing_from_operations(name: str) -> None:
    loaded = _imports_after(f"gpu_docker.facts.{name}")
    assert not {m for m in loaded if m.startswith("gpu_docker.operations")}


def test_the_pure_side_holds_the_rules() -> None:
    """The discovery above is not vacuous: the modules the design names pure are in it."""
    assert {"preflight", "restart_preview", "verify", "daemon_json", "dockerd_gpus"} <= set(PURE)


def test_deploys_holds_only_deploy_functions() -> None:
    functions = [
        name
        for name, value in vars(deploys).items()
        if inspect.isfunction(value) and value.__module__ == deploys.__name__
    ]
    assert functions, "no functions found in gpu_docker.deploys"
    plain = [name for name in functions if not hasattr(getattr(deploys, name), "_inner")]
    assert not plain, f"not @deploy functions: {plain}"
