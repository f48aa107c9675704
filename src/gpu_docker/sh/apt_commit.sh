#!/bin/sh
# Write NVIDIA's source once the probe worked: keyring from the stage (if one was fetched),
# then the list file atomically (0644 root); the stage is removed either way.
# Args: stage keyring-path list-path list-line
stage=$1 keyring=$2 list=$3 line=$4
trap 'rm -rf "$stage"' EXIT
if [ -f "$stage/keyring" ]; then
    install -D -o root -g root -m 0644 "$stage/keyring" "$keyring" || exit 1
fi
printf '%s\n' "$line" > "$list.gpu-docker.tmp" && chown root:root "$list.gpu-docker.tmp" \
    && chmod 0644 "$list.gpu-docker.tmp" && mv -f -- "$list.gpu-docker.tmp" "$list"
