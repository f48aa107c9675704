#!/bin/sh
# A file's resolved path, its mode, owner and group, and its exact bytes in base64
# (none if absent), and whether its directory exists (a write then needs no mkdir first).
# Args: path
p=$1
t=$(readlink -f -- "$p" 2>/dev/null) || t=$p
echo "target=${t:-$p}"
[ -d "${t%/*}" ] && echo "parent=1"
if [ -f "$t" ]; then
    echo "meta=$(stat -c '%a %U %G' -- "$t")"
    echo "b64=$(base64 -w0 < "$t")"
fi
true
