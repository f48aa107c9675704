#!/bin/sh
# A rootless user's daemon.json backups, read as them (root must not follow a link they
# made): the resolved path, then each backup's path and bytes (none for an .absent marker).
# Args: daemon.json-path (absolute, in their home)
p=$1
t=$(readlink -f -- "$p" 2>/dev/null) || t=$p
echo "target=${t:-$p}"
for f in "${t:-$p}".gpu-docker-*.bak "${t:-$p}".gpu-docker-*.bak.absent; do
    [ -f "$f" ] || continue
    echo "backup=$f"
    case $f in *.absent) echo "b64=" ;; *) echo "b64=$(base64 -w0 < "$f")" ;; esac
done
true
