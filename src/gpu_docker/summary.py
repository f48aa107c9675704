"""One closing summary per run naming every host that did not finish, and why.

pyinfra's results table counts hosts per operation but names none, and a host that could
not be reached appears only in the "Connecting" lines at the top. On a fleet the operator
needs the list at the end: which hosts to look at, and that a rerun picks them up (hosts
that converged are left alone by it). :func:`register` hooks this into a run once; the
summary is printed when the process exits after an applied run (not after ``--dry``),
even when pyinfra gave up because no host was left.
"""

from __future__ import annotations

import atexit

import click
from pyinfra.api.host import Host
from pyinfra.api.state import BaseStateCallback, State, StateStage

_REGISTERED: set[int] = set()


class RunSummary(BaseStateCallback):
    """Remembers the first failing operation of each host; reports at exit."""

    def __init__(self, state: State, done: str) -> None:
        self.done = done
        # Deploy files load after connecting: hosts failed by now were never reached.
        self.unreachable = {host.name for host in state.failed_hosts}
        self.failed_at: dict[str, str] = {}

    def operation_host_error(  # type: ignore[override]  # pyinfra declares it static
        self, state: State, host: Host, op_hash: str, retry_count: int = 0, max_retries: int = 0
    ) -> None:
        names = sorted(state.op_meta[op_hash].names)
        self.failed_at.setdefault(host.name, ", ".join(names) or op_hash)

    def lines(self, state: State) -> list[str]:
        """The summary: a verdict line, then one line per host that did not finish."""
        total = sum(1 for host in state.inventory if state.is_host_in_limit(host))
        failed = sorted(host.name for host in state.failed_hosts)
        if not failed:
            return [f"--> gpu-docker: all {total} hosts {self.done}"]
        lines = [
            f"--> gpu-docker: {len(failed)} of {total} hosts not {self.done}; "
            "fix the cause and run again (finished hosts are left as they are):"
        ]
        for name in failed:
            if name in self.unreachable:
                cause = "unreachable (could not connect)"
            else:
                cause = f"failed at: {self.failed_at.get(name, 'an unknown step')}"
            lines.append(f"    [{name}] {cause}")
        return lines


def register(state: State, done: str) -> None:
    """Print the summary at exit of this run; only the first call per run counts.

    ``done`` is what a finished host is, e.g. ``converged`` or ``verified``.
    """
    if id(state) in _REGISTERED:
        return
    _REGISTERED.add(id(state))
    summary = RunSummary(state, done)
    state.add_callback_handler(summary)

    def report() -> None:
        if state.current_stage >= StateStage.Execute:
            for line in summary.lines(state):
                click.echo(line, err=True)

    atexit.register(report)
