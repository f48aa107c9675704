#!/bin/sh
# gpu-docker TEST FIXTURE standing in for NVIDIA's nvidia-container-cli @VERSION@.
case "$1" in
  --version|-V)
    echo "cli-version: @VERSION@"
    echo "lib-version: @VERSION@"
    echo "build revision: gpu-docker-standin (test fixture)"
    ;;
esac
exit 0
