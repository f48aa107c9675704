#!/bin/sh
# Run as the rootless docker's user (XDG_RUNTIME_DIR and DOCKER_HOST set): restart their
# docker.service so it reads daemon.json and the new toolkit, and wait until it lists the
# runtime. dockerd --validate (23+) checks the file first. A rejected file, or a docker
# that does not come back with the runtime, gets the file this run replaced put back
# (when this run replaced one) and docker restarted on it; then the host fails.
# Args: user target backup-suffix runtime timeout
# libs: backup
user=$1 target=$2 backup=$3 runtime=$4 timeout=$5
# The backup is 0600; the mode the file had is kept beside it (.mode).
restore() {
    put=$(put_back "$target" "$target$backup" "$(stat -c %a -- "$target" 2>/dev/null || echo 644)")
    case $put in
        restored) echo " the previous daemon.json is back" ;;
        removed) echo " daemon.json removed again (there was none)" ;;
        failed:*) echo " restore failed: ${put#failed: }; the new $target is still in place" ;;
    esac
}
fail() {
    printf 'gpu-docker: %s\n' "$user's rootless docker: $1" >&2
    exit 1
}
if dockerd --help 2>&1 | grep -q -- '--validate'; then
    if ! why=$(dockerd --validate --config-file "$target" 2>&1); then
        back=$(restore)
        fail "dockerd rejected $target ($(echo "$why" | tail -n1));$back; docker not restarted"
    fi
fi
# An empty runtime (a rollback): docker answering is enough.
listed() {
    runtimes=$(docker info --format '{{json .Runtimes}}' 2>/dev/null) || return 1
    [ -z "$runtime" ] || echo "$runtimes" | grep -q "\"$runtime\""
}
if [ -n "$runtime" ]; then wanted="list the $runtime runtime"; else wanted="answer"; fi
wait_up() {
    i=0
    while [ "$i" -lt "$timeout" ]; do listed && return 0; sleep 1; i=$((i + 1)); done
    return 1
}
systemctl --user reset-failed docker.service 2>/dev/null
# A restart that never returns is given up after the timeout (124): one last look then.
timeout "$timeout" systemctl --user restart docker.service
hung=$?
if { [ "$hung" = 124 ] && ! listed; } || { [ "$hung" != 124 ] && ! wait_up; }; then
    back=$(restore)
    systemctl --user reset-failed docker.service 2>/dev/null
    timeout "$timeout" systemctl --user restart docker.service
    fail "it did not $wanted within ${timeout}s after the restart;$back; docker restarted on it"
fi
echo "$user's rootless docker restarted and does $wanted"
