#!/bin/sh
# Whether GPU containers work here, run as users run them: the host, the running dockerd
# (lib_dockerd.sh), the driver and nvidia-smi (lib_gpu.sh), then `docker run --gpus all`
# on the probe image (lib_probe.sh) and, where GPUs answer, nvidia-smi -L inside containers.
# Args: runtime smoke-test-image make-probe packages...
# make-probe=0 is a --dry preview: nothing is made, pulled or removed. Checks run only on
# images already on the host (their containers are --rm); the others are named as
# would=<name>|<command>.
# libs: docker dockerd gpu probe
runtime=$1 image=$2 make=$3
shift 3
# shellcheck source=/dev/null
. /etc/os-release 2>/dev/null
echo "os=${PRETTY_NAME:-${ID:-} ${VERSION_ID:-}}"
docker_info
echo "docker_version=$(info_text ServerVersion)"
dpkg-query -W -f='pkg=${Package}\t${Version}\t${db:Status-Abbrev}\n' "$@" 2>/dev/null
echo "cli=$(nvidia-container-cli --version 2>/dev/null | head -n1)"
echo "ctk=$(nvidia-ctk --version 2>/dev/null | head -n1)"
dockerd_gpus
# docker 25+ lists CDI spec directories only when CDI is enabled; older docker has no field.
cdi=$(info_value CDISpecDirs)
cdi_on=0
case $cdi in '['*'"'*) cdi_on=1; echo "cdi=1" ;; esac
facts=$(gpu_facts)
[ -z "$facts" ] || printf '%s\n' "$facts"
gpus=0
case $facts in *smi_rc=0*) gpus=$(printf '%s\n' "$facts" | grep -c '^smi_out=GPU ') ;; esac
# One check: check=<name>|<exit>|<command>|<output, base64>; without its image in a
# preview ($ready empty): would=<name>|<command>.
check() {
    label=$1; shift
    if [ -z "$ready" ]; then
        echo "would=$label|docker run --rm --network none $*"
        return 0
    fi
    out=$(timeout 300 docker run --rm --network none "$@" 2>&1)
    rc=$?
    echo "check=$label|$rc|docker run --rm --network none $*|$(printf '%s' "$out" | base64 -w0)"
}
probe=$(probe_image "$make")
printf '%s\n' "$probe"
ready=$(printf '%s\n' "$probe" | sed -n 's/^probe=//p')
name=${ready:-$(printf '%s\n' "$probe" | sed -n 's/^probe_missing=//p')}
static=$(printf '%s\n' "$probe" | sed -n 's/^probe_static=//p')
if [ -n "$name" ]; then
    if [ "$gpus" -gt 0 ]; then
        check gpus --pull never --gpus all "$name" nvidia-smi -L
        check runtime --pull never --runtime "$runtime" -e NVIDIA_VISIBLE_DEVICES=all \
            "$name" nvidia-smi -L
        if [ "$cdi_on" = 1 ]; then
            check cdi --pull never --device nvidia.com/gpu=all "$name" nvidia-smi -L
        fi
    else
        check gpus --pull never --gpus all "$name" "$static" --version
    fi
fi
if [ "$gpus" -gt 0 ] && [ -n "$image" ]; then
    ready=1
    if [ "$make" = 0 ] && ! docker image inspect "$image" >/dev/null 2>&1; then ready=""; fi
    check image --gpus all "$image" nvidia-smi -L
fi
true
