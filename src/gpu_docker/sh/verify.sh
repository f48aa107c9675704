#!/bin/sh
# Whether GPU containers can work here: tool versions, runtimes, and a GPU smoke test.
# Args: runtime image
image=$2  # $1, the runtime, keys the fact; docker info lists them all
echo "cli=$(nvidia-container-cli --version 2>/dev/null | head -n1)"
echo "ctk=$(nvidia-ctk --version 2>/dev/null | head -n1)"
if r=$(timeout 20 docker info --format '{{json .Runtimes}}' 2>&1); then echo "runtimes=$r"
else echo "docker_error=$(echo "$r" | tail -n1)"; fi
gpus=0
command -v nvidia-smi >/dev/null 2>&1 && gpus=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU')
echo "gpus=$gpus"
if [ "$gpus" -gt 0 ] && [ -n "$image" ]; then
    out=$(timeout 300 docker run --rm --gpus all "$image" nvidia-smi -L 2>&1)
    echo "smoke_rc=$?"
    echo "smoke_out=$(echo "$out" | tr '\n' ' ')"
fi
true
