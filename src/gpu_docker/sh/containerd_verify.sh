#!/bin/sh
# Whether a GPU container starts through containerd as a pod of the nvidia runtime class
# does: the probe image imported into containerd (namespace k8s.io, CRI's snapshotter, no
# registry), run by ctr through the runtime_type and options.BinaryName that CRI's handler
# names (containerd_verify.py reads them from `containerd config dump`), with the NVIDIA
# environment a GPU pod gets; nvidia-smi -L where GPUs answer, a static binary elsewhere.
# With cdi=1 also a CDI device request (ctr --device nvidia.com/gpu=all, containerd 2.0+).
# Args: address snapshotter runtime-type binary-name systemd-cgroup(0/1) cdi(0/1) make(0/1)
# packages...
# libs: gpu probe check
address=$1 snapshotter=$2 rtype=$3 binary=$4 systemd=$5 cdi=$6 make=$7
shift 7
ns=k8s.io
# shellcheck source=/dev/null
. /etc/os-release 2>/dev/null
echo "os=${PRETTY_NAME:-${ID:-} ${VERSION_ID:-}}"
dpkg-query -W -f='pkg=${Package}\t${Version}\t${db:Status-Abbrev}\n' "$@" 2>/dev/null
echo "cli=$(nvidia-container-cli --version 2>/dev/null | head -n1)"
echo "ctk=$(nvidia-ctk --version 2>/dev/null | head -n1)"
server=$(timeout 30 ctr --address "$address" version 2>&1)
echo "engine_version=$(printf '%s\n' "$server" | sed -n 's/^ *Version: *//p' | sed -n 2p)"
facts=$(gpu_facts)
[ -z "$facts" ] || printf '%s\n' "$facts"
gpus=$(gpu_count "$facts")
name=$(probe_name) || exit 1
ref="docker.io/library/$name"
listed=$(timeout 60 ctr --address "$address" -n "$ns" images ls -q 2>/dev/null)
ready=$ref
if ! printf '%s\n' "$listed" | grep -qxF "$ref"; then
    if [ "$make" = 0 ]; then
        echo "probe_missing=$ref"
        ready=""
    else
        dir=$(mktemp -d) || exit 1
        if ! err=$(probe_archive "$dir" "$name" 2>&1) \
            || ! err=$(timeout 300 ctr --address "$address" -n "$ns" images import \
                --snapshotter "$snapshotter" "$dir/probe.tar" 2>&1); then
            echo "probe_error=ctr images import of $name failed: $(echo "$err" | tail -n1)"
            ready=""
        fi
        rm -rf -- "$dir"
        printf '%s\n' "$listed" | grep '^docker\.io/library/gpu-docker-probe:' | grep -vxF "$ref" \
            | while read -r old; do
                ctr --address "$address" -n "$ns" images rm "$old" >/dev/null 2>&1
            done
    fi
fi
[ -z "$ready" ] || echo "probe=$ref"
probe_static
static=$(probe_static | sed -n 's/^probe_static=//p')
if [ "$gpus" -gt 0 ]; then set -- nvidia-smi -L; else set -- "$static" --version; fi
[ -n "$ready" ] || [ "$make" = 0 ] || exit 0
id="gpu-docker-verify-$$"
if [ "$systemd" = 1 ]; then
    set -- --runc-systemd-cgroup --cgroup "system.slice:gpu-docker-verify:$id" \
        --env NVIDIA_VISIBLE_DEVICES=all --env NVIDIA_DRIVER_CAPABILITIES=compute,utility \
        "$ref" "$id" "$@"
else
    set -- --env NVIDIA_VISIBLE_DEVICES=all --env NVIDIA_DRIVER_CAPABILITIES=compute,utility \
        "$ref" "$id" "$@"
fi
if [ -n "$binary" ]; then set -- --runc-binary "$binary" "$@"; fi
run_check runtime ctr --address "$address" -n "$ns" run --rm --snapshotter "$snapshotter" \
    --runtime "$rtype" "$@"
if [ "$cdi" = 1 ]; then
    # ctr resolves CDI names given to --device itself from containerd 2.0; 1.x ctr takes
    # device paths only (CRI's enable_cdi is containerd_verify.py's to check).
    client=$(ctr --version 2>/dev/null)
    if ! printf '%s\n' "$client" | grep -q ' v\{0,1\}[01]\.[0-9]'; then
        shift $(($# - 2))
        run_check cdi ctr --address "$address" -n "$ns" run --rm --snapshotter "$snapshotter" \
            --device nvidia.com/gpu=all "$ref" "$id-cdi" "$@"
    else
        echo "cdi_unsupported=ctr ${client##* }"
    fi
fi
true
