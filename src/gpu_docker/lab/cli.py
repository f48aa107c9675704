"""``gpu-docker lab``: bring the sandbox lab up, look at it, tear it down."""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import time
from collections.abc import Callable, Sequence

from gpu_docker.lab import lifecycle
from gpu_docker.lab.errors import LabError
from gpu_docker.lab.state import INITS, LOGINS, RELEASES, LabHost, LabState, state_file


def _require_root() -> bool:
    if os.geteuid() != 0:
        print("gpu-docker lab: needs root (namespaces, mounts, bridges)", file=sys.stderr)
        return False
    return True


def _host_line(host: LabHost) -> str:
    return (
        f"{host.name:<20} {host.address:<14} {host.group:<11} {host.release:<9}"
        f" {host.init:<8} {host.login:<14}"
    )


HEADER = f"{'host':<20} {'address':<14} {'group':<11} {'release':<9} {'init':<8} {'login':<14}"


def _summary(state: LabState) -> str:
    lines = [HEADER.rstrip()]
    lines += [_host_line(host).rstrip() for host in state.hosts]
    lines += [
        "",
        f"state:      {state_file()}",
        f"repository: {state.repo_url} (key {state.key_fingerprint})",
        f"bundles:    {state.bundle_dir} ({', '.join(state.versions)})",
        "inventory:  pyinfra inventories/sandbox.py ...",
        "teardown:   gpu-docker lab down",
    ]
    return "\n".join(lines)


def _up(args: argparse.Namespace) -> int:
    if not _require_root():
        return 1
    start = time.monotonic()
    try:
        state = lifecycle.up(
            args.online,
            args.restricted,
            args.trixie_docker,
            releases=args.release,
            init=args.init,
            logins=args.login,
        )
    except (LabError, ValueError) as error:
        print(f"gpu-docker lab up: {error}", file=sys.stderr)
        return 1
    except subprocess.CalledProcessError as error:
        failed = shlex.join(str(part) for part in error.cmd)
        detail = (error.stderr or "").strip() if isinstance(error.stderr, str) else ""
        print(
            f"gpu-docker lab up: `{failed}` failed (exit {error.returncode}) {detail}",
            file=sys.stderr,
        )
        return 1
    print(_summary(state))
    print(f"\nlab up in {time.monotonic() - start:.1f}s")
    return 0


def _down(args: argparse.Namespace) -> int:
    if not _require_root():
        return 1
    start = time.monotonic()
    lifecycle.down()
    print(f"lab down in {time.monotonic() - start:.1f}s")
    return 0


def _status(args: argparse.Namespace) -> int:
    statuses = lifecycle.status()
    if statuses is None:
        print("no lab is up (start one with: gpu-docker lab up)")
        return 1
    print(f"{HEADER} ssh")
    for item in statuses:
        answer = "answers" if item.answers else ("silent" if item.running else "not running")
        print(f"{_host_line(item.host)} {answer}")
    return 0 if all(item.answers for item in statuses) else 1


def _choices(allowed: Sequence[str]) -> Callable[[str], list[str]]:
    """An argparse type: a comma-separated list of ``allowed`` values."""

    def parse(text: str) -> list[str]:
        values = [value.strip() for value in text.split(",") if value.strip()]
        wrong = [value for value in values if value not in allowed]
        if wrong or not values:
            raise argparse.ArgumentTypeError(
                f"{text!r}: give one or more of {', '.join(allowed)}, separated by commas"
            )
        return values

    return parse


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``lab up|down|status`` to the top-level parser."""
    lab = subparsers.add_parser("lab", help="throwaway Debian hosts reached over real SSH")
    sub = lab.add_subparsers(dest="lab_command", required=True)

    up = sub.add_parser("up", help="(re)create the lab: N online + M restricted hosts")
    up.add_argument("--online", type=int, default=2, help="hosts that reach the lab apt repo")
    up.add_argument("--restricted", type=int, default=2, help="hosts with no route to it")
    up.add_argument(
        "--trixie-docker",
        type=int,
        default=0,
        metavar="K",
        help="the last K online hosts run Debian trixie (docker 26, with dockerd --validate)",
    )
    up.add_argument(
        "--init",
        choices=INITS,
        default="systemd",
        help="PID 1 of every host: systemd (docker.service, the journal) or sysv (init scripts)",
    )
    up.add_argument(
        "--release",
        type=_choices(RELEASES),
        default=["bookworm"],
        metavar="R[,R...]",
        help=f"Debian release(s) ({', '.join(RELEASES)}); a group's hosts take them in turn",
    )
    up.add_argument(
        "--login",
        type=_choices(LOGINS),
        default=["root"],
        metavar="L[,L...]",
        help=f"how pyinfra logs in ({', '.join(LOGINS)}); a group's hosts take them in turn",
    )
    up.set_defaults(func=_up)

    down = sub.add_parser("down", help="remove every trace of the lab (safe when none is up)")
    down.set_defaults(func=_down)

    status = sub.add_parser("status", help="hosts, addresses, groups, and whether each answers")
    status.set_defaults(func=_status)
