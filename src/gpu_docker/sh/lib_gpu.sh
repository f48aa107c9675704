#!/bin/sh
# Library (functions only, prepended to a script): the NVIDIA driver and its nvidia-smi.
# find_smi: the first nvidia-smi on PATH or where drivers put it outside PATH.
find_smi() {
    for d in $(printf '%s' "$PATH" | tr ':' ' ') /usr/bin /usr/local/bin /usr/local/nvidia/bin \
        /usr/lib/wsl/lib; do
        if [ -x "$d/nvidia-smi" ]; then printf '%s\n' "$d/nvidia-smi"; return 0; fi
    done
    return 1
}
# gpu_facts: driver_loaded=<first line of /proc/driver/nvidia/version>, smi=<path>,
# smi_rc=<exit of nvidia-smi -L>, smi_out=<one line each> (GPUs, or why it failed).
gpu_facts() {
    if [ -r /proc/driver/nvidia/version ]; then
        echo "driver_loaded=$(head -n1 /proc/driver/nvidia/version)"
    fi
    smi=$(find_smi) || return 0
    echo "smi=$smi"
    out=$(timeout 60 "$smi" -L 2>&1)
    echo "smi_rc=$?"
    printf '%s\n' "$out" | sed -n 's/^\(.\)/smi_out=\1/p'
}
