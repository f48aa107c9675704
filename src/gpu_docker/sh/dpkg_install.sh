#!/bin/sh
# Install a bundle's debs with dpkg in the given order, each checked against its sha256
# first. Held packages are released for dpkg and held again whatever it did (lib_dpkg.sh);
# dpkg's output is passed on and a failure ends in one line naming dpkg's error.
# libs: dpkg
# Args: "held packages" remote-dir file=sha256...
held=$1 dir=$2
shift 2
cd "$dir" || exit 1
for entry in "$@"; do
    file=${entry%%=*} sum=${entry#*=}
    echo "$sum  $file" | sha256sum -c --quiet - >/dev/null 2>&1 || {
        say "$dir/$file does not match the bundle manifest; not installed"
        exit 1
    }
done
files=""
for entry in "$@"; do files="$files ${entry%%=*}"; done
export DEBIAN_FRONTEND=noninteractive
# shellcheck disable=SC2086  # file names come from the manifest, checked above
held_step "$held" "dpkg -i of the bundle in $dir" dpkg --force-confold -i $files
