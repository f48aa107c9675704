#!/bin/sh
# Install packages at their versions with apt-get (confold, downgrades allowed). Held
# packages are released for apt and held again whatever it did (lib_dpkg.sh); apt's
# output is passed on and a failure ends in one line naming apt's error.
# libs: dpkg
# Args: "held packages" lock-timeout package=version...
held=$1 timeout=$2
shift 2
export DEBIAN_FRONTEND=noninteractive
held_step "$held" "apt-get install" apt-get -y -o Dpkg::Options::=--force-confdef \
    -o Dpkg::Options::=--force-confold install --allow-downgrades \
    -o DPkg::Lock::Timeout="$timeout" "$@"
