#!/bin/sh
# gpu-docker lab: let runc create container cgroups (nspawn mounts controllers read-only).
# Installed as /usr/local/sbin/gpu-docker-lab-cgroups, run by gpu-docker-lab-cgroups.service.
# Args: how many remounts a controller gets before the unit fails naming it.
# cgroup v2 only: nspawn delegates the host its own subtree, there is nothing to remount.
max_tries=$1
[ "$(stat -fc %T /sys/fs/cgroup)" = cgroup2fs ] && exit 0
probe=gpu-docker-lab-probe-$(cat /proc/sys/kernel/random/uuid)
status=0
for m in /sys/fs/cgroup/*/; do
    case $m in */systemd/ | */unified/) continue ;; esac
    tries=1
    until mount -o remount,bind,rw "$m" && mkdir "$m$probe" 2>/dev/null && rmdir "$m$probe"; do
        if [ "$tries" -ge "$max_tries" ]; then
            echo "gpu-docker lab: $m still read-only after $tries remounts" >&2
            status=1
            break
        fi
        tries=$((tries + 1))
        sleep 0.1
    done
done
exit $status
