#!/bin/sh
# Fetch an apt key and install it as a keyring only if its fingerprint is the pinned one.
# Args: url expected-fingerprint keyring-path
url=$1 expected=$2 keyring=$3
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
export GNUPGHOME="$tmp"
if ! curl -fsSL --max-time 30 -o "$tmp/key" -- "$url" 2>"$tmp/err"; then
    printf 'gpu-docker: %s\n' "could not fetch the apt key from $url: $(tail -n1 "$tmp/err")" >&2
    exit 1
fi
fpr=$(gpg --batch --show-keys --with-colons "$tmp/key" 2>/dev/null \
    | awk -F: '$1 == "pub" { p = 1; next } $1 == "fpr" && p { print toupper($10); exit }')
if [ "$fpr" != "$expected" ]; then
    printf 'gpu-docker: %s\n' "the key at $url has fingerprint ${fpr:-none}, expected $expected; nothing installed" >&2
    exit 1
fi
if grep -q -- '-----BEGIN PGP' "$tmp/key"; then
    gpg --batch --dearmor < "$tmp/key" > "$tmp/keyring" || exit 1
else
    cp "$tmp/key" "$tmp/keyring"
fi
install -D -o root -g root -m 0644 "$tmp/keyring" "$keyring"
