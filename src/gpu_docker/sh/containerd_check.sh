#!/bin/sh
# Let containerd itself read a candidate config before it replaces the real one: a file
# containerd rejects is removed and the real config is left as it was.
# Args: candidate target
tmp=$1 target=$2
if ! out=$(containerd --config "$tmp" config dump 2>&1 >/dev/null); then
    rm -f -- "$tmp"
    printf 'gpu-docker: %s\n' "containerd rejected the merged $target ($(echo "$out" | tail -n 1 | cut -c 1-300)); $target left untouched" >&2
    exit 1
fi
