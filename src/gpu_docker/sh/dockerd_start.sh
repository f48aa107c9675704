#!/bin/sh
# Will dockerd start again with the current daemon.json? The running dockerd's own
# arguments (one arg= line each), when it started and when daemon.json last changed
# (epoch seconds with their fraction), when gpu-docker last reloaded this dockerd (its
# stamp, same pid only), and, where dockerd has --validate and the file changed since
# dockerd started (or dockerd is not running), what dockerd says of the file as it is now
# (dockerd_check: its --validate, or an unprivileged load where it has none).
# Args: daemon.json-path validate(0/1/auto: whether dockerd --help lists --validate, asked
# only when it would run) reload-stamp
# libs: dockerd
#
# Sub-second times: a converge writes daemon.json and restarts docker within one second,
# so whole seconds would call every converged file changed and run dockerd (80 MB) on each
# no-op. dockerd's start is now - uptime + its start in clock ticks after boot (the same
# as lib_dockerd.sh), which can be off by a tick or two (uptime's 10 ms, the moments the
# clock and uptime are read): a file changed less than MARGIN seconds before that start
# still counts as changed, so a needed --validate is never skipped.
conf=$1 validate=$2 stamp=$3
margin=0.05
target=$(readlink -f -- "$conf" 2>/dev/null) || target=$conf
pid=$(system_dockerd 2>/dev/null)
started=0
if [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ]; then
    tr '\0' '\n' < "/proc/$pid/cmdline" | tail -n +2 | sed 's/^/arg=/'
    # Field 22 of stat, counted after the command name (field 2, which may hold spaces).
    started=$(awk -v n="$(date +%s.%N)" -v t="$(getconf CLK_TCK)" '
        FILENAME == "/proc/uptime" { u = $1; next }
        { sub(/.*\) /, ""); s = $20 }
        END { printf "%.3f\n", n - u + s / t }' /proc/uptime "/proc/$pid/stat")
    echo "started=$started"
    if read -r spid stime 2>/dev/null < "$stamp" && [ "$spid" = "$pid" ]; then
        echo "reloaded=$stime"
    fi
fi
if [ -f "$target" ]; then
    changed=$(find "$target" -maxdepth 0 -printf '%T@')
    echo "changed=$changed"
    # Changed since dockerd started (within the margin), or no dockerd to compare with.
    if [ -z "$pid" ] || awk -v c="$changed" -v s="$started" -v m="$margin" \
        'BEGIN { exit !(c + 0 >= s - m) }'; then
        if [ "$validate" = auto ]; then
            dockerd --help 2>&1 | grep -q -- '--validate' && validate=1
        fi
        # Checked as a gpu-docker restart loads it: the merge drops a UTF-8 BOM and writes
        # an object for an empty or blank file (dockerd 23+ reads both as {}; 20.10 refuses
        # them with "EOF" or "invalid character"), in a private copy (the file may be 0600).
        check=$target copy=""
        bom=$(head -c 3 "$target" | od -An -tx1 | tr -d ' \n')
        if [ "$bom" = efbbbf ] || ! grep -q '[^[:space:]]' "$target"; then
            copy=$(umask 077 && mktemp /tmp/gpu-docker-daemon-json.XXXXXX) || copy=""
        fi
        if [ -n "$copy" ]; then
            if [ "$bom" = efbbbf ]; then tail -c +4 "$target"; else cat "$target"; fi > "$copy"
            grep -q '[^[:space:]]' "$copy" || echo '{}' > "$copy"
            check=$copy
        fi
        echo "validate=$(dockerd_check "$check" "$validate")"
        [ -z "$copy" ] || rm -f "$copy"
    fi
fi
true
