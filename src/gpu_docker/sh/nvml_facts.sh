#!/bin/sh
# docker's cgroup driver, and how many NVIDIA device nodes lack their /dev/char link.
# No args.
# libs: docker
if command -v docker >/dev/null 2>&1; then
    docker_info
    echo "cgroup_driver=$(info_text CgroupDriver)"
fi
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
