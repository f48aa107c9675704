"""pyinfra's own CLI, also writing what each host was sent: uploads and commands.

``python bench/pyinfra_counted.py ARGS...`` behaves exactly like ``pyinfra ARGS...``. When
``BENCH_PAYLOAD_FILE`` is set it wraps the SSH connector's upload and command runner so
that, at exit, that file holds one entry per host::

    {host: {"uploads": N, "bytes": B, "commands": [[stage, kind, name, seconds, cpu], ...]}}

plus ``"_startup"``: seconds from the process's start to its first SSH connection
(interpreter, pyinfra's imports, the inventory: pyinfra's own start-up, before any work).

The upload bytes are the files' own sizes (what an operator means by "uploaded"), not the
SSH traffic around them: ``run.py`` counts that on the wire. Each command is one round trip
(one SSH channel) and is named by the fact that ran it, or else by the operation pyinfra
was executing; ``stage`` is pyinfra's (``prepare``: the deploy file's own fact reads,
``execute``: operations and the facts they read). ``cpu`` is the whole machine's busy CPU
seconds while the command ran (``/proc/stat``, 10 ms steps): with one host on an otherwise
quiet machine, what that command cost the host, its daemons and the controller together.
``BENCH_PROFILE`` names a file to write the controller's cProfile statistics (CPU time) to.
"""

from __future__ import annotations

import atexit
import cProfile
import json
import os
import sys
import time
from collections import defaultdict
from io import BytesIO, StringIO
from pathlib import Path
from typing import Any

from pyinfra.api import facts as pyinfra_facts
from pyinfra.api.state import StateStage
from pyinfra.connectors.ssh import SSHConnector
from pyinfra_cli.main import main

Source = str | StringIO | BytesIO


def payload_size(source: Source) -> int:
    """Bytes a file upload sends: a controller path's size, or an in-memory file's length."""
    if isinstance(source, str):
        return os.path.getsize(source)
    value = source.getvalue()
    return len(value.encode() if isinstance(value, str) else value)


def seconds_since_start() -> float:
    """Seconds since this process started (the kernel's clock, 10 ms steps)."""
    start_ticks = int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19])
    uptime = float(Path("/proc/uptime").read_text().split()[0])
    return uptime - start_ticks / os.sysconf("SC_CLK_TCK")


def machine_busy() -> float:
    """CPU seconds every CPU of the machine has spent not idle, since boot."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    busy = sum(fields[:8]) - fields[3] - fields[4]  # less idle and iowait
    return busy / os.sysconf("SC_CLK_TCK")


def _entry() -> dict[str, Any]:
    return {"uploads": 0, "bytes": 0, "commands": []}


def count_traffic(report: Path) -> None:
    """Tally uploads and commands per host; write the tally to ``report`` at exit."""
    tally: dict[str, Any] = defaultdict(_entry)
    upload = SSHConnector._put_file
    run = SSHConnector.run_shell_command
    connect = SSHConnector.connect
    get_fact = pyinfra_facts._get_fact

    def counted_upload(self: SSHConnector, filename_or_io: Source, remote_location: str) -> None:
        upload(self, filename_or_io, remote_location)
        entry = tally[self.host.name]
        entry["uploads"] += 1
        entry["bytes"] += payload_size(filename_or_io)

    def counted_run(self: SSHConnector, command: Any, *args: Any, **kwargs: Any) -> Any:
        host = self.host
        fact = getattr(host, "_bench_fact", None)
        if fact:
            kind, name = "fact", fact
        else:
            op_hash = host.nested_executing_op_hash or host.executing_op_hash
            meta = self.state.op_meta.get(op_hash) if op_hash else None
            kind, name = "operation", ", ".join(sorted(meta.names)) if meta else "?"
        stage = "execute" if self.state.current_stage == StateStage.Execute else "prepare"
        start, busy = time.monotonic(), machine_busy()
        try:
            return run(self, command, *args, **kwargs)
        finally:
            took, cpu = time.monotonic() - start, machine_busy() - busy
            tally[host.name]["commands"].append([stage, kind, name, took, cpu])

    def counted_connect(self: SSHConnector) -> None:
        tally.setdefault("_startup", seconds_since_start())  # type: ignore[call-overload]
        connect(self)

    def named_fact(state: Any, host: Any, cls: Any, *args: Any, **kwargs: Any) -> Any:
        outer = getattr(host, "_bench_fact", None)
        host._bench_fact = cls.__name__
        try:
            return get_fact(state, host, cls, *args, **kwargs)
        finally:
            host._bench_fact = outer

    SSHConnector._put_file = counted_upload  # type: ignore[method-assign]
    SSHConnector.run_shell_command = counted_run  # type: ignore[method-assign]
    SSHConnector.connect = counted_connect  # type: ignore[method-assign]
    pyinfra_facts._get_fact = named_fact
    atexit.register(lambda: report.write_text(json.dumps(tally)))


def profile_to(path: Path) -> None:
    """Profile the whole controller run with cProfile; statistics go to ``path`` at exit.

    The timer is CPU time: gevent switches greenlets inside socket waits, so a wall-clock
    profile charges one host's wait for the network to whatever another was doing.
    """
    profiler = cProfile.Profile(time.process_time)
    profiler.enable()

    def dump() -> None:
        profiler.disable()
        profiler.dump_stats(path)

    atexit.register(dump)


if __name__ == "__main__":
    target = os.environ.get("BENCH_PAYLOAD_FILE")
    if target:
        count_traffic(Path(target))
    profile = os.environ.get("BENCH_PROFILE")
    if profile:
        profile_to(Path(profile))
    sys.argv[0] = "pyinfra"
    sys.exit(main())
