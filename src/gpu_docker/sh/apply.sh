#!/bin/sh
# Make docker pick up a new toolkit or daemon.json: validate, restart or reload, wait
# for the runtime, and roll back to the previous daemon.json if docker does not come back.
# Args: strategy conf backup-suffix runtime timeout init validate(0/1) live-restore(0/1)
#       reload-stamp
# libs: backup log dockerd
strategy=$1 conf=$2 backup=$3 runtime=$4 timeout=$5 init=$6 validate=$7 live=$8 stamp=$9
say() { printf 'gpu-docker: %s\n' "$*" >&2; }
target=$(readlink -f -- "$conf" 2>/dev/null) || target=$conf
# Put back the file this run replaced (the backup carries this run's suffix), with its mode
# and owner; say what it did. No backup of this run: the file is not this run's doing. A
# failed restore (a full disk) leaves the new file in place and says why ($put is failed:*).
restore() {
    put=$(put_back "$target" "$target$backup" "644 root:root")
    case $put in
        restored) restored="previous daemon.json restored" ;;
        removed) restored="new daemon.json removed (there was none before)" ;;
        failed:*) restored="restore failed: ${put#failed: }; the new $target is still in place" ;;
        *) restored="daemon.json was not changed by this run" ;;
    esac
}
# systemd refuses a start after StartLimitBurst failed ones (docker.service restarts a
# dockerd that dies with a bad daemon.json by itself): forget them, or the rollback's
# restart is refused and docker stays down.
reset_failed() { systemctl reset-failed docker.socket; systemctl reset-failed docker.service; }
# What the init system said goes to $initout, for the failure line: an init script that
# fails at once (`ulimit: error setting limit`) never starts dockerd, so its log says nothing.
# A start may never return (docker.service has TimeoutStartSec=infinity): given up after
# the run's timeout (124), so the rollback runs; a later restart replaces the hung job.
control() {
    if [ "$init" = systemd ]; then reset_failed; timeout "$timeout" systemctl "$1" docker
    else timeout "$timeout" service docker "$1"; fi >"$initout" 2>&1
}
# No temporary file (a full /tmp): the run goes on without the init system's words.
if initout=$(mktemp 2>/dev/null); then trap 'rm -f "$initout"' EXIT; else initout=/dev/null; fi
restart() {
    control restart && return 0
    [ $? = 124 ] && return 124
    control start
}
reload() {
    if [ "$init" = systemd ]; then systemctl reload docker; else kill -HUP "$(cat /var/run/docker.pid)"; fi
}
info() { timeout 10 docker info --format "$1" 2>/dev/null; }
answers() { timeout 10 docker info >/dev/null 2>&1; }
# Whether docker info's text ($1) lists the runtime on its "Runtimes:" line; an empty
# runtime name (a rollback) asks only that docker answers.
has_runtime() {
    [ -z "$runtime" ] && return 0
    printf '%s\n' "$1" | awk -v r="$runtime" '
        $1 == "Runtimes:" { for (i = 2; i <= NF; i++) if ($i == r) found = 1 }
        END { exit !found }'
}
# dockerd's last complaint, from what it logged during this run, else the init system's,
# for the one-line failure. Under systemd only dockerd's own lines (_SYSTEMD_UNIT), not
# systemd's "Failed to start".
why() {
    {
        grep -iE 'error|fail|unable|cannot|denied' "$initout"
        dockerd_log "$init" | grep -iE 'level=(error|fatal)|unable to|failed'
    } | tail -n 1 | cut -c 1-300
}
# Wait until docker lists the runtime (0), answers without it for 3 s (2: it read a config
# without it), has no dockerd process for 3 s (3: it exited, no use waiting longer), or
# stays silent past the timeout (1).
# Polled every 0.2 s: a restart is usually done in about a second, and every host waits.
# One plain docker info a poll: its status says whether docker answers (with --format,
# docker 26 exits 0 with no daemon at all), its text which runtimes it lists.
settle() {
    i=0 up=0 gone=0
    while [ "$i" -lt $((timeout * 5)) ]; do
        if said=$(timeout 10 docker info 2>/dev/null); then
            has_runtime "$said" && return 0
            up=$((up + 1)) gone=0
            [ "$up" -ge 15 ] && return 2
        elif system_dockerd >/dev/null 2>&1; then
            gone=0
        else
            gone=$((gone + 1))
            [ "$gone" -ge 15 ] && return 3
        fi
        sleep 0.2
        i=$((i + 1))
    done
    return 1
}
# dockerd's own check of the new file (--validate, or an unprivileged load on Docker < 23);
# one it could not check goes on, the rollback below covers it.
log_mark /var/log/docker.log
if [ -f "$target" ]; then
    checked=$(dockerd_check "$target" "$validate")
    case $checked in
        ok | unknown:*) ;;
        *)
            restore
            [ "$validate" = 1 ] && by="dockerd --validate" || by="dockerd"
            say "$by rejected the new $target: $checked; $restored, docker not restarted"
            exit 1 ;;
    esac
