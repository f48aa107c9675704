#!/bin/sh
# Library (functions only, prepended to a script): the --gpus probe image.
# probe_image [make]: make gpu-docker-probe:<glibc version> from the host's own files
# unless it exists (docker import: no registry, so restricted hosts get it too), print its
# name. It holds the host's glibc shared libraries and ldconfig: enough for a static binary
# and for the nvidia-smi the NVIDIA hook mounts into a container. Older probes are removed.
# With make=0 (a --dry preview) nothing is made or removed: a missing probe is only named
# (probe_missing=<name>) and the function returns 1.
probe_image() {
    arch=$(dpkg --print-architecture) || return 1
    tag=$(dpkg-query -W -f='${Version}' "libc6:$arch" 2>/dev/null | tr -c 'A-Za-z0-9_.-' '_')
    name="gpu-docker-probe:${tag:-unknown}"
    if ! probe_listed "$name"; then
        if [ "${1:-1}" = 0 ]; then
            echo "probe_missing=$name"
            probe_static
            return 1
        fi
        list=$(mktemp) || return 1
        {
            dpkg -L "libc6:$arch" | grep -E '\.so(\.|$)' | grep -v '/gconv/'
            echo /sbin/ldconfig; echo /sbin/ldconfig.real; echo /etc/ld.so.conf
            find /etc/ld.so.conf.d -type f 2>/dev/null
        } | while read -r f; do [ -f "$f" ] && printf '%s\n' "${f#/}"; done | sort -u > "$list"
        if ! err=$(tar -C / -c -h --hard-dereference --no-recursion -T "$list" 2>/dev/null \
            | docker import - "$name" 2>&1 >/dev/null); then
            rm -f "$list"
            echo "probe_error=docker import of $name failed: $(echo "$err" | tail -n1)"
            return 1
        fi
        rm -f "$list"
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
