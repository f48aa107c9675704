#!/bin/sh
# Library (functions only, prepended to a script): can the running dockerd serve --gpus?
# dockerd registers the --gpus device driver only when its process starts with
# nvidia-container-runtime-hook on its PATH; a SIGHUP never does. dockerd_gpus prints the
# dockerd pid, its start (clock ticks after boot, with the clock to convert it), the PATH
# it started with, and the first hook on that PATH with its ctime: Python compares them.
# Needs lib_docker.sh. Within a read exporting GPU_DOCKER_MEMO (see there), the
# second fact to ask gets the first one's answer.
dockerd_gpus() {
    if memo_has dockerd_gpus; then
        cat "$GPU_DOCKER_MEMO/dockerd_gpus"
    elif [ -n "${GPU_DOCKER_MEMO:-}" ]; then
        memo_put dockerd_gpus "$(read_dockerd_gpus)" 0
        cat "$GPU_DOCKER_MEMO/dockerd_gpus"
    else
        read_dockerd_gpus
    fi
}
read_dockerd_gpus() {
    pid=$(cat /var/run/docker.pid 2>/dev/null)
    { [ -n "$pid" ] && [ -r "/proc/$pid/stat" ]; } || pid=$(pidof -s dockerd 2>/dev/null)
    [ -n "$pid" ] || return 0
    echo "dockerd_pid=$pid"
    # Field 22 of stat; the command name (field 2) is cut first, it may hold spaces.
    echo "dockerd_start_ticks=$(sed 's/.*) //' "/proc/$pid/stat" | cut -d' ' -f20)"
    echo "clk_tck=$(getconf CLK_TCK)"
    echo "clock=$(date +%s.%N) $(cut -d' ' -f1 /proc/uptime)"
    path=$(tr '\0' '\n' < "/proc/$pid/environ" 2>/dev/null | sed -n 's/^PATH=//p')
    echo "dockerd_path=$path"
    hook_ctime=""
    for d in $(printf '%s' "$path" | tr ':' ' '); do
        if [ -x "$d/nvidia-container-runtime-hook" ]; then
            hook_ctime=$(find "$d/nvidia-container-runtime-hook" -maxdepth 0 -printf '%C@')
            echo "hook=$d/nvidia-container-runtime-hook"
            echo "hook_ctime=$hook_ctime"
            break
        fi
    done
    # A hook newer than dockerd may only have been upgraded in place (the driver stays
    # registered): where a probe image exists, ask dockerd itself with --gpus.
    probe_images
    probe=$(printf '%s\n' "${probe_images:-}" | head -n1)
    static=/sbin/ldconfig
    [ -f /sbin/ldconfig.real ] && static=/sbin/ldconfig.real
    if [ -n "$hook_ctime" ] && [ -n "$probe" ] && awk -v c="$hook_ctime" \
        -v s="$(sed 's/.*) //' "/proc/$pid/stat" | cut -d' ' -f20)" -v t="$(getconf CLK_TCK)" \
        -v u="$(cut -d' ' -f1 /proc/uptime)" -v n="$(date +%s.%N)" 'BEGIN { exit !(c >= n - u + s / t) }'
    then
        out=$(timeout 120 docker run --rm --network none --pull never --gpus all "$probe" "$static" --version 2>&1)
        echo "gpus_probe_rc=$?"
        echo "gpus_probe=$(printf '%s' "$out" | grep -m1 -i 'error' )"
    fi
    if docker_info; then
        echo "daemon_runtimes=$(info_value Runtimes)"
    else
        echo "docker_error=$(info_error)"
    fi
}
# system_dockerd: the pid of the system's dockerd, never a rootless user's (a host may run
# both): the one /var/run/docker.pid names while it is a live dockerd, else the oldest
# dockerd running as root. Prints nothing and fails when there is none.
system_dockerd() {
    sd_pid=$(cat /var/run/docker.pid 2>/dev/null)
    if [ -n "$sd_pid" ] && [ "$(cat "/proc/$sd_pid/comm" 2>/dev/null)" = dockerd ]; then
        echo "$sd_pid"
    else
        pgrep -o -u 0 -x dockerd
    fi
}
# dockerd_check FILE VALIDATE(1/0): would this host's dockerd load FILE at its next start?
# Prints "ok", dockerd's refusal (its last line, naming FILE), or "unknown: WHY" when it
# could not tell. VALIDATE=1: dockerd has --validate (Docker 23+). Older ones (20.10) are
# asked by loading FILE as the unprivileged uid 65534: dockerd reads and checks its whole
# configuration (unknown keys, value types, its own rules) before anything else, then
# stops with "needs to be started with root privileges" before it creates a file, binds a
# socket or starts containerd; as uid 65534 it could not touch the running docker's state
# anyway. FILE (it may be 0600) is opened here and reaches dockerd through a pipe that
# uid 65534's shell makes (dockerd reopens /dev/stdin: a pipe made as root is root's 0600),
# so nothing is written. Seen on 20.10.24: "needs to be started with root privileges" after
# "Starting up" for a good file; "unable to configure the Docker daemon with file
# /dev/stdin: the following directives don't match any configuration option: bogus".
dockerd_check() {
    if [ "$2" = 1 ]; then
        if dc_out=$(dockerd --validate --config-file "$1" 2>&1); then echo ok; return 0; fi
    else
        # shellcheck disable=SC2016 # $0 is the inner shell's
        dc_out=$(timeout 30 chroot --userspec=65534:65534 --groups=65534 / \
            sh -c 'cat | "$0" --config-file /dev/stdin' dockerd < "$1" 2>&1)
        dc_rc=$?
        case $dc_out in *"needs to be started with root"*) echo ok; return 0 ;; esac
        # dockerd exits 1 with its refusal and nothing logged: "Starting up" comes after
        # the configuration is loaded. Anything else (chroot's or timeout's own status, a
        # dockerd that got further) says nothing about the file.
        case $dc_out in *"Starting up"*) dc_rc=started ;; esac
        if [ "$dc_rc" != 1 ] || [ -z "$dc_out" ]; then
            echo "unknown: $(printf '%s\n' "$dc_out" | grep -v '^$' | tail -n 1 | cut -c 1-200)"
            return 0
        fi
        dc_out=$(printf '%s\n' "$dc_out" | DC_FILE=$1 awk '{
            out = ""
            while ((i = index($0, "/dev/stdin")) > 0) {
                out = out substr($0, 1, i - 1) ENVIRON["DC_FILE"]; $0 = substr($0, i + 10)
            }
            print out $0
        }')
    fi
    printf '%s\n' "$dc_out" | grep -v '^$' | tail -n 1 | cut -c 1-300
}
# dockerd_log INIT: what dockerd logged since ``log_mark /var/log/docker.log`` (lib_log.sh,
# which the script names too).
dockerd_log() { log_read "$1" docker.service /var/log/docker.log; }
