# shellcheck shell=sh
# gpu-docker lab: ulimit failures must not stop init scripts inside the sandbox.
ulimit() { command ulimit "$@" 2>/dev/null || true; }
