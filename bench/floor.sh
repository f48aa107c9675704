#!/usr/bin/env bash
# The one-ssh floor: every host at once, one ssh session each, running the whole job as one
# idempotent script (it checks before it acts). What a hand-written parallel script costs,
# with none of gpu-docker's safety (no preflight, preview, validation or rollback).
#
#   every host:       if the four packages are not installed at the version, install them:
#                     online:     key and source list (each only when missing or different),
#                                 apt-get update, apt-get install at the version
#                     restricted: the bundle's .debs arrive as a tar on the session's stdin,
#                                 dpkg -i in the manifest's order
#                     then the nvidia runtime into daemon.json; restart docker and wait for
#                     it only if daemon.json or the packages changed
#   VERIFY=1 also:    the verified fresh floor: in the same session, make the probe image
#                     from the host's glibc unless it is there (as sh/lib_probe.sh does:
#                     docker import of libc6's shared libraries and ldconfig), then run it
#                     with `docker run --rm --network none --pull never --gpus all`, the
#                     container gpu-docker's verification runs
#
# usage: floor.sh HOSTS_FILE      (one "ADDRESS online|restricted" per line)
# environment: as baseline.sh (SSH_KEY KNOWN_HOSTS KEY_URL REPO_URL VERSION DEBS), VERIFY
set -euo pipefail

hosts_file=$1
ssh_opts=(-i "$SSH_KEY" -o "UserKnownHostsFile=$KNOWN_HOSTS" -o GlobalKnownHostsFile=/dev/null
    -o StrictHostKeyChecking=yes -o BatchMode=yes -o ConnectTimeout=10)
read -r -a debs <<<"${DEBS:-}"
names=() tar_args=()
for deb in "${debs[@]}"; do
    names+=("$(basename "$deb")")
    tar_args+=(-C "$(dirname "$deb")" "$(basename "$deb")")
done

# $1 = group, $2 = key url, $3 = repository url, $4 = deb version, $5 = verify (0|1),
# $6... = .deb names
# shellcheck disable=SC2016  # expanded on the host, not here
job='
set -e
group=$1 key_url=$2 repo_url=$3 version=$4 verify=$5
shift 5
changed=0
for p in libnvidia-container1 libnvidia-container-tools nvidia-container-toolkit-base nvidia-container-toolkit; do
    [ "$(dpkg-query -W -f="\${Status} \${Version}" "$p" 2>/dev/null)" = "install ok installed $version" ] || changed=1
done
if [ "$changed" = 1 ] && [ "$group" = online ]; then
    keyring=/usr/share/keyrings/nvidia-container-toolkit-keyring.gpg
    [ -s "$keyring" ] || curl -fsSL "$key_url" | gpg --batch --yes --dearmor -o "$keyring"
    line="deb [signed-by=$keyring] $repo_url /"
    list=/etc/apt/sources.list.d/nvidia-container-toolkit.list
    [ "$(cat "$list" 2>/dev/null)" = "$line" ] || echo "$line" >"$list"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        "libnvidia-container1=$version" "libnvidia-container-tools=$version" \
        "nvidia-container-toolkit-base=$version" "nvidia-container-toolkit=$version" >/dev/null
elif [ "$changed" = 1 ]; then
    dir=$(mktemp -d)
    tar -x -C "$dir"
    cd "$dir"
    DEBIAN_FRONTEND=noninteractive dpkg -i "$@" >/dev/null
    cd /
    rm -rf "$dir"
elif [ "$group" != online ]; then
    cat >/dev/null
fi
python3 -c "
import json, os, sys
p = \"/etc/docker/daemon.json\"
d = json.load(open(p)) if os.path.exists(p) and os.path.getsize(p) else {}
want = {\"path\": \"nvidia-container-runtime\", \"args\": []}
if d.get(\"runtimes\", {}).get(\"nvidia\") == want:
    sys.exit(1)
d.setdefault(\"runtimes\", {})[\"nvidia\"] = want
json.dump(d, open(p, \"w\"), indent=4)
" && changed=1
if [ "$changed" = 1 ]; then
    service docker restart >/dev/null
    up=0
    for _ in $(seq 150); do docker info >/dev/null 2>&1 && { up=1; break; }; sleep 0.2; done
    [ "$up" = 1 ] || { echo "docker did not come back" >&2; exit 1; }
fi
[ "$verify" = 1 ] || exit 0
arch=$(dpkg --print-architecture)
probe=gpu-docker-probe:$(dpkg-query -W -f="\${Version}" "libc6:$arch" | tr -c "A-Za-z0-9_.-" _)
if ! docker image inspect "$probe" >/dev/null 2>&1; then
    { dpkg -L "libc6:$arch" | grep -E "\.so(\.|\$)" | grep -v /gconv/
      echo /sbin/ldconfig; echo /sbin/ldconfig.real; echo /etc/ld.so.conf
      find /etc/ld.so.conf.d -type f; } \
        | while read -r f; do if [ -f "$f" ]; then echo "${f#/}"; fi; done | sort -u \
        | tar -C / -c -h --hard-dereference --no-recursion -T - 2>/dev/null \
        | docker import - "$probe" >/dev/null
fi
static=/sbin/ldconfig
if [ -f /sbin/ldconfig.real ]; then static=/sbin/ldconfig.real; fi
docker run --rm --network none --pull never --gpus all "$probe" "$static" --version >/dev/null
'

one_host() {
    local address=$1 group=$2
    local args=("$group" "$KEY_URL" "$REPO_URL" "$VERSION" "${VERIFY:-0}" "${names[@]}")
    local remote
    remote="sh -c $(printf '%q' "$job") floor $(printf '%q ' "${args[@]}")"
    if [ "$group" = online ]; then
        ssh -n "${ssh_opts[@]}" "root@$address" "$remote"
    else
        # shellcheck disable=SC2029  # $remote is quoted for the host on purpose
        tar -c "${tar_args[@]}" | ssh "${ssh_opts[@]}" "root@$address" "$remote"
    fi
}

pids=()
while read -r address group; do
    [ -n "$address" ] || continue
    one_host "$address" "$group" &
    pids+=($!)
done <"$hosts_file"
failed=0
for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
exit "$failed"
