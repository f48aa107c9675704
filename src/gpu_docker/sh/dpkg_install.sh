#!/bin/sh
# Install a bundle's debs with dpkg in the given order, each checked against its sha256.
# Args: remote-dir file=sha256...
dir=$1; shift
cd "$dir" || exit 1
for entry in "$@"; do
    file=${entry%%=*} sum=${entry#*=}
    echo "$sum  $file" | sha256sum -c --quiet - >/dev/null 2>&1 || {
        printf 'gpu-docker: %s\n' "$dir/$file does not match the bundle manifest; not installed" >&2
        exit 1
    }
done
files=""
for entry in "$@"; do files="$files ${entry%%=*}"; done
# shellcheck disable=SC2086  # file names come from the manifest, checked above
DEBIAN_FRONTEND=noninteractive dpkg --force-confold -i $files
