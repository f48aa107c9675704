"""What one host's checks cost the machine: CPU seconds per docker command a no-op runs.

A no-op converge is one command per host, and on the lab's shared 2 cores a fleet's wall
time follows the CPU the hosts spend, their daemons' included (dockerd, containerd, runc,
the NVIDIA hook), which no per-process count of the SSH session sees. This runs each
command ``--runs`` times in one SSH session on the first host of a running, converged lab
and prints the whole machine's busy CPU per run (from /proc/stat; run it on a quiet
machine), so the verification's ``docker run --gpus all`` can be priced against the
pyinfra floor.

    GPU_DOCKER_LAB_SLOT=N .venv/bin/python bench/check_cost.py --runs 20
"""

from __future__ import annotations

import argparse
import subprocess
import time
from pathlib import Path

from gpu_docker.lab.ssh import ssh_command
from gpu_docker.lab.state import load, state_file

PROBE = "$(docker image ls --format '{{.Repository}}:{{.Tag}}' gpu-docker-probe | head -n1)"
COMMANDS = {
    "docker run --gpus all (the verification)": (
        f"docker run --rm --network none --pull never --gpus all {PROBE} /sbin/ldconfig --version"
    ),
    "docker run, no --gpus": (
        f"docker run --rm --network none --pull never {PROBE} /sbin/ldconfig --version"
    ),
    "docker info (JSON)": "docker info --format '{{json .}}'",
    "docker image ls": "docker image ls gpu-docker-probe",
    "true (the loop itself)": "true",
}


def busy_ticks() -> int:
    """Clock ticks every CPU of the machine has spent not idle, since boot."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    idle, iowait = fields[3], fields[4]
    return sum(fields) - idle - iowait


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="runs of each command")
    runs = parser.parse_args().runs
    lab = load(state_file())
    if lab is None:
        raise SystemExit("no sandbox lab is up: run `gpu-docker lab up` and converge it first")
    host = lab.hosts[0]
    print(f"{host.name}, {runs} runs each\n")
    print("| command | machine CPU s/run | wall s/run |")
    print("|---|---|---|")
    for title, command in COMMANDS.items():
        loop = f"for i in $(seq {runs}); do {command} >/dev/null 2>&1 || exit 1; done"
        before, start = busy_ticks(), time.monotonic()
        subprocess.run(ssh_command(lab, host, loop), check=True)
        cpu = (busy_ticks() - before) / 100 / runs
        print(f"| {title} | {cpu:.3f} | {(time.monotonic() - start) / runs:.3f} |")


if __name__ == "__main__":
    main()
