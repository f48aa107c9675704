#!/bin/sh
# apt-get update of NVIDIA's source alone (the options given), then gpu-docker's refresh
# stamp touched. apt exits 0 on failed fetches (no DNS, a dead proxy: "W: Failed to
# fetch"), so any E: or W: line counts as a failure too: one line quotes it and the stamp
# is not touched. A refresh forced by a change (the source, the pin) removes the stamp
# first: it no longer describes the lists, and a failed refresh must not be skipped next
# time because of it.
# libs: dpkg
# Args: stamp forced(0|1) apt-option...
# shellcheck disable=SC2154  # $out and $cause: set by run_step (lib_dpkg.sh)
stamp=$1 forced=$2
shift 2
[ "$forced" = 0 ] || rm -f -- "$stamp"
run_step apt-get update -q "$@"
rc=$?
if [ "$rc" -ne 0 ] || printf '%s\n' "$out" | grep -q '^[EW]:'; then
    say "apt-get update of NVIDIA's source failed: $cause"
    exit 1
fi
mkdir -p "${stamp%/*}" && touch "$stamp"
