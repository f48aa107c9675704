#!/bin/sh
# Primary key fingerprints in a keyring file, as fpr=... lines (nothing if absent).
# Args: keyring-path
[ -e "$1" ] || exit 0
home=$(mktemp -d)
GNUPGHOME=$home gpg --batch --show-keys --with-colons "$1" 2>/dev/null \
    | awk -F: '$1 == "pub" { primary = 1; next } $1 == "fpr" && primary { print "fpr=" $10; primary = 0 }'
rm -rf "$home"