fi
if [ "$strategy" = reload ] && answers; then
    action=reload
    reload
else
    action=restart
    if [ "$live" = 1 ] && answers && [ "$(info '{{.LiveRestoreEnabled}}')" != true ]; then
        # live-restore only spares containers if the running dockerd has it: switch it on live.
        reload
        i=0
        while [ "$i" -lt 10 ] && [ "$(info '{{.LiveRestoreEnabled}}')" != true ]; do sleep 1; i=$((i + 1)); done
        # Still off (docker 20.10 refusing the reload, swarm mode): the restart would stop
        # the containers the preview said keep running. Put the file back and leave docker.
        running=$(info '{{.ContainersRunning}}')
        if [ "$(info '{{.LiveRestoreEnabled}}')" != true ] && [ "${running:-0}" -gt 0 ] 2>/dev/null; then
            restore
            # The refused reload may still have loaded part of the file (20.10: its
            # runtimes): reload again, so dockerd runs the file that is on disk.
            case $put in
                restored) put="$target put back"; reload ;;
                removed) put="new $target removed (there was none before)"; reload ;;
                *) put=$restored ;;
            esac
            [ "$running" = 1 ] && stop="1 container would stop" || stop="$running containers would stop"
            say "live-restore could not be switched on live: $stop; $put, docker not restarted"
            exit 1
        fi
    fi
    restart
    hung=$?
fi
settle
result=$?
# A restart given up after the timeout (124) that left no dockerd did not come back; it
# may still have been on its way (containers stopping), hence the settle all the same.
[ "${hung:-0}" = 124 ] && [ "$result" = 3 ] && result=1
case $result in
    0)
        # A reload loads daemon.json without changing dockerd's start time: note it, so
        # the next run does not call the file unloaded (dockerd_start.sh reads this).
        if [ "$action" = reload ]; then
            mkdir -p "${stamp%/*}" && echo "$(system_dockerd) $(date +%s.%N)" > "$stamp"
        fi
        exit 0 ;;
    2) what="docker answered without runtime $runtime after the $action" ;;
    3) what="dockerd exited after the $action" ;;
    *) what="docker did not come back within ${timeout}s after the $action" ;;
esac
reason=$(why)
restore
if [ "$action" = reload ] && answers; then reload; else restart; fi
i=0
while [ "$i" -lt $((timeout * 5)) ] && ! answers; do sleep 0.2; i=$((i + 1)); done
if [ "${put%%:*}" = failed ]; then
    if answers; then state="docker ${action}ed on it"; else state="docker is down"; fi
    say "$what${reason:+ (dockerd: $reason)}; $restored and $state: check it now"
elif answers; then
    say "$what${reason:+ (dockerd: $reason)}; $restored and docker ${action}ed: it runs as before"
else
    say "$what${reason:+ (dockerd: $reason)}; $restored, but docker is still down: check it now"
fi
exit 1
