#!/bin/sh
# Write NVIDIA's source once the probe worked: keyring from the stage (if one was fetched),
# then the list file atomically (0644 root). The indexes the probe fetched for this source
# go into apt's lists directory as apt's own update would leave them (each file renamed
# into place), and gpu-docker's refresh stamp is touched: the refresh after a new source
# would fetch the same files again seconds later. A copy that fails (a full disk) fails the
# host naming it, the source written and the stamp untouched: the next run refreshes. The
# stage is removed either way.
# Args: stage keyring-path list-path list-line refresh-stamp
stage=$1 keyring=$2 list=$3 line=$4 stamp=$5
say() { printf 'gpu-docker: %s\n' "$*" >&2; }
trap 'rm -rf "$stage"' EXIT
if [ -f "$stage/keyring" ]; then
    install -D -o root -g root -m 0644 "$stage/keyring" "$keyring" || exit 1
fi
printf '%s\n' "$line" > "$list.gpu-docker.tmp" && chown root:root "$list.gpu-docker.tmp" \
    && chmod 0644 "$list.gpu-docker.tmp" && mv -f -- "$list.gpu-docker.tmp" "$list" || exit 1
lists=
eval "$(apt-config shell lists Dir::State::Lists/d)"
[ -d "$lists" ] || { say "$list written, but apt has no lists directory (${lists:-none})"; exit 1; }
for file in "$stage"/lists/*; do
    [ -f "$file" ] || continue
    name=${file##*/}
    [ "$name" = lock ] && continue
    temp=$lists/.gpu-docker.$name
    if ! { cp -- "$file" "$temp" && chmod 0644 "$temp" && mv -f -T -- "$temp" "$lists/$name"; } \
        2>"$stage/err"; then
        rm -f -- "$temp"
        say "$list written, but the probe's index $name could not be put in $lists: $(tail -n1 "$stage/err")"
        exit 1
    fi
done
mkdir -p "${stamp%/*}" && touch "$stamp"
exit 0
