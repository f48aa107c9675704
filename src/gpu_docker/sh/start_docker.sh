#!/bin/sh
# Start docker, which was not running, and wait until it answers; stop waiting as soon as
# the start failed or dockerd exited, and say why in dockerd's words (else the init
# system's).
# Args: init(systemd/sysv) timeout-seconds
# libs: log dockerd
init=$1 timeout=$2
say() { printf 'gpu-docker: %s\n' "$*" >&2; }
reset_failed() { systemctl reset-failed docker.socket; systemctl reset-failed docker.service; }
timeout 10 docker info >/dev/null 2>&1 && exit 0
# dockerd's last complaint in what it logged since this start (under systemd only
# dockerd's own lines), else the last line the init system printed.
why() {
    dockerd_log "$init" | grep -iE 'level=(error|fatal)|unable to|failed' | tail -n 1 | cut -c 1-300
}
log_mark /var/log/docker.log
# A docker.service that failed to start too often is refused by systemd until reset.
# A start that never returns (TimeoutStartSec=infinity) is given up after the timeout (124).
if [ "$init" = systemd ]; then reset_failed >/dev/null 2>&1; out=$(timeout "$timeout" systemctl start docker 2>&1)
else out=$(timeout "$timeout" service docker start 2>&1); fi
rc=$?
i=0 gone=0
# Given up: the timeout is spent, docker gets one last look.
[ "$rc" = 124 ] && i=$((timeout * 5 - 1))
while [ "$i" -lt $((timeout * 5)) ]; do
    timeout 10 docker info >/dev/null 2>&1 && exit 0
    if system_dockerd >/dev/null 2>&1; then gone=0; else gone=$((gone + 1)); fi
    # No dockerd for 3 s after the start returned: it failed or exited; waiting is useless.
    [ "$gone" -ge 15 ] && break
    sleep 0.2; i=$((i + 1))
done
# dockerd's own words first: systemctl's last line only points at the journal ("See
# "systemctl status docker.service" ... for details.").
said=$(echo "$out" | grep -v '^$' | tail -n 1 | cut -c 1-300)
reason=$(why)
[ -n "$reason" ] || reason=$said
if [ "$gone" -ge 15 ]; then
    say "docker was not running and did not start (start exited $rc${reason:+: $reason}); nothing changed"
else
    say "docker was not running and did not answer within ${timeout}s of starting it${reason:+ ($reason)}"
fi
exit 1
