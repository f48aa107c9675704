"""Benchmark gpu-docker against the manual procedure and the two floors on the sandbox lab.

For each fleet size (default 1, 10, 50 hosts; half online, half restricted) it brings up
a fresh lab, runs the deploy twice (``pyinfra -y inventories/sandbox.py
deploys/gpu_docker.py``: the fresh converge, then the no-op re-run), then, on the same
converged hosts, the pyinfra floor (``bench/floor_facts.py``: connect and read the facts a
converge must read, no operations), and tears the lab down. Then, each on a fresh lab of
its own, twice the same way: the one-ssh floor (``bench/floor.sh``: one ssh per host, all
in parallel, running the whole job as one idempotent script) and the baseline
(``bench/baseline.sh``: the wiki's procedure, host by host over ssh). For every run it
measures:

- wall time, from starting the controller process to its exit;
- traffic per host, counted on the wire by an nft table in the root namespace: bytes sent
  to the host over SSH (commands, uploads and protocol), bytes sent to it otherwise (the
  lab's apt repository), bytes it sent back;
- the payload uploaded per host: files pyinfra uploads (``bench/pyinfra_counted.py``) or
  the ``.deb`` files the baseline copies with scp (the one-ssh floor: with tar, each run);
- for pyinfra runs, the commands (round trips) each host was sent, named by the fact or
  operation that sent them, the seconds spent waiting on facts and on operations, and
  pyinfra's start-up (process start to its first SSH connection);
- host CPU per host: what the hosts' sshd accounted for the run's SSH sessions and the
  commands they ran (a restarted dockerd's own work is not in it);
- docker restarts per host: each host's dockerd pid (seen from the root namespace, so
  measuring sends nothing) before and after;
- the controller's peak RSS and CPU (user + sys over wall, from ``wait4``: 100% is one
  core), and the whole machine's CPU use from ``/proc/stat`` (mean and peak of 0.25 s
  samples), plus the load average at the start.

Each run's output is kept in ``--out``, every line prefixed with the seconds since the run
began (where a run spends its time, operation by operation). Lab up (which returns once
every dockerd answers) is timed separately, not counted in any run. The hosts share the controller's CPUs, so the times include the hosts' own work
(dpkg, apt, dockerd restarts) on the same cores.

Needs root and ``GPU_DOCKER_LAB_SLOT`` set to a slot no one else uses:

    GPU_DOCKER_LAB_SLOT=2 .venv/bin/python bench/run.py --sizes 1,10,50 --json out.json

``--profile`` adds one more gpu-docker no-op at the largest size, run ``profile``, under
cProfile (CPU time, so it runs slower: its wall time is not the no-op's), and prints where
the controller's CPU went.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import pstats
import shlex
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from gpu_docker.bundle.manifest import load_manifest
from gpu_docker.lab import lifecycle, network
from gpu_docker.lab.dockerd import dockerd_pids, wait_for_docker
from gpu_docker.lab.errors import LabError
from gpu_docker.lab.inventory import LAB_TOOLKIT_VERSION
from gpu_docker.lab.state import LabState

BENCH = Path(__file__).resolve().parent
TOOLS = ("gpu-docker", "pyinfra-floor", "ssh-floor", "baseline")
PYINFRA_TOOLS = ("gpu-docker", "pyinfra-floor")
RUNS = ("fresh", "no-op")
# The pyinfra floor only reads: it runs once, on the hosts gpu-docker has just converged
# (what a no-op reads), in gpu-docker's lab.
FLOOR_RUN = "no-op"
# An extra no-op under the profiler: slower, so kept apart from the measured no-op.
PROFILE_RUN = "profile"
# How long a dockerd a run restarted may take to answer again (50 hosts restarting at once).
READY_TIMEOUT = 600.0


@dataclass(frozen=True)
class Usage:
    """What one controller run cost, and how busy the machine was meanwhile."""

    wall: float
    cpu: float
    max_rss_kib: int
    returncode: int
    machine_busy_mean: float
    machine_busy_peak: float


@dataclass(frozen=True)
class Traffic:
    """Bytes on the wire between the controller and the hosts, summed over the hosts."""

    ssh_to_hosts: int
    other_to_hosts: int
    from_hosts: int


@dataclass(frozen=True)
class Commands:
    """What pyinfra sent the hosts, from ``bench/pyinfra_counted.py``'s tally."""

    per_host_mean: float
    per_host_max: int
    fact_seconds: float
    operation_seconds: float
    startup: float
    by_name: dict[str, int]


