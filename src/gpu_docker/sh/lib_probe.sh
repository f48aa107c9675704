#!/bin/sh
# Library (functions only, prepended to a script): the probe image every engine runs.
# It holds the host's glibc shared libraries and ldconfig: enough for a static binary and
# for the nvidia-smi the NVIDIA hook (or a CDI spec) mounts into a container. It is made
# from the host's own files, no registry, so restricted hosts get it too.
# probe_name: gpu-docker-probe:<glibc version>.
probe_name() {
    arch=$(dpkg --print-architecture) || return 1
    tag=$(dpkg-query -W -f='${Version}' "libc6:$arch" 2>/dev/null | tr -c 'A-Za-z0-9_.-' '_')
    echo "gpu-docker-probe:${tag:-unknown}"
}
# probe_rootfs: the probe's files as one tar on stdout.
probe_rootfs() {
    arch=$(dpkg --print-architecture) || return 1
    list=$(mktemp) || return 1
    {
        dpkg -L "libc6:$arch" | grep -E '\.so(\.|$)' | grep -v '/gconv/'
        echo /sbin/ldconfig; echo /sbin/ldconfig.real; echo /etc/ld.so.conf
        find /etc/ld.so.conf.d -type f 2>/dev/null
    } | while read -r f; do [ -f "$f" ] && printf '%s\n' "${f#/}"; done | sort -u > "$list"
    tar -C / -c -h --hard-dereference --no-recursion -T "$list" 2>/dev/null
    rc=$?
    rm -f "$list"
    return $rc
}
# probe_archive DIR NAME: DIR/probe.tar, the probe as a docker-archive (manifest.json,
# config, one layer) that `ctr images import` reads; built with tar and sha256sum only,
# so a containerd-only host needs no docker for it.
probe_archive() {
    dir=$1 name=$2
    mkdir -p "$dir/a" && probe_rootfs > "$dir/layer.tar" || return 1
    layer=$(sha256sum < "$dir/layer.tar" | cut -d' ' -f1)
    mkdir -p "$dir/a/$layer" && mv "$dir/layer.tar" "$dir/a/$layer/layer.tar" || return 1
    printf '{"architecture":"%s","os":"linux","config":{},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' \
        "$(dpkg --print-architecture)" "$layer" > "$dir/config.json" || return 1
    config=$(sha256sum < "$dir/config.json" | cut -d' ' -f1)
    mv "$dir/config.json" "$dir/a/$config.json" || return 1
    printf '[{"Config":"%s.json","RepoTags":["%s"],"Layers":["%s/layer.tar"]}]' \
        "$config" "$name" "$layer" > "$dir/a/manifest.json" || return 1
    tar -C "$dir/a" -cf "$dir/probe.tar" manifest.json "$config.json" "$layer/layer.tar"
}
# probe_image [make]: make the probe for docker unless it exists (docker import), print
# probe=<name>. Older probes are removed. With make=0 (a --dry preview) nothing is made or
# removed: a missing probe is only named (probe_missing=<name>) and the function returns 1.
probe_image() {
    name=$(probe_name) || return 1
    if ! probe_listed "$name"; then
        if [ "${1:-1}" = 0 ]; then
            echo "probe_missing=$name"
            probe_static
            return 1
        fi
        if ! err=$(probe_rootfs | docker import - "$name" 2>&1 >/dev/null); then
            echo "probe_error=docker import of $name failed: $(echo "$err" | tail -n1)"
            return 1
        fi
        docker image ls --format '{{.Repository}}:{{.Tag}}' gpu-docker-probe \
            | grep -vxF "$name" | xargs -r docker rmi >/dev/null 2>&1
    fi
    echo "probe=$name"
    probe_static
}
# probe_static: the static binary a GPU-less check runs in the probe. Ubuntu's
# /sbin/ldconfig is a shell wrapper and the probe has no shell, so the real binary.
probe_static() {
    if [ -f /sbin/ldconfig.real ]; then echo "probe_static=/sbin/ldconfig.real"
    else echo "probe_static=/sbin/ldconfig"; fi
}
