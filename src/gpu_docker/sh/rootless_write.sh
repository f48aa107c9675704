#!/bin/sh
# Run as the rootless docker's user: atomically replace their daemon.json with new bytes,
# keeping its mode (0644 for a new file); the old bytes go to <target><backup> (0600, its
# mode in <target><backup>.mode), or an
# <target><backup>.absent marker when there was no file.
# Args: base64-content target backup-suffix
data=$1 target=$2 backup=$3
dir=$(dirname -- "$target")
tmp="$dir/.$(basename -- "$target").gpu-docker.tmp"
mkdir -p -- "$dir" || exit 1
if ! printf '%s' "$data" | base64 -d > "$tmp"; then
    rm -f -- "$tmp"; printf 'gpu-docker: %s\n' "could not write $tmp; $target left untouched" >&2; exit 1
fi
if [ -e "$target" ]; then
    # The mode goes beside the backup (.mode), so a rollback puts it back too.
    mode=$(stat -c %a -- "$target") && chmod "$mode" "$tmp" && echo "$mode" > "$target$backup.mode" \
        && cp -p -- "$target" "$tmp.bak" && chmod 0600 "$tmp.bak" && mv -f -- "$tmp.bak" "$target$backup"
else
    chmod 0644 "$tmp" && : > "$target$backup.absent" && chmod 0600 "$target$backup.absent"
fi || { rm -f -- "$tmp" "$tmp.bak" "$target$backup.mode"; printf 'gpu-docker: %s\n' "could not back up $target" >&2; exit 1; }
mv -f -- "$tmp" "$target"
