#!/bin/sh
# daemon.json's links left by an interrupted legacy purge (sh/legacy_purge.sh), each with
# its inode, and daemon.json's own inode when it exists: equal inodes mean the link still
# is daemon.json itself. A symlink's own inode, as `ln -P` linked the symlink.
# Args: daemon.json-path
p=$1
exists() { [ -e "$1" ] || [ -L "$1" ]; }
exists "$p" && echo "present=$(stat -c '%d:%i' -- "$p")"
for f in "$p".gpu-docker-*.keep; do
    exists "$f" && echo "keep=$(stat -c '%d:%i' -- "$f") $f"
done
true
