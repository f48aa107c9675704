#!/bin/sh
# Put a backup (daemon.json, a config.toml, a rootless user's daemon.json) back byte for
# byte, with the mode and owner it had (kept in <backup>.mode), keeping the file it
# replaces (and its mode).
# Args: target backup keep-path [fallback-mode-and-owner: for a backup without .mode]
# A .mode of only a mode (a rootless user's file, restored as that user) sets no owner.
# libs: backup
target=$1 backup=$2 keep=$3 fallback=${4:-644 root:root}
if [ -e "$target" ]; then
    stat -L -c '%a %u:%g' -- "$target" > "$keep.mode" \
        && cp -p -- "$target" "$keep.part" && chmod 0600 "$keep.part" && mv -f -- "$keep.part" "$keep"
else
    : > "$keep.absent" && chmod 0600 "$keep.absent"
fi || { printf 'gpu-docker: %s\n' "could not keep a copy of $target; nothing restored" >&2; exit 1; }
# A failed put_back (a full disk) leaves the target as it was and no partial file: its
# words go to stderr, as the tool's own did.
said=$(put_back "$target" "${backup%.absent}" "$fallback")
rc=$?
case $said in failed:*) printf '%s\n' "${said#failed: }" >&2 ;; esac
exit "$rc"
