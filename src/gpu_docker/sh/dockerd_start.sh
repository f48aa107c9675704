#!/bin/sh
# Will dockerd start again with the current daemon.json? The running dockerd's own
# arguments (one arg= line each), when it started and when daemon.json last changed
# (epoch seconds), when gpu-docker last reloaded this dockerd (its stamp, same pid only),
# and, where dockerd has --validate and the file changed since dockerd
# started (or dockerd is not running), what --validate says of the file as it is now.
# Args: daemon.json-path validate(0/1/auto: whether dockerd --help lists --validate, asked
# only when it would run) reload-stamp
conf=$1 validate=$2 stamp=$3
target=$(readlink -f -- "$conf" 2>/dev/null) || target=$conf
pid=$(pidof -s dockerd 2>/dev/null)
started=0
if [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ]; then
    tr '\0' '\n' < "/proc/$pid/cmdline" | tail -n +2 | sed 's/^/arg=/'
    ticks=$(awk '{ print $22 }' "/proc/$pid/stat")
    boot=$(awk '$1 == "btime" { print $2 }' /proc/stat)
    started=$((boot + ticks / $(getconf CLK_TCK)))
    echo "started=$started"
    if read -r spid stime < "$stamp" 2>/dev/null && [ "$spid" = "$pid" ]; then
        echo "reloaded=$stime"
    fi
fi
if [ -f "$target" ]; then
    changed=$(stat -c %Y -- "$target")
    echo "changed=$changed"
    if [ "$validate" = auto ] && { [ -z "$pid" ] || [ "$changed" -ge "$started" ]; }; then
        dockerd --help 2>&1 | grep -q -- '--validate' && validate=1
    fi
    if [ "$validate" = 1 ] && { [ -z "$pid" ] || [ "$changed" -ge "$started" ]; }; then
        if out=$(dockerd --validate --config-file "$target" 2>&1); then echo "validate=ok"
        else echo "validate=$(echo "$out" | grep -v '^$' | tail -n 1 | cut -c 1-300)"; fi
    fi
fi
true
