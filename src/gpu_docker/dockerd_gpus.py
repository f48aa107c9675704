"""Can the running dockerd serve ``--gpus``, and what must happen to docker so it can.

dockerd registers the device driver behind ``docker run --gpus`` (and compose's
``driver: nvidia``) only in its process start-up, and only when
``nvidia-container-runtime-hook`` is on its PATH then (moby ``daemon/nvidia_linux.go``,
docker 20.10 to 28). A SIGHUP registers new runtimes but never this driver, so a dockerd
started before the toolkit was installed lists the ``nvidia`` runtime and still answers
``could not select device driver "" with capabilities: [[gpu]]``. The fact
(``gpu_docker.facts.docker.RunningDockerd``) reads when dockerd started, the PATH it
started with and the hook's ctime on that PATH; :func:`parse_dockerd_gpus` reads its
output and :func:`plan_apply` turns that into restart, reload, nothing, or a pending
restart. Pure, so every decision and sentence is unit-tested.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

HOOK = "nvidia-container-runtime-hook"
Action = Literal["none", "restart", "reload", "pending"]
#: Failures of the NVIDIA hook itself: dockerd selected the device driver and ran it.
HOOK_ERRORS = ("nvidia-container-cli", "prestart hook", "nvidia-container-runtime-hook")
RELOAD_IS_NOT_ENOUGH = (
    "a reload (SIGHUP) cannot register the --gpus device driver: restarting instead"
)


def _stamp(epoch: float) -> str:
    """A UTC time an operator can compare with ``ls`` and logs."""
    when = datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc)
    return when.strftime("%Y-%m-%d %H:%M:%S UTC")


def _float(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


@dataclass(frozen=True)
class DockerdGpus:
    """The running dockerd as the ``--gpus`` device driver sees it.

    ``started_at`` and ``hook_ctime`` are epoch seconds; ``path`` is the PATH dockerd
    started with (``None``: not readable, ``""``: dockerd has none); ``runtimes`` are the
    runtimes the running daemon lists (``None``: docker did not answer). A hook newer than
    dockerd may have been upgraded in place, the driver still registered: where a probe
    image exists the host asks dockerd with ``--gpus`` (``live_registered``; ``None``:
    not asked).
    """

    pid: str = ""
    started_at: float | None = None
    path: str | None = None
    hook: str = ""
    hook_ctime: float | None = None
    runtimes: tuple[str, ...] | None = None
    docker_error: str = ""
    live_registered: bool | None = None

    def missing_driver(self) -> str | None:
        """Why this dockerd cannot serve ``--gpus``; ``None`` when it registered the driver."""
        if not self.pid:
            return "dockerd is not running"
        if not self.hook:
            where = f"its PATH ({self.path})" if self.path else "its PATH"
            return f"{HOOK} is not on {where}"
        if self.started_at is None or self.hook_ctime is None:
            return f"when dockerd (pid {self.pid}) started, relative to {self.hook}, is unknown"
        if self.hook_ctime >= self.started_at and not self.live_registered:
            return (
                f"dockerd (pid {self.pid}) started at {_stamp(self.started_at)}, before "
                f"{self.hook} appeared ({_stamp(self.hook_ctime)}): it never registered the "
                "--gpus device driver"
            )
        return None

    def stale_runtimes(self, wanted: Iterable[str]) -> list[str]:
        """Runtimes daemon.json declares that the running daemon does not list."""
        if self.runtimes is None:
            return []
        return sorted(set(wanted) - set(self.runtimes))


def parse_dockerd_gpus(output: Iterable[str]) -> DockerdGpus:
    """Parse ``lib_dockerd.sh``'s ``key=value`` lines into :class:`DockerdGpus`.

    dockerd's start is given in clock ticks after boot; ``clock`` pairs the wall clock with
    /proc/uptime read together, which places boot to within 10 ms (btime in /proc/stat is
    whole seconds: too coarse when the hook was installed a second before the restart).
    """
    kv: dict[str, str] = {}
    for line in output:
        key, sep, value = line.partition("=")
        if sep and key not in kv:
            kv[key] = value.strip()
    started_at = None
    ticks, tck = _float(kv.get("dockerd_start_ticks", "")), _float(kv.get("clk_tck", ""))
    now, _, uptime = kv.get("clock", "").partition(" ")
    wall, up = _float(now), _float(uptime)
    if ticks is not None and tck and wall is not None and up is not None:
        started_at = wall - up + ticks / tck
    runtimes = None
    if "daemon_runtimes" in kv:
        try:
            runtimes = tuple(sorted(json.loads(kv["daemon_runtimes"])))
        except (ValueError, TypeError):
            runtimes = None
    live_registered = None
    if "gpus_probe_rc" in kv:
        said = kv.get("gpus_probe", "")
        live_registered = kv["gpus_probe_rc"] == "0" or any(w in said for w in HOOK_ERRORS)
    return DockerdGpus(
        pid=kv.get("dockerd_pid", ""),
        started_at=started_at,
        path=kv.get("dockerd_path"),
        hook=kv.get("hook", ""),
        hook_ctime=_float(kv.get("hook_ctime", "")),
        runtimes=runtimes,
        docker_error=kv.get("docker_error", ""),
        live_registered=live_registered,
    )


@dataclass(frozen=True)
class ApplyPlan:
    """What docker must do: ``action``, the ``reasons`` for it, and a ``note`` when the
    action is not the configured strategy."""

    action: Action
    reasons: tuple[str, ...] = ()
    note: str = ""

    def lines(self) -> list[str]:
        """The sentences the preview and the run print for this host."""
        if self.action == "none":
            return []
        lines = [f"docker must pick up: {reason}" for reason in self.reasons]
        if self.note:
            lines.append(self.note)
        return lines

    def pending_message(self) -> str:
        """The one failure line of a host left with a restart pending."""
        return (
            "docker restart pending (restart_strategy=never): "
            + "; ".join(self.reasons)
            + "; not converged until docker is restarted"
        )


def plan_apply(
    strategy: str, changed: bool, dockerd: DockerdGpus, wanted_runtimes: Iterable[str]
) -> ApplyPlan:
    """Decide how docker picks up this run: nothing, the strategy, or a restart instead.

    Docker must act when the toolkit or daemon.json changed, when the running dockerd
    cannot serve ``--gpus`` (even if no file changed: installed by hand and never
    restarted, or left by ``restart_strategy=never``), or when it lacks a runtime that
    daemon.json declares. Only a restart registers the device driver, so ``reload``
    becomes ``restart`` then; ``never`` leaves the host pending.
    """
    reasons: list[str] = []
    if changed:
        reasons.append("the toolkit or daemon.json changed")
    driver = dockerd.missing_driver()
    if driver:
        reasons.append(f"dockerd cannot serve --gpus: {driver}")
    stale = dockerd.stale_runtimes(wanted_runtimes)
    if stale:
        reasons.append(
            f"the running dockerd does not list runtime(s) {', '.join(stale)} of daemon.json"
        )
    if not reasons:
        return ApplyPlan("none")
    if strategy == "never":
        return ApplyPlan("pending", tuple(reasons))
    if strategy == "reload" and driver:
        return ApplyPlan("restart", tuple(reasons), RELOAD_IS_NOT_ENOUGH)
    return ApplyPlan("restart" if strategy == "restart" else "reload", tuple(reasons))
