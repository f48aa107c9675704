#!/bin/sh
# Put a daemon.json backup back byte for byte, keeping the file it replaces.
# Args: target backup keep-path
target=$1 backup=$2 keep=$3
if [ -e "$target" ]; then
    cp -p -- "$target" "$keep.part" && chmod 0600 "$keep.part" && mv -f -- "$keep.part" "$keep"
else
    : > "$keep.absent" && chmod 0600 "$keep.absent"
fi || { printf 'gpu-docker: %s\n' "could not keep a copy of $target; nothing restored" >&2; exit 1; }
case $backup in
    *.absent) rm -f -- "$target" ;;
    *) cp -- "$backup" "$target.restore" && chown root:root "$target.restore" \
        && chmod 0644 "$target.restore" && mv -f -- "$target.restore" "$target" ;;
esac
