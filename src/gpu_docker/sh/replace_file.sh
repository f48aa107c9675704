#!/bin/sh
# Replace a config file with an uploaded new version, keeping its mode and owner, and a
# backup of the old one beside it (mode and owner kept too).
# Args: temp target backup-path
tmp=$1 target=$2 backup=$3
if ! { cp -p -- "$target" "$backup" && chown --reference="$target" "$tmp" \
    && chmod --reference="$target" "$tmp" && mv -f -- "$tmp" "$target"; }; then
    rm -f -- "$tmp"
    printf 'gpu-docker: %s\n' "could not replace $target; left as it was" >&2
    exit 1
fi
