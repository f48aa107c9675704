#!/bin/sh
# What decides the CDI spec: driver and toolkit versions, the spec, the stamp of what it
# was generated for, the toolkit's nvidia-cdi-refresh units (1.18+, systemd only) and
# the spec they write.
# Args: spec stamp
spec=$1 stamp=$2
if command -v nvidia-smi >/dev/null 2>&1 \
   && v=$(nvidia-smi --query-gpu=driver_version --format=csv,noheader 2>/dev/null) && [ -n "$v" ]; then
    echo "driver=$(echo "$v" | head -n1)"
elif [ -r /proc/driver/nvidia/version ]; then
    echo "driver=$(head -n1 /proc/driver/nvidia/version)"
fi
command -v nvidia-ctk >/dev/null 2>&1 && echo "toolkit=$(nvidia-ctk --version 2>/dev/null | head -n1)"
[ -f "$spec" ] && echo "spec=1"
[ -f "$stamp" ] && echo "stamp=$(head -n1 "$stamp")"
if [ -d /run/systemd/system ] && systemctl cat nvidia-cdi-refresh.path >/dev/null 2>&1; then
    echo "refresh=1"
    systemctl is-enabled --quiet nvidia-cdi-refresh.path && echo "refresh_enabled=1"
    # The service generates only where NVIDIA's conditions hold: nvidia-smi in /usr/bin or
    # /usr/sbin, nvidia.ko in the running kernel's module index (a driver installed
    # elsewhere, e.g. /usr/local/nvidia, never gets a spec from it).
    deps=/lib/modules/$(uname -r)/modules.dep
    if [ ! -e /usr/bin/nvidia-smi ] && [ ! -e /usr/sbin/nvidia-smi ]; then
        echo "refresh_skips=nvidia-smi is in neither /usr/bin nor /usr/sbin"
    elif ! grep -qE '/(nvidia|nvidia-current)[.]ko' "$deps" 2>/dev/null; then
        echo "refresh_skips=$deps lists no nvidia.ko"
    fi
elif [ -d /run/systemd/system ] && systemctl is-active --quiet nvidia-cdi-refresh.path; then
    # A downgrade below 1.18 removed the unit files, but systemd still runs the units.
    echo "refresh_lingering=1"
fi
# Where the refresh service writes its spec: its env file may say, else NVIDIA's default.
# A spec there outlives the units (a downgrade below 1.18 removes them) until a reboot.
out=/var/run/cdi/nvidia.yaml
env=/etc/nvidia-container-toolkit/nvidia-cdi-refresh.env
if [ -r "$env" ]; then
    set_out=$(sed -n 's/^[[:space:]]*NVIDIA_CTK_CDI_OUTPUT_FILE_PATH=//p' "$env" | tail -n 1 | tr -d "\"'")
    [ -n "$set_out" ] && out=$set_out
fi
echo "refresh_spec_path=$out"
[ -f "$out" ] && echo "refresh_spec=1"
true
