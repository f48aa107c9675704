#!/bin/sh
# gpu-docker TEST FIXTURE standing in for NVIDIA's nvidia-container-runtime @VERSION@:
# it hands every runtime call to runc so containers run, without any GPU support.
if [ "$1" = "--version" ]; then
  echo "NVIDIA Container Runtime version @VERSION@ (gpu-docker test fixture)"
  exit 0
fi
PATH="$PATH:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
exec runc "$@"
