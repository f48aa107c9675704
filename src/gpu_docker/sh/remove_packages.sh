#!/bin/sh
# Remove the toolkit: the other packages that depend on it first (removed, their
# configuration kept), then the toolkit packages purged, then the apt pin. dpkg stopping
# half-way (killed, a maintainer script failing) leaves packages half-installed or with
# config files only, and the pin in place: a second rollback finishes them, as the one
# line on failure says. dpkg's own output is passed on (lib_dpkg.sh).
# libs: dpkg
# Args: pin "dependents" toolkit-packages...
# shellcheck disable=SC2154  # $out and $cause: set by run_step (lib_dpkg.sh)
pin=$1 dependents=$2
shift 2
export DEBIAN_FRONTEND=noninteractive
dpkg_step() {
    run_step dpkg "$@" && return 0
    say "dpkg $* stopped half-way ($cause): run the rollback again to finish the removal"
    exit 1
}
# shellcheck disable=SC2086  # one package name per word
[ -z "$dependents" ] || dpkg_step --remove --force-remove-reinstreq $dependents
[ "$#" -eq 0 ] || dpkg_step --purge --force-remove-reinstreq "$@"
rm -f -- "$pin"
