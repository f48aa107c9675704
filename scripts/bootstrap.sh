#!/usr/bin/env bash
# Set up a fresh Debian/Ubuntu machine (as root) for gpu-docker: system packages the
# sandbox lab needs, then a virtualenv in .venv with the project and its test tools.
# Safe to run again: every step is skipped or quick when already done.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
    debootstrap     # the lab's Debian rootfs
    apt-utils       # apt-ftparchive: the lab's signed apt repository
    dpkg-dev        # dpkg-deb: stand-in test-fixture packages
    gnupg           # the lab's repository key
    iproute2        # network namespaces, veth, bridges
    util-linux      # unshare, nsenter, mount
    openssh-client  # ssh-keygen for the lab's keys
    nftables        # keeps restricted hosts away from the lab repository
    shellcheck      # lints the shell gpu-docker runs on hosts
    systemd-container  # systemd-nspawn: lab hosts whose PID 1 is systemd
    openssl         # the lab's sudo password hash
    python3-venv
    ca-certificates
)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null | grep -q '^ii' || missing+=("$p")
done
if ((${#missing[@]})); then
    # Some machines list third-party sources they cannot reach: not fatal for us.
    apt-get update -qq || true
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
.venv/bin/pip install -q --upgrade pip
.venv/bin/pip install -q -e '.[test]'
