#!/bin/sh
# containerd on this host: its version, how it is started, its config file's bytes, the
# effective config (`containerd config dump`: config.toml with every file it imports merged
# in) and the bytes of each imported file, as containerd resolved them.
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
if command -v containerd >/dev/null 2>&1 && dump=$(containerd --config "$p" config dump 2>/dev/null); then
    echo "dump=$(printf '%s\n' "$dump" | base64 -w0)"
    # The dump lists the imported files (resolved, absolute) on one line.
    printf '%s\n' "$dump" | sed -n 's/^imports = \[\(.*\)\]$/\1/p' | tr ',' '\n' \
        | sed 's/^ *"//; s/" *$//' | while IFS= read -r f; do
            if [ -n "$f" ] && [ "$f" != "$t" ] && [ "$f" != "$p" ] && [ -f "$f" ]; then
                echo "import=$(printf '%s' "$f" | base64 -w0):$(base64 -w0 < "$f")"
            fi
        done
fi
true
