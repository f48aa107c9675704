#!/bin/sh
# docker's cgroup driver, and how many NVIDIA device nodes lack their /dev/char link.
# No args.
command -v docker >/dev/null 2>&1 \
    && echo "cgroup_driver=$(timeout 10 docker info --format '{{.CgroupDriver}}' 2>/dev/null)"
nodes=0 missing=0
for d in /dev/nvidia*; do
    [ -c "$d" ] || continue
    nodes=$((nodes + 1))
    # stat prints major and minor in hex; /dev/char names them in decimal.
    link="/dev/char/$(printf '%d:%d' "0x$(stat -c %t "$d")" "0x$(stat -c %T "$d")")"
    [ -e "$link" ] || missing=$((missing + 1))
done
echo "nodes=$nodes"
echo "missing=$missing"
