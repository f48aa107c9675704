#!/bin/sh
# Run as the rootless docker's user (DOCKER_HOST set): `docker run --gpus all` on the probe
# image (lib_probe.sh), made in their docker from the host's files on first use.
# Args: user
# libs: docker probe
user=$1
probe=$(probe_image) || fail_line=$(printf '%s\n' "$probe" | sed -n 's/^probe_error=//p')
name=$(printf '%s\n' "$probe" | sed -n 's/^probe=//p')
static=$(printf '%s\n' "$probe" | sed -n 's/^probe_static=//p')
if [ -z "$name" ]; then
    printf 'gpu-docker: %s\n' "$user's rootless docker: ${fail_line:-no probe image}" >&2
    exit 1
fi
if ! out=$(timeout 300 docker run --rm --network none --pull never --gpus all "$name" "$static" --version 2>&1); then
    printf 'gpu-docker: %s\n' "$user's rootless docker: docker run --gpus all failed: $(echo "$out" | tail -n1)" >&2
    exit 1
fi
echo "$user's rootless docker runs --gpus all containers"
