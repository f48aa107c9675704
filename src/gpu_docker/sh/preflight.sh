#!/bin/sh
# Everything the deploy checks before changing a host, as key=value lines.
# Args: packages to report from dpkg's database
# libs: docker dockerd
# shellcheck source=/dev/null
. /etc/os-release 2>/dev/null
echo "os_id=${ID:-}"
echo "os_version=${VERSION_ID:-}"
echo "arch=$(dpkg --print-architecture 2>/dev/null)"
if command -v nvidia-smi >/dev/null 2>&1 \
   && v=$(nvidia-smi --query-gpu=driver_version --format=csv,noheader 2>/dev/null); then
    echo "driver=$(echo "$v" | head -n1)"
    echo "gpus=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU')"
elif [ -r /proc/driver/nvidia/version ]; then
    echo "driver=$(head -n1 /proc/driver/nvidia/version)"
fi
[ -d /run/systemd/system ] && echo "init=systemd" || echo "init=sysv"
for t in curl gpg dpkg docker podman; do command -v "$t" >/dev/null 2>&1 && echo "tool=$t"; done
if command -v docker >/dev/null 2>&1; then
    if docker_info; then
        server=$(info_text ServerVersion)
        echo "docker_info=$server|$(info_value LiveRestoreEnabled)|$(info_value ContainersRunning)|$(info_value Runtimes)"
    else  # docker 20.10's `info` hides the cause; `version` says it on stderr
        why=$(timeout 10 docker version 2>&1 >/dev/null | grep -v '^$' | head -n1)
        echo "docker_error=${why:-$(info_error)}"
    fi
fi
# Launching dockerd (80 MB) twice is most of this fact's cost on a fleet. The running
# daemon's version answers both questions when it runs the installed binary (not replaced
# since it started); --validate came with Docker 23.
if bin=$(command -v dockerd 2>/dev/null); then
    exe=$(readlink "/proc/$(system_dockerd 2>/dev/null)/exe" 2>/dev/null)
    if [ -n "${server:-}" ] && [ "$exe" = "$(readlink -f "$bin")" ]; then
        echo "dockerd=Docker version $server"
        [ "${server%%.*}" -ge 23 ] 2>/dev/null && echo "validate=1"
    else
        echo "dockerd=$(dockerd --version 2>/dev/null)"
        dockerd --help 2>&1 | grep -q -- '--validate' && echo "validate=1"
    fi
fi
# The system docker enabled at boot, and rootless dockers: users running a dockerd of their
# own or holding its user unit (dockerd-rootless-setuptool.sh writes it).
if [ -d /run/systemd/system ]; then
    { systemctl is-enabled -q docker.service || systemctl is-enabled -q docker.socket; } \
        2>/dev/null && echo "docker_enabled=1"
elif ls /etc/rc[2345].d/S*docker >/dev/null 2>&1; then echo "docker_enabled=1"
fi
{
    ps -e -o uid=,comm= 2>/dev/null | awk '$2 == "dockerd" && $1 != 0 { print $1 }' \
        | while read -r uid; do id -nu "$uid" 2>/dev/null; done
    getent passwd | awk -F: '$3 >= 1000 && $3 < 65534 { print $1 ":" $6 }' \
        | while IFS=: read -r user home; do
            [ -f "$home/.config/systemd/user/docker.service" ] && echo "$user"
        done
} | sort -u | sed 's/^/rootless=/'
dpkg-query -W -f='pkg=${Package}\t${Version}\t${db:Status-Abbrev}\n' "$@" 2>/dev/null
true
