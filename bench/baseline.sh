#!/usr/bin/env bash
# The manual procedure operators run today (the wiki page), as a script: host by host over
# ssh, one host after the other.
#
#   online hosts:     fetch the repository key, gpg --dearmor it, write the source list,
#                     apt-get update, apt-get install the four packages at the pinned version
#   restricted hosts: scp the offline bundle's .debs, dpkg -i them in the manifest's order
#   every host:       add the nvidia runtime to daemon.json (python3 one-liner: the wiki's
#                     `nvidia-ctk runtime configure` does the same edit), service docker
#                     restart, wait until docker answers again
#
# usage: baseline.sh HOSTS_FILE      (one "ADDRESS online|restricted" per line)
# environment: SSH_KEY KNOWN_HOSTS (the lab's), KEY_URL REPO_URL VERSION (online),
#              DEBS (restricted: the bundle's .deb paths, space separated, in install order)
set -euo pipefail

hosts_file=$1
ssh_opts=(-i "$SSH_KEY" -o "UserKnownHostsFile=$KNOWN_HOSTS" -o GlobalKnownHostsFile=/dev/null
    -o StrictHostKeyChecking=yes -o BatchMode=yes -o ConnectTimeout=10)
read -r -a debs <<<"${DEBS:-}"

# $1 = key url, $2 = repository url, $3 = deb version
# shellcheck disable=SC2016  # expanded on the host, not here
online_install='
set -e
keyring=/usr/share/keyrings/nvidia-container-toolkit-keyring.gpg
curl -fsSL "$1" | gpg --batch --yes --dearmor -o "$keyring"
echo "deb [signed-by=$keyring] $2 /" > /etc/apt/sources.list.d/nvidia-container-toolkit.list
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
    "libnvidia-container1=$3" "libnvidia-container-tools=$3" \
    "nvidia-container-toolkit-base=$3" "nvidia-container-toolkit=$3" >/dev/null
'

# $@ = the uploaded .deb file names, in install order
offline_install='
set -e
cd /tmp
DEBIAN_FRONTEND=noninteractive dpkg -i "$@" >/dev/null
'

# shellcheck disable=SC2016  # expanded on the host, not here
configure_docker='
set -e
python3 -c "
import json, os
p = \"/etc/docker/daemon.json\"
d = json.load(open(p)) if os.path.exists(p) and os.path.getsize(p) else {}
d.setdefault(\"runtimes\", {})[\"nvidia\"] = {\"path\": \"nvidia-container-runtime\", \"args\": []}
json.dump(d, open(p, \"w\"), indent=4)
"
service docker restart >/dev/null
for _ in $(seq 150); do docker info >/dev/null 2>&1 && exit 0; sleep 0.2; done
echo "docker did not come back" >&2
exit 1
'

while read -r address group; do
    [ -n "$address" ] || continue
    if [ "$group" = online ]; then
        ssh -n "${ssh_opts[@]}" "root@$address" \
            "sh -c $(printf '%q' "$online_install$configure_docker") baseline $(printf '%q ' "$KEY_URL" "$REPO_URL" "$VERSION")"
    else
        scp -q "${ssh_opts[@]}" "${debs[@]}" "root@$address:/tmp/" </dev/null
        names=()
        for deb in "${debs[@]}"; do names+=("$(basename "$deb")"); done
        ssh -n "${ssh_opts[@]}" "root@$address" \
            "sh -c $(printf '%q' "$offline_install$configure_docker") baseline $(printf '%q ' "${names[@]}")"
    fi
    echo "$address ($group) done"
done <"$hosts_file"
