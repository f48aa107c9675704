#!/bin/sh
# Library (functions only, prepended to a script): one container check, as verify.py reads it.
# run_check LABEL CMD...: run CMD (5 minutes at most), print
# check=<label>|<exit>|<command>|<output, base64>. With $ready empty (a --dry preview
# without the probe image) nothing runs: would=<label>|<command>.
run_check() {
    label=$1; shift
    if [ -z "${ready:-}" ]; then
        echo "would=$label|$*"
        return 0
    fi
    out=$(timeout 300 "$@" 2>&1)
    rc=$?
    echo "check=$label|$rc|$*|$(printf '%s' "$out" | base64 -w0)"
}
# gpu_count FACTS: how many GPUs gpu_facts listed (0 unless nvidia-smi -L worked).
gpu_count() {
    case $1 in
        *smi_rc=0*) printf '%s\n' "$1" | grep -c '^smi_out=GPU ' ;;
        *) echo 0 ;;
    esac
}
