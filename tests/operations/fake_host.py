"""Run an operation's generator against canned facts and collect what it would do.

pyinfra-testing's JSON harness keys facts by argument strings and has no ``host.log``;
our operations log diffs and take varargs facts, so this small stand-in host is clearer.
It is still pyinfra's real operation code and real command objects being checked.

Facts are keyed by class and arguments (``fact(RemoteFileText, path=...)``), as pyinfra
caches them: an operation that asks for a fact with other arguments than the test gave
(the wrong path, the wrong packages) fails with the key it asked for. A bare class key
answers whatever the arguments, for facts whose arguments a test does not care about.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pyinfra.api import FileUploadCommand, FunctionCommand, StringCommand

FactKey = tuple[type, tuple[Any, ...], tuple[tuple[str, Any], ...]]


def fact(cls: type, *args: Any, **kwargs: Any) -> FactKey:
    """The key of a fact read with these arguments (lists count as tuples)."""

    def frozen(value: Any) -> Any:
        return tuple(value) if isinstance(value, list) else value

    return (
        cls,
        tuple(frozen(a) for a in args),
        tuple(sorted((k, frozen(v)) for k, v in kwargs.items())),
    )


class Changed:
    """An earlier operation's result that changed the host (``OperationMeta.changed``)."""

    changed = True


class Unchanged:
    """An earlier operation's result that changed nothing."""

    changed = False


@dataclass
class FakeHost:
    """The parts of pyinfra's Host our operations use, answering facts from a table."""

    facts: dict[Any, Any]
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
        key = fact(cls, *args, **kwargs)
        if key in self.facts:
            return self.facts[key]
        if cls in self.facts:
            return self.facts[cls]
        given = [k for k in self.facts if k == cls or (isinstance(k, tuple) and k[0] is cls)]
        raise KeyError(f"the operation asked for {key}; the test gave {given}")

    def noop(self, description: str) -> None:
        self.noops.append(description)

    def log(self, message: str, log_func: Callable[..., Any] | None = None) -> None:
        self.logs.append(message)

    def log_styled(self, message: str, **kwargs: Any) -> None:
        self.logs.append(message)

    def get_temp_filename(self, *args: Any, **kwargs: Any) -> str:
        return "/tmp/pyinfra-temp"


def render(command: Any) -> Any:
    """A command as a test compares it: shell text, or a tuple naming the upload/function."""
    if isinstance(command, StringCommand):
        return command.get_raw_value()
    if isinstance(command, FileUploadCommand):
        src = command.src
        data = src.getvalue() if hasattr(src, "getvalue") else str(src)
        return ("upload", data, command.dest)
    if isinstance(command, FunctionCommand):
        return (command.function.__name__, *command.args)
    raise AssertionError(f"unexpected command {command!r}")
