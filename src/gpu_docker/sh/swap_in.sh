#!/bin/sh
# Atomically replace a config file (daemon.json, a config.toml) with an uploaded temp file,
# backing up the old one (its bytes, and its mode and owner in <backup>.mode).
# The new file is owned by root and never looser than the one it replaces: its mode is
# the old mode less any execute bit and any write bit for group or others (an operator's
# 0600 file, which may hold registry or proxy credentials, stays 0600; a 0666 one becomes
# 0644), its group kept where root owned the old file. A new file is 0644 root:root.
# Args: temp target backup-path
tmp=$1 target=$2 backup=$3
mode=0644 group=root
if meta=$(stat -L -c '%a %u %g' -- "$target" 2>/dev/null); then
    read -r old_mode old_uid old_gid <<EOF
$meta
EOF
    mode=$(printf '%o' $(( 0$old_mode & 0644 )))
    [ "$old_uid" = 0 ] && group=$old_gid
fi
if ! { chown "root:$group" "$tmp" && chmod "$mode" "$tmp"; }; then rm -f "$tmp"; exit 1; fi
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
