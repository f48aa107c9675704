#!/bin/sh
# Generate NVIDIA's CDI spec beside its place and move it in (one rename: a CDI loader
# never sees half a file), then record what it was generated for.
# Args: spec stamp stamp-text
spec=$1 stamp=$2 text=$3
work="$(dirname "$spec")/../.gpu-docker-cdi.tmp"
rm -rf -- "$work" && mkdir -p -- "$work" "$(dirname "$spec")" "$(dirname "$stamp")" || exit 1
if ! out=$(nvidia-ctk cdi generate --output="$work/$(basename "$spec")" 2>&1); then
    rm -rf -- "$work"
    printf 'gpu-docker: %s\n' "nvidia-ctk cdi generate failed: $(echo "$out" | tail -n 1 | cut -c 1-300)" >&2
    exit 1
fi
chmod 0644 "$work/$(basename "$spec")" && mv -f -- "$work/$(basename "$spec")" "$spec" && rm -rf -- "$work" \
    && printf '%s\n' "$text" > "$stamp"
