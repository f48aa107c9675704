#!/bin/sh
# Start docker, which was not running, and wait until it answers.
# Args: init(systemd/sysv) timeout-seconds
init=$1 timeout=$2
reset_failed() { systemctl reset-failed docker.socket; systemctl reset-failed docker.service; }
timeout 10 docker info >/dev/null 2>&1 && exit 0
# A docker.service that failed to start too often is refused by systemd until reset.
if [ "$init" = systemd ]; then reset_failed; systemctl start docker; else service docker start; fi >/dev/null 2>&1
i=0
while [ "$i" -lt $((timeout * 5)) ]; do
    timeout 10 docker info >/dev/null 2>&1 && exit 0
    sleep 0.2; i=$((i + 1))
done
printf 'gpu-docker: %s\n' "docker was not running and did not answer within ${timeout}s of starting it ($(timeout 10 docker info 2>&1 | tail -n1))" >&2
exit 1
