#!/bin/sh
# A rootless docker user's state, their files read as them (root must not follow a link
# they made): uid, home, daemon.json's resolved path, mode and bytes, and whether their
# systemd manager and their docker.service run.
# Args: user daemon.json-path-relative-to-home
user=$1 rel=$2
entry=$(getent passwd "$user") || exit 0
uid=$(echo "$entry" | cut -d: -f3)
home=$(echo "$entry" | cut -d: -f6)
echo "uid=$uid"
echo "home=$home"
bus=/run/user/$uid/systemd/private
# shellcheck disable=SC2016
runuser -u "$user" -- env HOME="$home" sh -c '
    t=$(readlink -f -- "$1" 2>/dev/null) || t=$1
    echo "target=${t:-$1}"
    if [ -f "$t" ]; then echo "mode=$(stat -c %a -- "$t")"; echo "b64=$(base64 -w0 < "$t")"; fi
' gpu-docker "$home/$rel"
if [ -S "$bus" ]; then
    echo "manager=1"
    echo "unit=$(runuser -u "$user" -- env XDG_RUNTIME_DIR="/run/user/$uid" \
        systemctl --user is-active docker.service 2>/dev/null)"
fi
true
