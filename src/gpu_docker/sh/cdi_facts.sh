#!/bin/sh
# What decides the CDI spec: driver and toolkit versions, the spec, the stamp of what it
# was generated for, and the toolkit's nvidia-cdi-refresh units (1.18+, systemd only).
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
fi
true
