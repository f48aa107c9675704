"""Read less often, not less: every fact a host's decisions need, in one round trip.

pyinfra 3 keeps no fact cache: each ``host.get_fact`` runs its command on the host again,
one SSH round trip each. A converge that found nothing to do asked 14-18 of them per
host, and on a fleet those round trips are the run. So the converge names, before it
decides anything, the facts its operations will read (``take``); they run as one command
(each fact's own command in a subshell, its output fenced by markers and parsed by the
fact's own ``process``), and ``read`` answers the operations from those values.

The values describe the host only until something changes it, so ``read`` asks the host
itself again (one fact, as before) once:

- an operation on the host has run a command (any command may change what a fact reads:
  a package installed, daemon.json swapped, a service restarted), or
- pyinfra is executing after a preview it asked to confirm (no ``-y``): the operator may
  have taken minutes, so execution reads afresh, as it always did, or
- the read is older than :data:`MAX_AGE` seconds: ``--serial`` reaches a fleet's last host
  long after every host was read, and a verification that old proves nothing about now.

An operation whose commands can only change a few named reads says so (``confine``, e.g.
the apt pin file's write changes what that file reads and nothing else): when it runs,
only those are asked again, and the rest of the snapshot stands. An operation that does
not say so may change anything.

An operation therefore reads everything it needs before its first ``yield``: pyinfra runs
each yielded command at once, and a value read after it would predate it. A fact whose
own command fails on the host is left out of the snapshot: asking it again reports the
failure the usual way.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from pyinfra.api import FactBase, StringCommand
from pyinfra.api.host import Host
from pyinfra.api.state import State, StateStage
from pyinfra.context import ctx_host

T = TypeVar("T")
MARK = "@@gpu-docker-fact"
MEMO = "GPU_DOCKER_MEMO"
#: Shell variables holding each guard's outcome (``1`` where its test passed).
GUARD = "gpu_docker_guard_"
#: Seconds a read answers for: execution follows it at once with ``-y``, and a host whose
#: turn comes later (``--serial``) is read again.
MAX_AGE = 60.0

#: A fact and the arguments it is read with.
Read = tuple[type[FactBase[Any]], tuple[tuple[str, Any], ...]]


def fact_key(cls: type[FactBase[Any]], kwargs: Mapping[str, Any]) -> Read:
    """How a read is found again: the class and its arguments, sorted by name."""
    return cls, tuple(sorted(kwargs.items()))


class HostState(FactBase[dict[Read, Any]]):
    """The value of each given fact, from one command running all of theirs in turn."""

    @staticmethod
    def default() -> dict[Read, Any]:
        return {}

    def command(
        self, reads: tuple[Read, ...], guards: tuple[tuple[Read, str], ...] = ()
    ) -> StringCommand:
        """``guards``: a shell test per read, which runs only where it passes; elsewhere
        the read is left out, as a failed one is (see :func:`take`). Each distinct test
        runs once, first, however many reads it guards."""
        self.facts = [(key, key[0]()) for key in reads]
        tests = sorted(set(test for _, test in guards))
        passed = {key: f"{GUARD}{tests.index(test)}" for key, test in guards}
        # Answers several facts need (docker info: lib_docker.sh) are asked once and
        # kept in a directory living as long as this command.
        bits: list[Any] = [f"{MEMO}=$(mktemp -d -t gpu-docker-read.XXXXXX 2>/dev/null)", ";"]
        bits += ["export", MEMO, ";"]
        for number, test in enumerate(tests):
            bits += [f"{GUARD}{number}=", ";", "if", test, ";", "then"]
            bits += [f"{GUARD}{number}=1", ";", "fi", ";"]
        for index, (key, fact) in enumerate(self.facts):
            command = fact.command(**dict(key[1]))
            if key in passed:
                command = StringCommand(f'if [ -n "${passed[key]}" ]', ";", "then", command, ";")
                command = StringCommand(command, "else", "exit", "1", ";", "fi")
            bits += ["echo", f"{MARK}", ";", "(", command, ")", ";"]
            bits += ["echo", f"{MARK}={index}=$?", ";"]
        return StringCommand(*bits, "rm", "-rf", f'"${MEMO}"', ";", "true")

    def process(self, output: list[str]) -> dict[Read, Any]:
        values: dict[Read, Any] = {}
        lines: list[str] = []
        for line in output:
            if line == MARK:
                lines = []
            elif line.startswith(f"{MARK}="):
                index, _, status = line[len(MARK) + 1 :].partition("=")
                key, fact = self.facts[int(index)]
                if status == "0":
                    values[key] = fact.process(lines) if lines else fact.default()
            else:
                lines.append(line)
        return values


@dataclass(frozen=True)
class Snapshot:
    """What one host's ``HostState`` read found, and in which of pyinfra's stages."""

    values: dict[Read, Any]
    stage: StateStage
    taken: float  # time.monotonic() when the host answered


_SNAPSHOTS: weakref.WeakKeyDictionary[State, dict[str, Snapshot]] = weakref.WeakKeyDictionary()
#: Per host name, the operations (by hash) that declared the only reads they may change.
_CONFINED: weakref.WeakKeyDictionary[State, dict[str, dict[str, frozenset[Read]]]] = (
    weakref.WeakKeyDictionary()
)


def take(reads: Sequence[Read], guards: Mapping[Read, str] | None = None) -> None:
    """Read ``reads`` on the current host in one round trip, for ``read`` to answer from.

    ``guards`` names reads only worth their cost where a shell test passes (the
    verification's ``docker run`` on a host whose toolkit is already at the pin): elsewhere
    they are left out, and asked the host when an operation needs them."""
    host = ctx_host.get()
    values = host.get_fact(HostState, reads=tuple(reads), guards=tuple((guards or {}).items()))
    snapshot = Snapshot(values, host.state.current_stage, time.monotonic())
    _SNAPSHOTS.setdefault(host.state, {})[host.name] = snapshot


def confine(reads: Sequence[Read]) -> None:
    """Declare, inside an operation and before its first ``yield``, that its commands can
    change what ``reads`` read and nothing else a snapshot holds."""
    host = ctx_host.get()
    if not isinstance(host, Host) or host.current_op_hash is None:  # a test's stand-in host
        return
    op_hash = host.current_op_hash
    hosts = _CONFINED.setdefault(host.state, {})
    hosts.setdefault(host.name, {})[op_hash] = frozenset(reads)


def _changed_since(state: State, host: Host) -> frozenset[Read] | None:
    """What the operations that ran a command on ``host`` in this execution may have
    changed: ``None`` for anything (one of them did not confine itself)."""
    confined = _CONFINED.get(state, {}).get(host.name, {})
    changed: set[Read] = set()
    for op_hash, op_data in state.ops.get(host, {}).items():
        meta = op_data.operation_meta
        if meta.is_complete() and meta.executed:
            if op_hash not in confined:
                return None
            changed |= confined[op_hash]
    return frozenset(changed)


def _current(host: Any) -> Snapshot | None:
    """The host's snapshot while it still describes the host, else ``None``."""
    if not isinstance(host, Host):  # an operation test's stand-in host
        return None
    state = host.state
    snapshot = _SNAPSHOTS.get(state, {}).get(host.name)
    if snapshot is None:
        return None
    if state.current_stage != StateStage.Execute:
        return snapshot
    if snapshot.stage != StateStage.Execute and state.check_for_changes:
        return None  # executing after a confirmed preview: read afresh
    changed = _changed_since(state, host)
    if changed is None or time.monotonic() - snapshot.taken > MAX_AGE:
        del _SNAPSHOTS[state][host.name]
        return None
    if changed & snapshot.values.keys():
        values = {key: value for key, value in snapshot.values.items() if key not in changed}
        snapshot = _SNAPSHOTS[state][host.name] = Snapshot(values, snapshot.stage, snapshot.taken)
    return snapshot


def known(cls: type[FactBase[T]], **kwargs: Any) -> T | None:
    """The fact from the host's snapshot while that still describes the host, else
    ``None`` (never asks the host)."""
    snapshot = _current(ctx_host.get())
    if snapshot is None:
        return None
    found: T | None = snapshot.values.get(fact_key(cls, kwargs))
    return found


def read(cls: type[FactBase[T]], **kwargs: Any) -> T:
    """The fact as ``host.get_fact(cls, **kwargs)`` gives it, from the host's snapshot
    while that still describes the host."""
    host = ctx_host.get()
    snapshot = _current(host)
    key = fact_key(cls, kwargs)
    if snapshot is not None and key in snapshot.values:
        value: T = snapshot.values[key]
        return value
    found: T = host.get_fact(cls, **kwargs)
    return found
