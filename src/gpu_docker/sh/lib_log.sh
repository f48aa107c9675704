#!/bin/sh
# Library (functions only, prepended to a script): what a service logged since an action,
# so that a failure from an earlier day is never quoted as this action's cause.
# log_mark FILE: note where the service's log stands before the action: the time (for the
# journal) and the size of FILE (its log without systemd).
log_mark() {
    log_since=$(date '+%Y-%m-%d %H:%M:%S')
    log_size=$(stat -c %s "$1" 2>/dev/null) || log_size=0
}
# log_read INIT UNIT FILE: (up to 30 of) the lines the service wrote since log_mark: the
# journal of UNIT from that second under systemd (the service's own lines, not systemd's),
# FILE past its size then otherwise (all of it if it was rotated since).
log_read() {
    if [ "$1" = systemd ]; then
        journalctl _SYSTEMD_UNIT="$2" --since "${log_since:?log_mark first}" -n 30 \
            --no-pager -o cat 2>/dev/null
    else
        size=$(stat -c %s "$3" 2>/dev/null) || return 0
        [ "$size" -ge "${log_size:?log_mark first}" ] || log_size=0
        tail -c +"$((log_size + 1))" "$3" | tail -n 30
    fi
}
