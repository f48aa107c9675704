"""Run an operation's generator against canned facts and collect what it would do.

pyinfra-testing's JSON harness keys facts by argument strings and has no ``host.log``;
our operations log diffs and take varargs facts, so this small stand-in host is clearer.
It is still pyinfra's real operation code and real command objects being checked.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from pyinfra.api import FileUploadCommand, FunctionCommand, StringCommand
from pyinfra.context import ctx_host, ctx_state
from pyinfra_testing.util import FakeState


@dataclass
class FakeHost:
    """The parts of pyinfra's Host our operations use, answering facts from a table."""

    facts: dict[type, Any]
    executing: bool = True
    name: str = "gpu-test"
    noops: list[str] = field(default_factory=list)
    logs: list[str] = field(default_factory=list)
    current_op_global_arguments: dict[str, Any] = field(default_factory=dict)

    @property
    def state(self) -> Any:
        config = type("Config", (), {"DIFF": True})()
        return type("State", (), {"is_executing": self.executing, "config": config})()

    def get_fact(self, cls: type, *args: Any, **kwargs: Any) -> Any:
        return self.facts[cls]

    def noop(self, description: str) -> None:
        self.noops.append(description)

    def log(self, message: str, log_func: Callable[..., Any] | None = None) -> None:
        self.logs.append(message)

    def log_styled(self, message: str, **kwargs: Any) -> None:
        self.logs.append(message)

    def get_temp_filename(self, *args: Any, **kwargs: Any) -> str:
        return "/tmp/pyinfra-temp"


def _render(command: Any) -> Any:
    if isinstance(command, StringCommand):
        return command.get_raw_value()
    if isinstance(command, FileUploadCommand):
        src = command.src
        data = src.getvalue() if hasattr(src, "getvalue") else str(src)
        return ("upload", data, command.dest)
    if isinstance(command, FunctionCommand):
        return (command.function.__name__, *command.args)
    raise AssertionError(f"unexpected command {command!r}")


@pytest.fixture
def run_op():
    """``run_op(op, facts, **kwargs)`` -> (commands, host) with commands rendered as text."""

    def run(op: Any, facts: dict[type, Any], executing: bool = True, **kwargs: Any):
        fake = FakeHost(facts=facts, executing=executing)
        with ctx_state.use(FakeState()), ctx_host.use(fake):
            commands = [_render(c) for c in op._inner(**kwargs)]
        return commands, fake

    return run
