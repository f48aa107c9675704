"""The fleet report of ``deploys/verify.py``: one JSON document a CI reads, and a table.

Each host's verification becomes one record (the engines ``container_engine`` names and
it was verified through, OS, docker, toolkit packages, the running daemon's runtimes,
whether dockerd registered the --gpus device driver, GPUs, every check with its engine,
command and output line, a pending restart, the verdict). When the run ends the
records are written to ``report_path`` (if set) and printed as one line per host (after
an applied run; a ``--dry`` preview verifies nothing and writes nothing);
hosts that were never reached or never verified appear as such, so the document always
covers the whole inventory. Building records and rendering are pure and unit-tested.
"""

from __future__ import annotations

import atexit
import datetime
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import click
from pyinfra.api.state import State, StateStage

from gpu_docker import advisories
from gpu_docker.engine_verify import EngineReport, check_records
from gpu_docker.verify import (
    CHECK_TITLES,
    Verification,
    check_problem,
    device_driver_registered,
    installed_toolkit,
    open_bulletins,
    pending_restart,
)

Record = dict[str, Any]
_COLLECTORS: dict[int, FleetReport] = {}


def _security(report: Verification) -> Record:
    """The installed toolkit version and the CVEs of the NVIDIA bulletins it lacks the fix
    of (``None`` for both where no toolkit is installed)."""
    version = installed_toolkit(report)
    return {
        "toolkit_version": version or None,
        "open_cves": advisories.records(open_bulletins(report)) if version else None,
    }


def record(host: str, report: Verification, runtime_name: str, problem: str | None) -> Record:
    """One host's entry in the JSON document."""
    gpus = bool(report.gpu.gpus)
    return {
        "host": host,
        "status": "failed" if problem else "verified",
        "problem": problem,
        "engines": ["docker"],
        "os": report.os,
        "docker_version": report.docker_version,
        "toolkit_packages": dict(sorted(report.packages.items())),
        **_security(report),
        "runtimes": list(report.dockerd.runtimes) if report.dockerd.runtimes is not None else None,
        "device_driver_registered": device_driver_registered(report),
        "pending_restart": pending_restart(report, runtime_name),
        "nvidia_smi": report.gpu.smi or None,
        "gpus": list(report.gpu.gpus),
        "gpu_problem": report.gpu.problem(),
        "cdi_enabled": report.cdi,
        "probe_image": report.probe or None,
        "checks": [
            {
                "engine": "docker",
                "name": check.name,
                "title": CHECK_TITLES.get(check.name, check.name),
                "command": check.command,
                "exit": check.rc,
                "ok": check_problem(check, gpus) is None,
                "output": check.line,
            }
            for check in report.checks
        ],
    }


def engine_record(
    host: str, engine: str, report: EngineReport | None, problem: str | None
) -> Record:
    """One host's entry for a containerd or podman verification (``None``: it could not
    run, e.g. containerd's CRI has no usable nvidia runtime)."""
    entry: Record = {
        "host": host,
        "status": "failed" if problem else "verified",
        "problem": problem,
        "engines": [engine],
    }
    if report is None:
        return entry
    base = report.base
    return {
        **entry,
        "os": base.os,
        f"{engine}_version": report.version or None,
        "toolkit_packages": dict(sorted(base.packages.items())),
        **_security(base),
        "nvidia_smi": base.gpu.smi or None,
        "gpus": list(base.gpu.gpus),
        "gpu_problem": base.gpu.problem(),
        "checks": check_records(report),
    }


def merged(old: Record, new: Record) -> Record:
    """One host verified through several engines: one entry, failed if any engine failed,
    every engine's checks (each names its engine), the problems joined."""
    problems = [p for p in (old.get("problem"), new.get("problem")) if p]
    return {
        **new,
        **old,
        "status": "failed" if "failed" in (old["status"], new["status"]) else old["status"],
        "problem": "; ".join(problems) or None,
        "engines": [*old.get("engines", []), *new.get("engines", [])],
        "checks": [*old.get("checks", []), *new.get("checks", [])],
    }


def absent(host: str, status: str, problem: str) -> Record:
    """The entry of a host that produced no verification (unreachable, bad settings)."""
    return {"host": host, "status": status, "problem": problem}


