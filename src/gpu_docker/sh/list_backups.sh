#!/bin/sh
# daemon.json's resolved path and the gpu-docker backups beside it.
# Args: daemon.json-path
p=$1
t=$(readlink -f -- "$p" 2>/dev/null) || t=$p
echo "target=${t:-$p}"
for f in "${t:-$p}".gpu-docker-*.bak "${t:-$p}".gpu-docker-*.bak.absent; do
    [ -e "$f" ] && echo "backup=$f"
done
true
