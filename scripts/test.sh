#!/usr/bin/env bash
# The whole test suite, set-up included: lint, type check (mypy strict on src/), unit and
# operation tests, and the end-to-end tests on the sandbox lab (real SSH hosts, real
# dockerd; needs root).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
.venv/bin/ruff check .
.venv/bin/ruff format --check .
shellcheck src/gpu_docker/sh/*.sh src/gpu_docker/lab/sh/*.sh scripts/*.sh bench/*.sh
.venv/bin/mypy src
.venv/bin/python -m pytest "$@"
