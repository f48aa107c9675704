#!/bin/sh
# Put a daemon.json backup back byte for byte, with the mode and owner it had (kept in
# <backup>.mode), keeping the file it replaces (and its mode).
# Args: target backup keep-path
target=$1 backup=$2 keep=$3
if [ -e "$target" ]; then
    stat -L -c '%a %u:%g' -- "$target" > "$keep.mode" \
        && cp -p -- "$target" "$keep.part" && chmod 0600 "$keep.part" && mv -f -- "$keep.part" "$keep"
else
    : > "$keep.absent" && chmod 0600 "$keep.absent"
fi || { printf 'gpu-docker: %s\n' "could not keep a copy of $target; nothing restored" >&2; exit 1; }
case $backup in
    *.absent) rm -f -- "$target" ;;
    *) mode="644 root:root"  # a backup from before modes were kept beside it
        [ -f "$backup.mode" ] && mode=$(cat -- "$backup.mode")
        cp -- "$backup" "$target.restore" && chown "${mode#* }" "$target.restore" \
            && chmod "${mode%% *}" "$target.restore" && mv -f -- "$target.restore" "$target" ;;
esac
