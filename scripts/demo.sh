#!/usr/bin/env bash
# The main job on the built-in sandbox lab: bring up throwaway SSH hosts (2 online, 2
# restricted), preview the deploy, apply it, apply it again (no change), and verify.
# The lab stays up afterwards for you to poke at.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
export PATH="$PWD/.venv/bin:$PATH"

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

step "Bringing up the sandbox lab"
gpu-docker lab up --online "${ONLINE:-2}" --restricted "${RESTRICTED:-2}"

step "Preview: pyinfra inventories/sandbox.py deploys/gpu_docker.py --dry --diff"
pyinfra inventories/sandbox.py deploys/gpu_docker.py --dry --diff

step "Apply"
pyinfra inventories/sandbox.py deploys/gpu_docker.py -y

step "Apply again: nothing should change"
pyinfra inventories/sandbox.py deploys/gpu_docker.py -y

step "Verify"
pyinfra inventories/sandbox.py deploys/verify.py -y

step "Done. The lab is still up; explore it, then tear it down with:"
echo "    .venv/bin/gpu-docker lab down"
