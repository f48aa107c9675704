#!/bin/sh
# containerd on this host: its version, how it is started, and its config file's bytes.
# Args: config-path
p=$1
if command -v containerd >/dev/null 2>&1; then
    echo "version=$(containerd --version 2>/dev/null | head -n1)"
fi
# How gpu-docker can restart it: a systemd unit, else a sysv init script.
if [ -d /run/systemd/system ] && systemctl cat containerd.service >/dev/null 2>&1; then
    echo "service=systemd"
elif [ -x /etc/init.d/containerd ]; then
    echo "service=initd"
fi
t=$(readlink -f -- "$p" 2>/dev/null) || t=$p
echo "target=${t:-$p}"
if [ -f "$t" ]; then echo "b64=$(base64 -w0 < "$t")"; fi
true
