#!/bin/sh
# Atomically replace daemon.json with an uploaded temp file, backing up the old one
# (its bytes, and its mode and owner in <backup>.mode).
# Args: temp target backup-path
tmp=$1 target=$2 backup=$3
if ! { chown root:root "$tmp" && chmod 0644 "$tmp"; }; then rm -f "$tmp"; exit 1; fi
if [ -e "$target" ]; then
    # The backup is 0600 root (it may hold secrets); the mode and owner it had go beside it,
    # so that a rollback puts them back too.
    stat -L -c '%a %u:%g' -- "$target" > "$backup.mode" \
        && cp -p -- "$target" "$backup.part" && chown root:root "$backup.part" && chmod 0600 "$backup.part" \
        && mv -f -- "$backup.part" "$backup"
else
    : > "$backup.absent" && chmod 0600 "$backup.absent"
fi || { rm -f "$tmp" "$backup.part" "$backup.mode"; printf 'gpu-docker: %s\n' "could not back up $target" >&2; exit 1; }
mv -f -- "$tmp" "$target"
