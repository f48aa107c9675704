"""Every fact's ``process()`` from command output captured on real lab hosts, as pyinfra's
own ``tests/facts/`` does: one JSON file per case under ``tests/facts/<module>.<Fact>/``,
``<module>`` being the fact's module in ``gpu_docker.facts``.

A case holds the fact's ``arguments``, the ``output`` lines the host printed for the
command they build, and the ``fact`` expected from them (dataclasses as objects, tuples
and sets as lists). The command is built too, so a fact whose arguments stopped fitting
its command fails here.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import pkgutil
from pathlib import Path
from typing import Any

import pytest
from pyinfra.api import FactBase, StringCommand

import gpu_docker

CASES = Path(__file__).parent


def _fact_classes() -> dict[str, type[FactBase[Any]]]:
    """Every fact the package declares, by ``<module>.<Fact>``; a fact outside
    ``gpu_docker.facts`` (the sandbox lab's own code aside) fails the discovery."""
    found: dict[str, type[FactBase[Any]]] = {}
    for info in pkgutil.walk_packages(gpu_docker.__path__, "gpu_docker."):
        if info.name.startswith("gpu_docker.lab"):
            continue
        module = importlib.import_module(info.name)
        for name, value in vars(module).items():
            if (
                isinstance(value, type)
                and issubclass(value, FactBase)
                and value.__module__ == module.__name__
            ):
                subject = module.__name__.removeprefix("gpu_docker.facts.")
                assert subject != module.__name__, f"{module.__name__}.{name}: facts live in facts/"
                found[f"{subject}.{name}"] = value
    return found


FACTS = _fact_classes()


def _fact_class(name: str) -> type[FactBase[Any]]:
    if name not in FACTS:
        raise LookupError(f"tests/facts/{name}: no fact gpu_docker.facts.{name}")
    return FACTS[name]


def _plain(value: Any) -> Any:
    """The fact's value as JSON would hold it."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (frozenset, set)):
        return sorted(_plain(item) for item in value)
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


def _arguments(raw: dict[str, Any]) -> dict[str, Any]:
    """JSON lists become tuples: facts take hashable arguments (pyinfra caches by them)."""
    return {key: tuple(v) if isinstance(v, list) else v for key, v in raw.items()}


CASE_FILES = sorted(CASES.glob("*/*.json"))


@pytest.mark.parametrize("path", CASE_FILES, ids=[f"{p.parent.name}/{p.stem}" for p in CASE_FILES])
def test_fact_from_captured_output(path: Path) -> None:
    case = json.loads(path.read_text())
    fact = _fact_class(path.parent.name)()
    command = fact.command(**_arguments(case["arguments"]))
    assert isinstance(command, (str, StringCommand))
    assert _plain(fact.process(case["output"])) == case["fact"]


#: Facts with no output format of their own: ``HostState`` prints other facts' outputs,
#: fenced (tests/unit/test_host_state.py).
COMPOSED = {"host_state.HostState"}


def test_every_fact_has_cases() -> None:
    covered = {path.parent.name for path in CASE_FILES}
    assert FACTS, "no facts found: the discovery is out of date"
    missing = sorted(set(FACTS) - covered - COMPOSED)
    assert not missing, f"facts without captured cases: {missing}"
