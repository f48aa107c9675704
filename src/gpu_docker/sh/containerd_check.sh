#!/bin/sh
# Let containerd itself read a candidate config before it replaces the real one, and
# confirm in what it would run (`config dump`: the candidate with every file it imports
# merged in) that CRI's runtime entry is the one merged: an imported drop-in whose CRI
# section replaces the candidate's (containerd before 2.1) would shadow the edit. A
# candidate containerd rejects, or whose runtime does not take effect, is removed and the
# real config is left as it was.
# Args: candidate target runtime-name binary-name set-default(1/0) enable-cdi(1/0)
tmp=$1 target=$2 name=$3 binary=$4 default=$5 cdi=$6
refuse() {
    rm -f -- "$tmp"
    printf 'gpu-docker: %s\n' "$1; $target left untouched" >&2
    exit 1
}
err=$(mktemp) || refuse "cannot make a temporary file to check the merged $target"
if ! dump=$(containerd --config "$tmp" config dump 2>"$err"); then
    out=$(tail -n 1 "$err" | cut -c 1-300)
    rm -f -- "$err"
    refuse "containerd rejected the merged $target ($out)"
fi
rm -f -- "$err"
# A value of the dump: its table (as the header names it) and key.
dumped() {
    printf '%s\n' "$dump" | awk -v sec="$1" -v key="$2" '
        /^[[:space:]]*\[/ { s = $0; gsub(/^[[:space:]]*\[|\][[:space:]]*$/, "", s); next }
        s == sec { l = $0; sub(/^[[:space:]]*/, "", l)
                   if (index(l, key " = ") == 1) { print substr(l, length(key) + 4); exit } }'
}
case $(dumped "" version) in
    3) plugin='plugins."io.containerd.cri.v1.runtime"' ;;
    *) plugin='plugins."io.containerd.grpc.v1.cri"' ;;
esac
entry="$plugin.containerd.runtimes.$name"
type=$(dumped "$entry" runtime_type)
bin=$(dumped "$entry.options" BinaryName)
imports=$(dumped "" imports)
why=""
case $type in
    \"io.containerd.runc.*) ;;
    *) why="runtime_type is ${type:-missing}" ;;
esac
[ "$bin" = "\"$binary\"" ] || why="${why:+$why, }options.BinaryName is ${bin:-missing}"
if [ "$default" = 1 ] && [ "$(dumped "$plugin.containerd" default_runtime_name)" != "\"$name\"" ]; then
    why="${why:+$why, }default_runtime_name is not \"$name\""
fi
if [ "$cdi" = 1 ] && [ "$(dumped "$plugin" enable_cdi)" != true ]; then
    why="${why:+$why, }enable_cdi is not true"
fi
if [ -n "$why" ]; then
    refuse "containerd config dump of the merged $target does not run the $name runtime as merged ($why)${imports:+; it imports $imports, whose CRI section wins}"
fi