@dataclass(frozen=True)
class RunResult:
    """One run of one tool on one fleet size."""

    tool: str
    run: str
    hosts: int
    usage: Usage
    traffic: Traffic
    uploads: int
    payload: int
    restarts: int
    host_cpu: float
    load_average: float
    commands: Commands | None


@dataclass(frozen=True)
class LabTiming:
    """Bringing up one lab: ``lab up`` returning, every dockerd answering."""

    hosts: int
    up: float


# --- the machine ------------------------------------------------------------------------


def _cpu_times() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs since boot."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    total = sum(fields[:8])  # guest time is already counted in user
    return total - idle, total


class CpuSampler(threading.Thread):
    """Samples the machine's CPU use every ``interval`` seconds until ``stop``."""

    def __init__(self, interval: float = 0.25) -> None:
        super().__init__(daemon=True)
        self.interval = interval
        self.samples: list[float] = []
        self.first = _cpu_times()
        self.last = self.first
        self._stopped = threading.Event()

    def run(self) -> None:
        while not self._stopped.wait(self.interval):
            now = _cpu_times()
            busy, total = now[0] - self.last[0], now[1] - self.last[1]
            if total:
                self.samples.append(busy / total)
            self.last = now

    def stop(self) -> tuple[float, float]:
        """Stop sampling; return (mean, peak) utilisation over the whole run, 0..1."""
        self._stopped.set()
        self.join()
        end = _cpu_times()
        busy, total = end[0] - self.first[0], end[1] - self.first[1]
        mean = busy / total if total else 0.0
        return mean, max(self.samples, default=mean)


def _timestamp_lines(child: subprocess.Popen[str], start: float, log: Path) -> None:
    """Copy the child's output to ``log``, each line prefixed with seconds since ``start``."""
    assert child.stdout is not None
    with log.open("w") as out:
        for line in child.stdout:
            out.write(f"{time.monotonic() - start:7.2f} {line}")