def document(records: Sequence[Record], now: datetime.datetime | None = None) -> dict[str, Any]:
    """The whole JSON document: hosts in name order and the names of those not verified."""
    hosts = sorted(records, key=lambda r: r["host"])
    when = now or datetime.datetime.now(datetime.timezone.utc)
    return {
        "generated_at": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "verified": sum(1 for r in hosts if r["status"] == "verified"),
        "not_verified": [r["host"] for r in hosts if r["status"] != "verified"],
        "hosts": hosts,
    }


def _toolkit(packages: Mapping[str, str]) -> str:
    versions = sorted(set(packages.values()))
    return ",".join(versions) if versions else "-"


def _cves(found: Sequence[Mapping[str, Any]] | None) -> str:
    """The table's mark of a host whose toolkit has open bulletins: count and top CVSS."""
    if found is None:
        return "-"
    if not found:
        return "none"
    return f"{len(found)}:CVSS{max(cve['cvss'] for cve in found)}"


def table(records: Sequence[Record]) -> list[str]:
    """One line per host: verdict, docker, toolkit, its open CVEs, device driver, GPUs,
    checks (each as ``engine/check``), problem."""
    header = ("host", "status", "docker", "toolkit", "CVEs", "--gpus", "gpus", "checks")
    rows: list[tuple[str, ...]] = []
    problems: list[str] = []
    for r in sorted(records, key=lambda r: r["host"]):
        driver = {True: "yes", False: "NO", None: "-"}[r.get("device_driver_registered")]
        checks = " ".join(
            f"{c.get('engine', 'docker')}/{c['name']}:{'ok' if c['ok'] else 'FAIL'}"
            for c in r.get("checks", [])
        )
        rows.append(
            (
                r["host"],
                r["status"],
                r.get("docker_version") or "-",
                _toolkit(r.get("toolkit_packages", {})),
                _cves(r.get("open_cves")),
                driver,
                str(len(r.get("gpus", []))) if "gpus" in r else "-",
                checks or "-",
            )
        )
        problems.append(r.get("problem") or "")
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]

    def line(cells: Sequence[str], tail: str = "") -> str:
        text = "  ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True))
        return f"{text}  {tail}".rstrip()

    return [line(header, "problem"), *(line(row, p) for row, p in zip(rows, problems, strict=True))]


class FleetReport:
    """Collects the records of one run; writes and prints them when the process exits."""

    def __init__(self, state: State) -> None:
        self.state = state
        self.records: dict[str, Record] = {}
        self.path: str | None = None

    def add(self, entry: Record, path: str | None) -> None:
        """Add a host's entry; a second engine's entry for the same host joins the first."""
        known = self.records.get(entry["host"])
        self.records[entry["host"]] = merged(known, entry) if known else entry
        self.path = self.path or path

    def all_records(self) -> list[Record]:
        """Every host in the run's limit: reached and verified or not, or unreachable."""
        found = dict(self.records)
        for host in self.state.inventory:
            if host.name in found or not self.state.is_host_in_limit(host):
                continue
            if host in self.state.failed_hosts:
                found[host.name] = absent(host.name, "unreachable", "could not connect")
            else:
                found[host.name] = absent(host.name, "not verified", "no verification ran")
        return list(found.values())

    def finish(self) -> None:
        """Print the table and write the document, after an applied run only: a ``--dry``
        preview verified nothing, and must not replace the last real report."""
        if self.state.current_stage < StateStage.Execute:
            return
        records = self.all_records()
        for text in table(records):
            click.echo(f"--> {text}", err=True)
        if self.path:
            target = Path(self.path).expanduser()
            target.parent.mkdir(parents=True, exist_ok=True)
            temp = target.with_name(f".{target.name}.tmp")
            temp.write_text(json.dumps(document(records), indent=2) + "\n", encoding="utf-8")
            os.replace(temp, target)
            click.echo(f"--> gpu-docker: fleet report written to {target}", err=True)


def collector(state: State) -> FleetReport:
    """This run's collector; the first call registers writing it at exit."""
    found = _COLLECTORS.get(id(state))
    if found is None:
        found = _COLLECTORS[id(state)] = FleetReport(state)
        atexit.register(found.finish)
    return found
