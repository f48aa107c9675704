#!/bin/sh
# Remove the toolkit: the other packages that depend on it first (removed, their
# configuration kept), then the toolkit packages purged, then the apt pin. dpkg stopping
# half-way (killed, a maintainer script failing) leaves packages half-installed or with
# config files only, and the pin in place: a second rollback finishes them, as the one
# line on failure says. dpkg's own output is passed on.
# Args: pin "dependents" toolkit-packages...
pin=$1 dependents=$2
shift 2
say() { printf 'gpu-docker: %s\n' "$*" >&2; }
dpkg_step() {
    out=$(DEBIAN_FRONTEND=noninteractive dpkg "$@" 2>&1)
    rc=$?
    [ -z "$out" ] || printf '%s\n' "$out"
    [ "$rc" -eq 0 ] && return 0
    last=$(printf '%s\n' "$out" | grep -v '^$' | tail -n 1)
    [ "$rc" -gt 128 ] && last="killed by signal $((rc - 128))${last:+ after: $last}"
    say "dpkg $* stopped half-way ($last): run the rollback again to finish the removal"
    exit 1
}
# shellcheck disable=SC2086  # one package name per word
[ -z "$dependents" ] || dpkg_step --remove --force-remove-reinstreq $dependents
[ "$#" -eq 0 ] || dpkg_step --purge --force-remove-reinstreq "$@"
rm -f -- "$pin"
