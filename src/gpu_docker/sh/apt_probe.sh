#!/bin/sh
# Try NVIDIA's source on its own before anything is written to /etc/apt: the key fetched
# (unless the keyring already holds it) and checked, then `apt-get update` of only this
# source into a scratch lists directory. Success leaves the stage directory (printed as
# stage=...) holding the keyring to install; failure removes it and prints apt's output.
# Args: key-url expected-fingerprint keyring-path repo-url
url=$1 expected=$2 keyring=$3 repo=$4
say() { printf 'gpu-docker: %s\n' "$*" >&2; }
stage=$(mktemp -d /tmp/gpu-docker-apt-probe.XXXXXX) || exit 1
fail() { rm -rf "$stage"; exit 1; }
export GNUPGHOME="$stage/gnupg"
mkdir -m 0700 "$GNUPGHOME" "$stage/lists" "$stage/lists/partial" || fail
fingerprints() {
    gpg --batch --show-keys --with-colons "$1" 2>/dev/null \
        | awk -F: '$1 == "pub" { p = 1; next } $1 == "fpr" && p { print toupper($10); p = 0 }'
}
# The key comes the way apt's files come: through apt's proxy where apt has one (curl
# reads only the environment's proxy, which sudo and ssh sessions rarely carry), for the
# key URL's scheme; DIRECT means none.
scheme=${url%%://*}
proxy=$(apt-config dump 2>/dev/null \
    | sed -n "s/^Acquire::$scheme::Proxy \"\(.*\)\";\$/\1/p" | head -n1)
[ "$proxy" = DIRECT ] && proxy=""
if [ -e "$keyring" ] && fingerprints "$keyring" | grep -qx "$expected"; then
    probe_key=$keyring
else
    if [ -n "$proxy" ]; then
        set -- --proxy "$proxy"
    else
        set --
    fi
    if ! curl -fsSL --max-time 30 "$@" -o "$stage/key" -- "$url" 2>"$stage/err"; then
        say "could not fetch the apt key from $url: $(tail -n1 "$stage/err"); nothing written"
        fail
    fi
    fpr=$(fingerprints "$stage/key" | head -n1)
    if [ "$fpr" != "$expected" ]; then
        say "the key at $url has fingerprint ${fpr:-none}, expected $expected; nothing installed"
        fail
    fi
    if grep -q -- '-----BEGIN PGP' "$stage/key"; then
        gpg --batch --dearmor < "$stage/key" > "$stage/keyring" || fail
    else
        cp "$stage/key" "$stage/keyring" || fail
    fi
    probe_key=$stage/keyring
fi
printf 'deb [signed-by=%s] %s /\n' "$probe_key" "$repo" > "$stage/list"
out=$(apt-get update -q -o Dir::Etc::sourcelist="$stage/list" -o Dir::Etc::sourceparts=- \
    -o Dir::State::Lists="$stage/lists" -o APT::Get::List-Cleanup=0 \
    -o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache= -o APT::Sandbox::User=root 2>&1)
rc=$?
# apt exits 0 on some failed fetches (DNS, connection): only a fetched index is success.
if [ "$rc" -ne 0 ] || echo "$out" | grep -q '^[EW]:' \
    || ! ls "$stage/lists/"*_Packages* >/dev/null 2>&1; then
    echo "probe_failed=1"
    echo "$out"
    fail
fi
echo "stage=$stage"
