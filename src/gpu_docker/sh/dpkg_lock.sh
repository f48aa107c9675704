#!/bin/sh
# Wait until no other process holds dpkg's or apt's locks (unattended-upgrades at boot is
# the usual holder), up to a timeout; then fail naming the holder's pid and command.
# The locks are fcntl locks: /proc/locks lists them with the holder's pid and the inode.
# Args: timeout-seconds
timeout=$1
holder() {
    for f in /var/lib/dpkg/lock-frontend /var/lib/dpkg/lock /var/lib/apt/lists/lock \
        /var/cache/apt/archives/lock; do
        [ -e "$f" ] || continue
        inode=$(stat -c %i "$f") || continue
        awk -v inode="$inode" -v self="$$" \
            '{ n = split($6, dev, ":") } n == 3 && dev[3] == inode && $5 != self && $5 > 0 { print $5; exit }' \
            /proc/locks
    done | head -n 1
}
waited=0
while pid=$(holder) && [ -n "$pid" ]; do
    if [ "$waited" -ge "$timeout" ]; then
        cmd=$(tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | cut -c 1-200)
        printf 'gpu-docker: %s\n' "dpkg/apt lock still held after ${timeout}s by pid $pid (${cmd% }); nothing installed, try again when it is done (dpkg_lock_timeout)" >&2
        exit 1
    fi
    [ "$waited" -eq 0 ] && printf '%s\n' "waiting for the dpkg/apt lock held by pid $pid" >&2
    sleep 1
    waited=$((waited + 1))
done
exit 0
