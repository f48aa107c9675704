#!/bin/sh
# What containerd itself makes of its configuration (drop-ins and defaults included):
# `containerd config dump`, base64 in one line, or its exit and last error line.
# Args: config-path
if ! command -v containerd >/dev/null 2>&1; then echo "missing=1"; exit 0; fi
err=$(mktemp) || exit 1
out=$(timeout 60 containerd --config "$1" config dump 2>"$err")
echo "rc=$?"
echo "error=$(tail -n1 "$err" | cut -c 1-300)"
rm -f "$err"
echo "b64=$(printf '%s\n' "$out" | base64 -w0)"
