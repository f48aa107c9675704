#!/bin/sh
# Make a running containerd read its new config: restart it, wait until it answers, and
# put the previous config back (restarting again) if it does not. Running containers
# survive a containerd restart: their shims keep them.
# Args: conf backup-suffix address timeout service(systemd/initd)
# libs: backup log
conf=$1 backup=$2 address=$3 timeout=$4 service=$5
say() { printf 'gpu-docker: %s\n' "$*" >&2; }
target=$(readlink -f -- "$conf" 2>/dev/null) || target=$conf
answers() {
    if command -v ctr >/dev/null 2>&1; then
        timeout 10 ctr --address "$address" version >/dev/null 2>&1
    else
        [ -S "$address" ]
    fi
}
# Under systemd a containerd that kept failing may have hit its start limit: clear it first.
restart() {
    if [ "$service" = systemd ]; then
        systemctl reset-failed containerd.service; systemctl restart containerd.service
    else /etc/init.d/containerd restart; fi >/dev/null 2>&1
}
# Wait for the socket to answer again, polling every 0.2 s (a restart takes about a second).
settle() {
    i=0
    while [ "$i" -lt $((timeout * 5)) ]; do
        answers && return 0
        sleep 0.2
        i=$((i + 1))
    done
    return 1
}
# containerd's last complaint since the restart (lib_log.sh): its own lines, not systemd's
# "Failed to start containerd.service", and none from an earlier day.
why() {
    log_read "$service" containerd.service /var/log/containerd.log \
        | grep -iE 'level=(error|fatal)|failed' | tail -n 1 | cut -c 1-300
}
if ! answers; then
    echo "containerd is not running: it reads the new $target when it starts"
    exit 0
fi
log_mark /var/log/containerd.log
restart
settle && exit 0
reason=$(why)
# The backup is 0600: the mode and owner the file had are kept beside it (.mode).
case $(put_back "$target" "$target$backup" "644 root:root") in
    restored) restored="previous config restored" ;;
    removed) restored="new config removed (there was none before)" ;;
esac
restart
if settle; then
    say "containerd did not answer on $address within ${timeout}s after the restart${reason:+ (containerd: $reason)}; ${restored:-config left as is} and containerd restarted: it runs as before"
else
    say "containerd did not answer on $address within ${timeout}s after the restart${reason:+ (containerd: $reason)}; ${restored:-config left as is}, but containerd is still down: check it now"
fi
exit 1
