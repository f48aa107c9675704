"""Benchmark gpu-docker against the manual procedure and the floors on the sandbox lab.

For each fleet size (default 1, 10, 50, 200 hosts; half online, half restricted; sysv lab
hosts from ``--sysv-from`` hosts on, default 200) it brings up a fresh lab, runs the
deploy twice (``pyinfra -y inventories/sandbox.py deploys/gpu_docker.py``: the fresh
converge, then the no-op re-run), then, on the same converged hosts, the pyinfra floor
(``bench/floor_facts.py``: connect and read the facts a converge must read, no
operations) and the verified no-op floor (the same plus one ``docker run --rm --network
none --pull never --gpus all`` per host on the probe image gpu-docker's verification made
there), and tears the lab down. Then, each on a fresh lab of its own, twice the same way:
the one-ssh floor (``bench/floor.sh``: one ssh per host, all in parallel, running the
whole job as one idempotent script), the verified fresh floor (``VERIFY=1
bench/floor.sh``: the same session also makes the probe image from the host's glibc and
runs it with ``--gpus all``) and the baseline (``bench/baseline.sh``: the wiki's
procedure, host by host over ssh). The verified floors are issue 22's: gpu-docker's
no-op and fresh converge are held against them, with the target ratios in ``TARGETS``.
For every run it measures:

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

It prints issue 22's summary first (gpu-docker over each verified floor, with commands,
host and controller CPU per host, and where the time beyond the floor goes, phase by
phase), then every run, the ratios against every contender, the commands, how cost grows
with N (wall time, controller memory and CPU per host), and writes that growth as a PNG
(``--plot``, default ``bench/scaling.png``).

Needs root and ``GPU_DOCKER_LAB_SLOT`` set to a slot no one else uses:

    GPU_DOCKER_LAB_SLOT=2 .venv/bin/python bench/run.py --sizes 1,10,50,200 --json out.json

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

from plot import Panel, Series, write_png

from gpu_docker.bundle.manifest import load_manifest
from gpu_docker.lab import lifecycle, network
from gpu_docker.lab.dockerd import dockerd_pids, wait_for_docker
from gpu_docker.lab.errors import LabError
from gpu_docker.lab.inventory import LAB_TOOLKIT_VERSION
from gpu_docker.lab.state import Init, LabState

BENCH = Path(__file__).resolve().parent
TOOLS = (
    "gpu-docker",
    "pyinfra-floor",
    "pyinfra-verified",
    "ssh-floor",
    "ssh-verified",
    "baseline",
)
PYINFRA_TOOLS = ("gpu-docker", "pyinfra-floor", "pyinfra-verified")
RUNS = ("fresh", "no-op")
# The pyinfra floors only read (the verified one also runs one --rm container): they run
# once, on the hosts gpu-docker has just converged (what a no-op reads), in gpu-docker's
# lab, whose verification made the probe image the verified floor runs.
READ_ONLY = ("pyinfra-floor", "pyinfra-verified")
FLOOR_RUN = "no-op"
# Issue 22's verified floors: what gpu-docker's run is held against, and the target ratio
# (gpu-docker's wall time over the floor's) at each fleet size; no target is set at 200.
VERIFIED_FLOOR = {"no-op": "pyinfra-verified", "fresh": "ssh-verified"}
UNVERIFIED_FLOOR = {"no-op": "pyinfra-floor", "fresh": "ssh-floor"}
TARGETS = {
    ("no-op", 1): 1.3,
    ("no-op", 10): 1.3,
    ("no-op", 50): 1.3,
    ("fresh", 1): 1.3,
    ("fresh", 10): 1.3,
    ("fresh", 50): 1.25,
}
# The controller's peak memory at 50 hosts, over the verified no-op floor's: at most 10 MB.
MEMORY_TARGET = (50, 10e6)
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
    #: name -> [wall seconds, machine CPU seconds], summed over the hosts
    cost_by_name: dict[str, list[float]]


@dataclass(frozen=True)
class RunResult:
    """One run of one tool on one fleet size."""

    tool: str
    run: str
    hosts: int
    init: str
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
    init: str
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
    cost_by_name: dict[str, list[float]] = {}
    seconds = {"fact": 0.0, "operation": 0.0}
    for entry in tally.values():
        for stage, kind, name, took, cpu in entry["commands"]:
            key = f"{stage} {kind} {name}"
            by_name[key] = by_name.get(key, 0) + 1
            cost = cost_by_name.setdefault(key, [0.0, 0.0])
            cost[0] += took
            cost[1] += cpu
            seconds[kind] += took
    return Commands(
        per_host_mean=sum(counts) / len(counts),
        per_host_max=max(counts),
        fact_seconds=seconds["fact"],
        operation_seconds=seconds["operation"],
        startup=startup,
        by_name=dict(sorted(by_name.items(), key=lambda item: -item[1])),
        cost_by_name=dict(sorted(cost_by_name.items(), key=lambda item: -item[1][1])),
    )


def script_command(
    script: str, state: LabState, hosts_file: Path, verify: bool = False
) -> tuple[list[str], dict[str, str]]:
    """argv and environment of one run of ``baseline.sh`` or ``floor.sh`` over every host
    (``verify``: floor.sh also makes the probe and runs it with ``--gpus all``)."""
    hosts_file.write_text("".join(f"{h.address} {h.group}\n" for h in state.hosts))
    env = {
        **os.environ,
        "VERIFY": "1" if verify else "0",
        "SSH_KEY": state.ssh_key,
        "KNOWN_HOSTS": state.known_hosts,
        "KEY_URL": state.key_url,
        "REPO_URL": state.repo_url,
        "VERSION": f"{LAB_TOOLKIT_VERSION}-1",
        "DEBS": " ".join(str(path) for path in bundle_debs(state)),
    }
    return ["bash", str(BENCH / script), str(hosts_file)], env


def bring_up(hosts: int, init: Init, timings: list[LabTiming]) -> LabState:
    """A fresh lab of ``hosts`` hosts with every dockerd answering; record how long it took."""
    online, restricted = split(hosts)
    start = time.monotonic()
    try:
        state = lifecycle.up(online, restricted, init=init)
    except LabError as exc:  # a host's boot starved by the machine's load: once more
        print(f"  lab up failed, trying again: {str(exc).splitlines()[0]}", flush=True)
        start = time.monotonic()
        state = lifecycle.up(online, restricted, init=init)
    timings.append(LabTiming(hosts, init, time.monotonic() - start))
    return state


@dataclass(frozen=True)
class Options:
    """What every run of one benchmark shares."""

    project: Path
    out_dir: Path
    pyinfra_args: Sequence[str]
    profile_hosts: int | None
    sysv_from: int

    def init(self, hosts: int) -> Init:
        """The lab hosts' PID 1 at this fleet size: sysv from ``sysv_from`` hosts on
        (lighter: 200 systemd hosts do not fit this machine's memory)."""
        return "sysv" if hosts >= self.sysv_from else "systemd"


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
    if tool in READ_ONLY:
        verify = ["--data", "bench_verify=1"] if tool == "pyinfra-verified" else []
        return pyinfra_command(
            options.project,
            options.project / "bench" / "floor_facts.py",  # its imports follow its layout
            stem.with_suffix(".tally.json"),
            [*options.pyinfra_args, *verify],
            None,
        )
    if tool == "baseline":
        return script_command("baseline.sh", state, stem.with_suffix(".hosts"))
    return script_command(
        "floor.sh", state, stem.with_suffix(".hosts"), verify=tool == "ssh-verified"
    )


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
        init=state.hosts[0].init,
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

    A tool that changes hosts runs twice (fresh, then the no-op); the pyinfra floors, which
    only read, once.
    """
    state = bring_up(hosts, options.init(hosts), timings)
    counters = WireCounters(state)
    results = []
    try:
        for tool in tools:
            runs: tuple[str, ...] = (FLOOR_RUN,) if tool in READ_ONLY else RUNS
            if tool == "gpu-docker" and hosts == options.profile_hosts:
                runs += (PROFILE_RUN,)
            results += [measure(tool, run, state, counters, options) for run in runs]
    finally:
        counters.close()
        lifecycle.down()
    return results


def labs(tools: Sequence[str]) -> list[list[str]]:
    """Which tools share a lab: the pyinfra floors read gpu-docker's converged hosts; the
    one-ssh floors and the baseline each start from fresh hosts of their own."""
    first = [tool for tool in ("gpu-docker", *READ_ONLY) if tool in tools]
    rest = [[tool] for tool in ("ssh-floor", "ssh-verified", "baseline") if tool in tools]
    return ([first] if first else []) + rest


# --- the report -------------------------------------------------------------------------


def results_table(results: Sequence[RunResult]) -> str:
    """One markdown row per run: times, per-host traffic and restarts, controller cost."""
    lines = [
        "| hosts | init | tool | run | wall s | s/host | ssh B/host | repo B/host | from host B/host"
        " | uploads/host | payload B/host | restarts/host | host CPU s/host | ctl RSS MiB | ctl CPU % | machine CPU %"
        " mean/peak | load | rc |",
        "|" + "---|" * 18,
    ]
    for r in results:
        n, u, t = r.hosts, r.usage, r.traffic
        lines.append(
            f"| {n} | {r.init} | {r.tool} | {r.run} | {u.wall:.1f} | {u.wall / n:.2f}"
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
                theirs = wall.get((tool, FLOOR_RUN if tool in READ_ONLY else run, hosts))
                cells += [f"{theirs:.1f}", f"{ours / theirs:.2f}"] if theirs else ["", ""]
            lines.append(f"| {hosts} | {run} | {ours:.1f} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _find(results: Sequence[RunResult], tool: str, run: str, hosts: int) -> RunResult | None:
    run = FLOOR_RUN if tool in READ_ONLY else run
    return next((r for r in results if (r.tool, r.run, r.hosts) == (tool, run, hosts)), None)


def _commands_per_host(r: RunResult) -> str:
    """Round trips per host: counted for pyinfra runs; the one-ssh floors send one."""
    if r.commands is not None:
        return f"{r.commands.per_host_mean:.1f}"
    return "1" if r.tool in ("ssh-floor", "ssh-verified") else "-"


def verified_pairs(
    results: Sequence[RunResult],
) -> list[tuple[RunResult, RunResult, RunResult | None]]:
    """(gpu-docker, its verified floor, the same floor without the container) per size and
    run, where both of the first two ran."""
    pairs = []
    for hosts in sorted({r.hosts for r in results}):
        for run in ("no-op", "fresh"):
            ours = _find(results, "gpu-docker", run, hosts)
            floor = _find(results, VERIFIED_FLOOR[run], run, hosts)
            if ours and floor:
                pairs.append((ours, floor, _find(results, UNVERIFIED_FLOOR[run], run, hosts)))
    return pairs


def verified_table(results: Sequence[RunResult]) -> str:
    """Issue 22's summary: gpu-docker over the floor that runs the same container.

    The no-op floor is pyinfra connecting, reading five facts and running one ``docker run
    --gpus all`` per host; the fresh floor one ssh per host doing the whole job and making
    and running the probe. ``floor w/o container`` is the same floor without it (issue
    15's), so the container's share of the floor shows. Per host: commands (round trips),
    CPU seconds on the hosts (their sshd's sessions) and on the controller.
    """
    lines = [
        "| hosts | init | run | gpu-docker s | verified floor | floor s | ratio | target | met"
        " | floor w/o container s | commands/host ours/floor | host CPU s/host ours/floor"
        " | ctl CPU s/host ours/floor | ctl RSS MiB ours/floor |",
        "|" + "---|" * 14,
    ]
    for ours, floor, bare in verified_pairs(results):
        n, ratio = ours.hosts, ours.usage.wall / floor.usage.wall
        target = TARGETS.get((ours.run, n))
        met = "-" if target is None else ("yes" if ratio <= target else "no")
        if ours.usage.returncode or floor.usage.returncode:
            met = "failed run: see its log"
        lines.append(
            f"| {n} | {ours.init} | {ours.run} | {ours.usage.wall:.1f} | {floor.tool}"
            f" | {floor.usage.wall:.1f} | {ratio:.2f}x | {f'{target}x' if target else '-'}"
            f" | {met} | {f'{bare.usage.wall:.1f}' if bare else '-'}"
            f" | {_commands_per_host(ours)}/{_commands_per_host(floor)}"
            f" | {ours.host_cpu / n:.2f}/{floor.host_cpu / n:.2f}"
            f" | {ours.usage.cpu / n:.3f}/{floor.usage.cpu / n:.3f}"
            f" | {ours.usage.max_rss_kib / 1024:.0f}/{floor.usage.max_rss_kib / 1024:.0f} |"
        )
    return "\n".join(lines)


def memory_line(results: Sequence[RunResult]) -> str:
    """The controller's memory at the target size against the verified no-op floor's."""
    hosts, limit = MEMORY_TARGET
    ours = _find(results, "gpu-docker", "no-op", hosts)
    floor = _find(results, "pyinfra-verified", "no-op", hosts)
    if not ours or not floor:
        return f"controller memory at {hosts} hosts: not measured (needs both no-op runs)"
    over = (ours.usage.max_rss_kib - floor.usage.max_rss_kib) * 1024
    verdict = "met" if over <= limit else "missed"
    return (
        f"controller memory at {hosts} hosts, no-op: {ours.usage.max_rss_kib / 1024:.0f} MiB,"
        f" verified floor {floor.usage.max_rss_kib / 1024:.0f} MiB: {over / 1e6:+.1f} MB"
        f" (target +{limit / 1e6:.0f} MB: {verdict})"
    )


def beyond_table(results: Sequence[RunResult]) -> str:
    """Where gpu-docker's time beyond its verified floor goes, phase by phase.

    ``start-up``: process start to the first SSH connection (pyinfra runs only). ``fact
    wait`` and ``operation wait``: seconds each host waited on its fact and operation
    commands (summed over the hosts, divided by them: hosts wait in parallel, so these are
    per-host latencies, not shares of the wall time). The one-ssh floor has no phases: its
    whole job is one command. CPU: the controller's seconds, the hosts' sshd seconds per
    host, the machine's mean use. ``--profile`` says where the controller's CPU went.
    """
    lines = [
        "| hosts | run | beyond s | start-up s ours/floor | fact wait s/host ours/floor"
        " | operation wait s/host ours/floor | ctl CPU s ours/floor | host CPU s/host ours/floor"
        " | machine CPU % ours/floor |",
        "|" + "---|" * 9,
    ]

    def phases(r: RunResult) -> tuple[str, str, str]:
        c = r.commands
        if c is None:
            return "-", "-", "-"
        n = r.hosts
        return (
            f"{c.startup:.2f}",
            f"{c.fact_seconds / n:.2f}",
            f"{c.operation_seconds / n:.2f}",
        )

    for ours, floor, _ in verified_pairs(results):
        n = ours.hosts
        mine, theirs = phases(ours), phases(floor)
        lines.append(
            f"| {n} | {ours.run} | {ours.usage.wall - floor.usage.wall:+.1f}"
            + "".join(f" | {a}/{b}" for a, b in zip(mine, theirs, strict=True))
            + f" | {ours.usage.cpu:.2f}/{floor.usage.cpu:.2f}"
            f" | {ours.host_cpu / n:.2f}/{floor.host_cpu / n:.2f}"
            f" | {100 * ours.usage.machine_busy_mean:.0f}/{100 * floor.usage.machine_busy_mean:.0f} |"
        )
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


def command_costs(results: Sequence[RunResult]) -> str:
    """What each command of a one-host gpu-docker run cost: its wall time and the whole
    machine's busy CPU while it ran (the host's shell, its daemons and the controller; one
    host on a quiet machine, so nothing else). Where a fresh converge's time beyond the
    floor goes, command by command; at more hosts the commands overlap and the CPU of
    one cannot be told from another's."""
    out = []
    for r in results:
        if r.tool != "gpu-docker" or r.hosts != 1 or not r.commands:
            continue
        out.append(f"1 host {r.run}, per command (wall s, machine CPU s, stage kind name):")
        out += [
            f"  {wall:5.2f}  {cpu:5.2f}  {name}"
            for name, (wall, cpu) in r.commands.cost_by_name.items()
        ]
    return "\n".join(out)


def profile_summary(path: Path, top: int = 25) -> str:
    """The controller's CPU by function (cProfile, own time), with the total."""
    stats = pstats.Stats(str(path), stream=(buffer := io.StringIO()))
    stats.sort_stats("tottime").print_stats(top)
    return buffer.getvalue()


def _series(results: Sequence[RunResult], tool: str, run: str) -> list[RunResult]:
    return sorted((r for r in results if (r.tool, r.run) == (tool, run)), key=lambda r: r.hosts)


def curve_table(results: Sequence[RunResult]) -> str:
    """How cost grows with N, per host: seconds, the marginal seconds of each extra host,
    controller memory and CPU on each side.

    Per-host cost should stay flat or fall as N grows. The hosts share this machine's
    CPUs; on a real fleet their work runs on their own, and the controller's CPU seconds
    per host set how many hosts one controller core can drive. ``init`` says which lab
    hosts the size ran on (``--sysv-from``), so a step in the curve there is visible.
    """
    lines = [
        "| tool | run | hosts | init | s/host | marginal s/host | ctl RSS MiB | ctl RSS MiB/host"
        " | marginal ctl RSS MiB/host | controller CPU s/host | host CPU s/host |",
        "|" + "---|" * 11,
    ]
    for tool in TOOLS:
        for run in RUNS:
            previous: RunResult | None = None
            for r in _series(results, tool, run):
                n, wall, rss = r.hosts, r.usage.wall, r.usage.max_rss_kib / 1024
                if previous:
                    step = n - previous.hosts
                    marginal = f"{(wall - previous.usage.wall) / step:.2f}"
                    rss_step = f"{(rss - previous.usage.max_rss_kib / 1024) / step:.3f}"
                else:
                    marginal = rss_step = "-"
                lines.append(
                    f"| {tool} | {run} | {n} | {r.init} | {wall / n:.2f} | {marginal}"
                    f" | {rss:.0f} | {rss / n:.2f} | {rss_step}"
                    f" | {r.usage.cpu / n:.3f} | {r.host_cpu / n:.2f} |"
                )
                previous = r
    return "\n".join(lines)


def write_plot(results: Sequence[RunResult], path: Path) -> None:
    """The curve table's wall time and controller memory per host against N, as a PNG."""
    wall, memory = [], []
    for tool in TOOLS:
        for run in RUNS:
            points = _series(results, tool, run)
            if not points:
                continue
            label = f"{tool} {run}"
            wall.append(Series(label, [(r.hosts, r.usage.wall / r.hosts) for r in points]))
            memory.append(
                Series(label, [(r.hosts, r.usage.max_rss_kib / 1024 / r.hosts) for r in points])
            )
    write_png(
        path,
        [
            Panel("wall time per host", "hosts (n)", "s/host", wall),
            Panel("controller memory per host", "hosts (n)", "MiB/host", memory),
        ],
    )


def lab_table(timings: Sequence[LabTiming]) -> str:
    """How long each lab took to come up (not part of any measured run)."""
    lines = ["| hosts | init | lab up s (every dockerd answering) |", "|---|---|---|"]
    lines += [f"| {t.hosts} | {t.init} | {t.up:.1f} |" for t in timings]
    return "\n".join(lines)


def load_results(paths: Sequence[Path]) -> tuple[list[RunResult], list[LabTiming]]:
    """The measurements ``--json`` wrote, from one or more runs (e.g. 1, 10 and 50 hosts on
    systemd, then 200 on sysv), to print and plot together as one."""
    results: list[RunResult] = []
    timings: list[LabTiming] = []
    for path in paths:
        saved = json.loads(path.read_text())
        for r in saved["results"]:
            commands = Commands(**r["commands"]) if r["commands"] else None
            usage, traffic = Usage(**r["usage"]), Traffic(**r["traffic"])
            results.append(
                RunResult(**{**r, "usage": usage, "traffic": traffic, "commands": commands})
            )
        timings += [LabTiming(**t) for t in saved["labs"]]
    return results, timings


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes",
        default="1,10,50,200",
        type=lambda text: [int(part) for part in text.split(",")],
        help="fleet sizes, comma separated (default 1,10,50,200)",
    )
    parser.add_argument(
        "--sysv-from",
        type=int,
        default=200,
        metavar="N",
        help="labs of N hosts or more boot the lab's small sysv init instead of systemd,"
        " which needs less memory per host (default 200; 1 makes every size sysv)",
    )
    parser.add_argument(
        "--plot",
        type=Path,
        default=BENCH / "scaling.png",
        help="write the per-host wall time and controller memory against N here"
        " (default bench/scaling.png)",
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
        "--from-json",
        type=lambda text: [Path(part) for part in text.split(",")],
        metavar="FILE[,FILE...]",
        help="measure nothing: print the tables and draw the plot of runs --json saved",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="profile the controller on gpu-docker's no-op at the largest size",
    )
    args = parser.parse_args(argv)
    unknown = set(args.tools) - set(TOOLS)
    if unknown:
        parser.error(f"unknown tools: {', '.join(sorted(unknown))}")
    if "pyinfra-verified" in args.tools and "gpu-docker" not in args.tools:
        parser.error("pyinfra-verified runs on gpu-docker's converged hosts: add gpu-docker")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.from_json:
        return report(args, *load_results(args.from_json))
    if os.geteuid() != 0 or not os.environ.get("GPU_DOCKER_LAB_SLOT"):
        print("bench: run as root with GPU_DOCKER_LAB_SLOT set to a free slot", file=sys.stderr)
        return 2
    floor = args.project / "bench" / "floor_facts.py"
    if "pyinfra-verified" in args.tools and "bench_verify" not in floor.read_text():
        print(
            f"bench: {floor} has no verified floor (bench_verify, issue 22): benchmark a"
            " later checkout or leave out pyinfra-verified",
            file=sys.stderr,
        )
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    options = Options(
        project=args.project.resolve(),
        out_dir=args.out,
        pyinfra_args=args.pyinfra_args,
        profile_hosts=max(args.sizes) if args.profile else None,
        sysv_from=args.sysv_from,
    )
    results: list[RunResult] = []
    timings: list[LabTiming] = []
    for hosts in args.sizes:
        for tools in labs(args.tools):
            results += bench_lab(tools, hosts, options, timings)
    print(f"\n{os.cpu_count()} CPUs, {Path('/proc/loadavg').read_text().split()[0]} load now\n")
    return report(args, results, timings)


def report(args: argparse.Namespace, results: list[RunResult], timings: list[LabTiming]) -> int:
    """Print every table, draw the plot, write ``--json``; 0 when every run succeeded."""
    print(verified_table(results), end="\n\n")
    print(memory_line(results), end="\n\n")
    print(beyond_table(results), end="\n\n")
    print(results_table(results), end="\n\n")
    print(ratio_table(results), end="\n\n")
    print(commands_table(results), end="\n\n")
    print(curve_table(results), end="\n\n")
    print(lab_table(timings), end="\n\n")
    write_plot(results, args.plot)
    print(f"plot: {args.plot}", end="\n\n")
    print(round_trips(results), end="\n\n")
    print(command_costs(results))
    profile = args.out / f"gpu-docker-{max(args.sizes)}-{PROFILE_RUN}.prof"
    if args.profile and profile.exists():
        print(f"\ncontroller profile, {profile}:\n{profile_summary(profile)}")
    if args.json:
        payload = {"results": [asdict(r) for r in results], "labs": [asdict(t) for t in timings]}
        args.json.write_text(json.dumps(payload, indent=2) + "\n")
    return 0 if all(r.usage.returncode == 0 for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