def run_measured(argv: Sequence[str], cwd: Path, env: dict[str, str], log: Path) -> Usage:
    """Run ``argv`` to completion, its output timestamped in ``log``; return its costs."""
    sampler = CpuSampler()
    sampler.start()
    start = time.monotonic()
    child = subprocess.Popen(
        argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    writer = threading.Thread(target=_timestamp_lines, args=(child, start, log))
    writer.start()
    _, status, rusage = os.wait4(child.pid, 0)
    wall = time.monotonic() - start
    writer.join()
    child.returncode = os.waitstatus_to_exitcode(status)
    mean, peak = sampler.stop()
    return Usage(
        wall=wall,
        cpu=rusage.ru_utime + rusage.ru_stime,
        max_rss_kib=rusage.ru_maxrss,
        returncode=child.returncode,
        machine_busy_mean=mean,
        machine_busy_peak=peak,
    )


# --- the hosts, seen from the root namespace -------------------------------------------


def _stat(pid: int) -> tuple[str, int, float] | None:
    """A process's name, parent pid and CPU seconds (its own plus its reaped children's)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    name = text[text.index("(") + 1 : text.rindex(")")]
    fields = text[text.rindex(")") + 2 :].split()
    ticks = sum(int(value) for value in fields[11:15])  # utime stime cutime cstime
    return name, int(fields[1]), ticks / os.sysconf("SC_CLK_TCK")


def sshd_cpu(state: LabState, timeout: float = 10.0) -> float:
    """CPU seconds the hosts' sshd listeners have accounted so far, summed over the hosts.

    A finished SSH connection's CPU (its sshd, the commands it ran, their children) is
    added to the listener when it reaps the connection, so this waits (up to ``timeout``)
    until no connection is left open. Daemons a command starts (a restarted dockerd) are
    not counted: they are reparented to the host's init.
    """
    deadline = time.monotonic() + timeout
    while True:
        total, sessions = 0.0, 0
        for host in state.hosts:
            stats = {pid: _stat(pid) for pid in network.netns_pids(host.netns)}
            names = {pid: stat[0] for pid, stat in stats.items() if stat}
            for stat in stats.values():
                if stat and stat[0] == "sshd":
                    if names.get(stat[1]) == "sshd":
                        sessions += 1
                    else:
                        total += stat[2]
        if not sessions or time.monotonic() > deadline:
            return total
        time.sleep(0.2)


class WireCounters:
    """An nft table of per-host byte counters, removed again by ``close``."""

    def __init__(self, state: LabState) -> None:
        self.table = f"{state.nft_table}_bench"
        out_rules, in_rules = [], []
        for host in state.hosts:
            out_rules.append(
                f'ip daddr {host.address} tcp dport 22 counter comment "ssh {host.name}"'
            )
            out_rules.append(f'ip daddr {host.address} counter comment "to {host.name}"')
            in_rules.append(f'ip saddr {host.address} counter comment "from {host.name}"')
        ruleset = (
            f"table inet {self.table} {{\n"
            "  chain out { type filter hook output priority filter; policy accept;\n    "
            + "\n    ".join(out_rules)
            + "\n  }\n"
            "  chain in { type filter hook input priority filter; policy accept;\n    "
            + "\n    ".join(in_rules)
            + "\n  }\n}\n"
        )
        self.close()
        subprocess.run(["nft", "-f", "-"], input=ruleset, text=True, check=True)

    def read(self) -> Traffic:
        """The counters' totals over all hosts, now."""
        listing = subprocess.run(
            ["nft", "-j", "list", "table", "inet", self.table],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        sums = {"ssh": 0, "to": 0, "from": 0}
        for item in json.loads(listing)["nftables"]:
            rule = item.get("rule")
            if not rule:
                continue
            kind = rule["comment"].split()[0]
            for expr in rule["expr"]:
                if "counter" in expr:
                    sums[kind] += expr["counter"]["bytes"]
        return Traffic(
            ssh_to_hosts=sums["ssh"],
            other_to_hosts=sums["to"] - sums["ssh"],
            from_hosts=sums["from"],
        )

    def close(self) -> None:
        subprocess.run(
            ["nft", "delete", "table", "inet", self.table], capture_output=True, check=False
        )


# --- the two tools ----------------------------------------------------------------------


def split(hosts: int) -> tuple[int, int]:
    """Online and restricted hosts for a fleet of ``hosts``: half each, online first."""
    online = math.ceil(hosts / 2)
    return online, hosts - online


def bundle_debs(state: LabState) -> list[Path]:
    """The lab bundle's .deb files in install order."""
    manifest = load_manifest(Path(state.bundle_dir), LAB_TOOLKIT_VERSION, "amd64")
    return [entry.path for entry in manifest.entries]


def pyinfra_command(
    project: Path, deploy: Path, out: Path, pyinfra_args: Sequence[str], profile: Path | None
) -> tuple[list[str], dict[str, str]]:
    """argv and environment of one pyinfra run whose uploads and commands land in ``out``."""
    argv = [
        sys.executable,
        str(BENCH / "pyinfra_counted.py"),
        "-y",
        *pyinfra_args,
        "inventories/sandbox.py",
        str(deploy),
    ]
    env = {**os.environ, "BENCH_PAYLOAD_FILE": str(out), "PYTHONPATH": str(project / "src")}
    if profile is not None:
        env["BENCH_PROFILE"] = str(profile)
    return argv, env


def read_commands(tally: dict[str, Any]) -> Commands:
    """Per-host command counts and where pyinfra waited, from one run's tally."""
    startup = tally.pop("_startup", 0.0)
    counts = [len(entry["commands"]) for entry in tally.values()] or [0]
    by_name: dict[str, int] = {}
    seconds = {"fact": 0.0, "operation": 0.0}
    for entry in tally.values():
        for stage, kind, name, took in entry["commands"]:
            key = f"{stage} {kind} {name}"
            by_name[key] = by_name.get(key, 0) + 1
            seconds[kind] += took
    return Commands(
        per_host_mean=sum(counts) / len(counts),
        per_host_max=max(counts),
        fact_seconds=seconds["fact"],
        operation_seconds=seconds["operation"],
        startup=startup,
        by_name=dict(sorted(by_name.items(), key=lambda item: -item[1])),
    )


def script_command(
    script: str, state: LabState, hosts_file: Path
) -> tuple[list[str], dict[str, str]]:
    """argv and environment of one run of ``baseline.sh`` or ``floor.sh`` over every host."""
    hosts_file.write_text("".join(f"{h.address} {h.group}\n" for h in state.hosts))
    env = {
        **os.environ,
        "SSH_KEY": state.ssh_key,
        "KNOWN_HOSTS": state.known_hosts,
        "KEY_URL": state.key_url,
        "REPO_URL": state.repo_url,
        "VERSION": f"{LAB_TOOLKIT_VERSION}-1",
        "DEBS": " ".join(str(path) for path in bundle_debs(state)),
    }
    return ["bash", str(BENCH / script), str(hosts_file)], env


def bring_up(hosts: int, timings: list[LabTiming]) -> LabState:
    """A fresh lab of ``hosts`` hosts with every dockerd answering; record how long it took."""
    online, restricted = split(hosts)
    start = time.monotonic()
    try:
        state = lifecycle.up(online, restricted)
    except LabError as exc:  # a host's boot starved by the machine's load: once more
        print(f"  lab up failed, trying again: {str(exc).splitlines()[0]}", flush=True)
        start = time.monotonic()
        state = lifecycle.up(online, restricted)
    timings.append(LabTiming(hosts, time.monotonic() - start))
    return state


@dataclass(frozen=True)
class Options:
    """What every run of one benchmark shares."""

    project: Path
    out_dir: Path
    pyinfra_args: Sequence[str]
    profile_hosts: int | None


def tool_command(
    tool: str, run: str, hosts: int, state: LabState, stem: Path, options: Options
) -> tuple[list[str], dict[str, str]]:
    """argv and environment of one run of ``tool``."""
    if tool == "gpu-docker":
        profile = stem.with_suffix(".prof") if run == PROFILE_RUN else None
        return pyinfra_command(
            options.project,
            Path("deploys/gpu_docker.py"),
            stem.with_suffix(".tally.json"),
            options.pyinfra_args,
            profile,
        )
    if tool == "pyinfra-floor":
        return pyinfra_command(
            options.project,
            options.project / "bench" / "floor_facts.py",  # its imports follow its layout
            stem.with_suffix(".tally.json"),
            options.pyinfra_args,
            None,
        )
    script = "floor.sh" if tool == "ssh-floor" else "baseline.sh"
    return script_command(script, state, stem.with_suffix(".hosts"))


def measure(
    tool: str, run: str, state: LabState, counters: WireCounters, options: Options
) -> RunResult:
    """One run of ``tool`` on the lab as it is now."""
    hosts = len(state.hosts)
    stem = options.out_dir / f"{tool}-{hosts}-{run}"
    argv, env = tool_command(tool, run, hosts, state, stem, options)
    load = os.getloadavg()[0]
    before_pids, before_bytes = dockerd_pids(state.hosts), counters.read()
    before_cpu = sshd_cpu(state)
    usage = run_measured(argv, options.project, env, stem.with_suffix(".log"))
    after_bytes = counters.read()
    host_cpu = sshd_cpu(state) - before_cpu
    wait_for_docker(state.hosts, READY_TIMEOUT)
    after_pids = dockerd_pids(state.hosts)
    commands = None
    if tool in PYINFRA_TOOLS:
        tally = json.loads(stem.with_suffix(".tally.json").read_text())
        commands = read_commands(tally)
        uploads = sum(entry["uploads"] for entry in tally.values())
        payload = sum(entry["bytes"] for entry in tally.values())
    elif tool == "baseline" or run == "fresh":
        debs = bundle_debs(state)
        restricted = len(state.group("restricted"))
        uploads = len(debs) * restricted
        payload = sum(path.stat().st_size for path in debs) * restricted
    else:  # the one-ssh floor's no-op sends the tar but installs nothing from it
        uploads, payload = 0, 0
    print(f"  {tool:<13} {hosts:>3} hosts {run:<6} {usage.wall:7.1f}s", flush=True)
    return RunResult(
        tool=tool,
        run=run,
        hosts=hosts,
        usage=usage,
        traffic=Traffic(
            ssh_to_hosts=after_bytes.ssh_to_hosts - before_bytes.ssh_to_hosts,
            other_to_hosts=after_bytes.other_to_hosts - before_bytes.other_to_hosts,
            from_hosts=after_bytes.from_hosts - before_bytes.from_hosts,
        ),
        uploads=uploads,
        payload=payload,
        restarts=sum(before_pids.get(name) != pid for name, pid in after_pids.items()),
        host_cpu=host_cpu,
        load_average=load,
        commands=commands,
    )


def bench_lab(
    tools: Sequence[str], hosts: int, options: Options, timings: list[LabTiming]
) -> list[RunResult]:
    """``tools`` one after the other on one fresh lab of ``hosts`` hosts, torn down after.

    A tool that changes hosts runs twice (fresh, then the no-op); the pyinfra floor, which
    only reads, once.
    """
    state = bring_up(hosts, timings)
    counters = WireCounters(state)
    results = []
    try:
        for tool in tools:
            runs: tuple[str, ...] = (FLOOR_RUN,) if tool == "pyinfra-floor" else RUNS
            if tool == "gpu-docker" and hosts == options.profile_hosts:
                runs += (PROFILE_RUN,)
            results += [measure(tool, run, state, counters, options) for run in runs]
    finally:
        counters.close()
        lifecycle.down()
    return results


def labs(tools: Sequence[str]) -> list[list[str]]:
    """Which tools share a lab: the pyinfra floor reads gpu-docker's converged hosts; the
    one-ssh floor and the baseline each start from fresh hosts of their own."""
    first = [tool for tool in ("gpu-docker", "pyinfra-floor") if tool in tools]
    rest = [[tool] for tool in ("ssh-floor", "baseline") if tool in tools]
    return ([first] if first else []) + rest


# --- the report -------------------------------------------------------------------------


def results_table(results: Sequence[RunResult]) -> str:
    """One markdown row per run: times, per-host traffic and restarts, controller cost."""
    lines = [
        "| hosts | tool | run | wall s | s/host | ssh B/host | repo B/host | from host B/host"
        " | uploads/host | payload B/host | restarts/host | host CPU s/host | ctl RSS MiB | ctl CPU % | machine CPU %"
        " mean/peak | load | rc |",
        "|" + "---|" * 17,
    ]
    for r in results:
        n, u, t = r.hosts, r.usage, r.traffic
        lines.append(
            f"| {n} | {r.tool} | {r.run} | {u.wall:.1f} | {u.wall / n:.2f}"
            f" | {t.ssh_to_hosts / n:,.0f} | {t.other_to_hosts / n:,.0f} | {t.from_hosts / n:,.0f}"
            f" | {r.uploads / n:.1f} | {r.payload / n:,.0f} | {r.restarts / n:.2f} | {r.host_cpu / n:.2f}"
            f" | {u.max_rss_kib / 1024:.0f} | {100 * u.cpu / u.wall:.0f}"
            f" | {100 * u.machine_busy_mean:.0f}/{100 * u.machine_busy_peak:.0f}"
            f" | {r.load_average:.2f} | {u.returncode} |"
        )
    return "\n".join(lines)


def ratio_table(results: Sequence[RunResult]) -> str:
    """gpu-docker's wall time over each contender's in this run (below 1 is faster).

    The issue's targets are ratios: no-op over the pyinfra floor, fresh over the one-ssh
    floor and the manual procedure, measured together so the machine's load is shared.
    """
    wall = {(r.tool, r.run, r.hosts): r.usage.wall for r in results}
    others = [tool for tool in TOOLS if tool != "gpu-docker"]
    lines = [
        "| hosts | run | gpu-docker s | " + " | ".join(f"{t} s | / {t}" for t in others) + " |",
        "|---|---|---|" + "---|---|" * len(others),
    ]
    for hosts in sorted({r.hosts for r in results}):
        for run in RUNS:
            ours = wall.get(("gpu-docker", run, hosts))
            if ours is None:
                continue
            cells = []
            for tool in others:
                theirs = wall.get((tool, FLOOR_RUN if tool == "pyinfra-floor" else run, hosts))
                cells += [f"{theirs:.1f}", f"{ours / theirs:.2f}"] if theirs else ["", ""]
            lines.append(f"| {hosts} | {run} | {ours:.1f} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def commands_table(results: Sequence[RunResult]) -> str:
    """Round trips per host and where pyinfra waited on them, for the pyinfra runs.

    ``work s`` is the wall time less pyinfra's start-up: what the run itself cost.
    """
    lines = [
        "| hosts | tool | run | commands/host mean | max | fact s/host | operation s/host"
        " | start-up s | work s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        c = r.commands
        if c is None:
            continue
        lines.append(
            f"| {r.hosts} | {r.tool} | {r.run} | {c.per_host_mean:.1f} | {c.per_host_max}"
            f" | {c.fact_seconds / r.hosts:.2f} | {c.operation_seconds / r.hosts:.2f}"
            f" | {c.startup:.2f} | {r.usage.wall - c.startup:.2f} |"
        )
    return "\n".join(lines)


def round_trips(results: Sequence[RunResult]) -> str:
    """Each gpu-docker run at the largest size: its commands per host, by fact or operation."""
    largest = max((r.hosts for r in results), default=0)
    out = []
    for r in results:
        if r.tool != "gpu-docker" or r.hosts != largest or r.run == PROFILE_RUN or not r.commands:
            continue
        out.append(f"{r.hosts} hosts {r.run}, commands per host (stage kind name):")
        out += [f"  {count / r.hosts:5.2f}  {name}" for name, count in r.commands.by_name.items()]
    return "\n".join(out)


def profile_summary(path: Path, top: int = 25) -> str:
    """The controller's CPU by function (cProfile, own time), with the total."""
    stats = pstats.Stats(str(path), stream=(buffer := io.StringIO()))
    stats.sort_stats("tottime").print_stats(top)
    return buffer.getvalue()


def curve_table(results: Sequence[RunResult]) -> str:
    """Per host: seconds, the marginal seconds of each extra host, and CPU on each side.

    The hosts share this machine's CPUs; on a real fleet their work runs on their own, and
    the controller's CPU seconds per host set how many hosts one controller core can drive.
    """
    lines = [
        "| tool | run | hosts | s/host | marginal s/host | controller CPU s/host | host CPU s/host |",
        "|---|---|---|---|---|---|---|",
    ]
    for tool in TOOLS:
        for run in RUNS:
            points = sorted(
                (r.hosts, r.usage.wall, r.usage.cpu, r.host_cpu)
                for r in results
                if r.tool == tool and r.run == run
            )
            previous: tuple[int, float] | None = None
            for hosts, wall, cpu, host_cpu in points:
                marginal = (
                    f"{(wall - previous[1]) / (hosts - previous[0]):.2f}" if previous else "-"
                )
                lines.append(
                    f"| {tool} | {run} | {hosts} | {wall / hosts:.2f} | {marginal}"
                    f" | {cpu / hosts:.3f} | {host_cpu / hosts:.2f} |"
                )
                previous = (hosts, wall)
    return "\n".join(lines)


def lab_table(timings: Sequence[LabTiming]) -> str:
    """How long each lab took to come up (not part of any measured run)."""
    lines = ["| hosts | lab up s (every dockerd answering) |", "|---|---|"]
    lines += [f"| {t.hosts} | {t.up:.1f} |" for t in timings]
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes",
        default="1,10,50",
        type=lambda text: [int(part) for part in text.split(",")],
        help="fleet sizes, comma separated (default 1,10,50)",
    )
    parser.add_argument(
        "--tools",
        default=",".join(TOOLS),
        type=lambda text: text.split(","),
        help=f"which tools to run, comma separated (default all: {','.join(TOOLS)})",
    )
    parser.add_argument(
        "--project",
        type=Path,
        default=BENCH.parent,
        help="the gpu-docker checkout to benchmark, e.g. a git worktree of a commit"
        " (default: this one)",
    )
    parser.add_argument(
        "--pyinfra-args",
        default="",
        type=shlex.split,
        help="extra pyinfra options, e.g. '--parallel 50'",
    )
    parser.add_argument(
        "--out", type=Path, default=Path("/tmp/gpu-docker-bench"), help="logs go here"
    )
    parser.add_argument("--json", type=Path, help="also write every measurement here")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="profile the controller on gpu-docker's no-op at the largest size",
    )
    args = parser.parse_args(argv)
    unknown = set(args.tools) - set(TOOLS)
    if unknown:
        parser.error(f"unknown tools: {', '.join(sorted(unknown))}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if os.geteuid() != 0 or not os.environ.get("GPU_DOCKER_LAB_SLOT"):
        print("bench: run as root with GPU_DOCKER_LAB_SLOT set to a free slot", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    options = Options(
        project=args.project.resolve(),
        out_dir=args.out,
        pyinfra_args=args.pyinfra_args,
        profile_hosts=max(args.sizes) if args.profile else None,
    )
    results: list[RunResult] = []
    timings: list[LabTiming] = []
    for hosts in args.sizes:
        for tools in labs(args.tools):
            results += bench_lab(tools, hosts, options, timings)
    print(f"\n{os.cpu_count()} CPUs, {Path('/proc/loadavg').read_text().split()[0]} load now\n")
    print(results_table(results), end="\n\n")
    print(ratio_table(results), end="\n\n")
    print(commands_table(results), end="\n\n")
    print(curve_table(results), end="\n\n")
    print(lab_table(timings), end="\n\n")
    print(round_trips(results))
    profile = args.out / f"gpu-docker-{options.profile_hosts}-{PROFILE_RUN}.prof"
    if args.profile and profile.exists():
        print(f"\ncontroller profile, {profile}:\n{profile_summary(profile)}")
    if args.json:
        payload = {"results": [asdict(r) for r in results], "labs": [asdict(t) for t in timings]}
        args.json.write_text(json.dumps(payload, indent=2) + "\n")
    return 0 if all(r.usage.returncode == 0 for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
