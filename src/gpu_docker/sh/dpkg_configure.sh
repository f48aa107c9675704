#!/bin/sh
# Finish an interrupted dpkg run (confold); dpkg's output is passed on and a failure ends
# in one line naming dpkg's error.
# libs: dpkg
# Args: none
# shellcheck disable=SC2154  # $out and $cause: set by run_step (lib_dpkg.sh)
export DEBIAN_FRONTEND=noninteractive
run_step dpkg --force-confold --configure -a && exit 0
say "dpkg --configure -a (finishing an interrupted dpkg run) failed: $cause"
exit 1
