#!/bin/sh
# Whether a GPU container starts through podman the way NVIDIA documents it: CDI only,
# `podman run --device nvidia.com/gpu=all` on the probe image (podman import of the host's
# glibc, no registry). Where the CDI spec is missing the probe still runs without the
# device request, so the report can say podman works and why no GPU was asked for.
# Args: spec make(0/1) packages...
# libs: gpu probe check
spec=$1 make=$2
shift 2
# Podman 5 warns on every command of a cgroup v1 host; the checks' output is for results.
export PODMAN_IGNORE_CGROUPSV1_WARNING=1
# shellcheck source=/dev/null
. /etc/os-release 2>/dev/null
echo "os=${PRETTY_NAME:-${ID:-} ${VERSION_ID:-}}"
dpkg-query -W -f='pkg=${Package}\t${Version}\t${db:Status-Abbrev}\n' "$@" 2>/dev/null
echo "cli=$(nvidia-container-cli --version 2>/dev/null | head -n1)"
echo "ctk=$(nvidia-ctk --version 2>/dev/null | head -n1)"
if ! version=$(timeout 60 podman version --format '{{.Client.Version}}' 2>&1); then
    echo "engine_error=$(printf '%s\n' "$version" | tail -n1 | cut -c 1-300)"
    exit 0
fi
echo "engine_version=$version"
[ -f "$spec" ] && echo "cdi_spec=1"
facts=$(gpu_facts)
[ -z "$facts" ] || printf '%s\n' "$facts"
gpus=$(gpu_count "$facts")
name=$(probe_name) || exit 1
ref="localhost/$name"
ready=$ref
if ! podman image exists "$ref" 2>/dev/null; then
    if [ "$make" = 0 ]; then
        echo "probe_missing=$ref"
        ready=""
    elif ! err=$(probe_rootfs | podman import - "$name" 2>&1 >/dev/null); then
        echo "probe_error=podman import of $name failed: $(echo "$err" | tail -n1)"
        exit 0
    else
        podman images --format '{{.Repository}}:{{.Tag}}' localhost/gpu-docker-probe 2>/dev/null \
            | grep -vxF "$ref" | xargs -r podman rmi >/dev/null 2>&1
    fi
fi
[ -z "$ready" ] || echo "probe=$ref"
probe_static
static=$(probe_static | sed -n 's/^probe_static=//p')
if [ "$gpus" -gt 0 ]; then set -- nvidia-smi -L; else set -- "$static" --version; fi
if [ -f "$spec" ]; then
    run_check cdi podman run --rm --network none --device nvidia.com/gpu=all "$ref" "$@"
else
    run_check run podman run --rm --network none "$ref" "$@"
fi
true
