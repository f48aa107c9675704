#!/bin/sh
# Purge NVIDIA's superseded packages (nvidia-docker2, nvidia-container-runtime) without
# losing daemon.json. nvidia-docker2 before 2.14.0 registered /etc/docker/daemon.json as
# its conffile, and dpkg deletes a package's conffiles when it is purged (now, or later
# for a package only removed). A hard link keeps the file (same inode: bytes, mode, owner;
# a symlink is linked itself) across the purge and is renamed back into place after it,
# so the file is then no package's (a run that dies in between leaves the link, and the
# next converge renames it back: dpkg.restore_kept). The toolkit packages are marked
# manually installed: apt may have installed them as the legacy package's dependencies,
# and autoremove would take them with it.
# Args: daemon.json-path keep-suffix "toolkit packages" legacy-packages...
conf=$1 keep=$2 toolkit=$3
shift 3
say() { printf 'gpu-docker: %s\n' "$*" >&2; }
exists() { [ -e "$1" ] || [ -L "$1" ]; }
inode() { stat -c '%d:%i' -- "$1" 2>/dev/null; }
if exists "$conf" && ! ln -P -- "$conf" "$conf$keep"; then
    say "could not keep $conf aside (ln failed) before purging $*: nothing purged"
    exit 1
fi
out=$(DEBIAN_FRONTEND=noninteractive dpkg --purge --force-remove-reinstreq "$@" 2>&1)
rc=$?
if exists "$conf$keep"; then
    if exists "$conf" && [ "$(inode "$conf")" = "$(inode "$conf$keep")" ]; then rm -f -- "$conf$keep"
    else mv -f -- "$conf$keep" "$conf"; fi
fi
if [ "$rc" -ne 0 ]; then
    say "dpkg --purge $* failed: $(printf '%s\n' "$out" | grep -v '^$' | tail -n 1); $conf kept"
    exit 1
fi
# shellcheck disable=SC2086  # one package name per word
installed=$(dpkg-query -W -f='${Package} ${db:Status-Abbrev}\n' $toolkit 2>/dev/null \
    | awk '$2 == "ii" { print $1 }')
# shellcheck disable=SC2086
[ -z "$installed" ] || apt-mark manual $installed >/dev/null
