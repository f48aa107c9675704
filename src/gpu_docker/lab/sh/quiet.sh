#!/bin/sh
# gpu-docker TEST FIXTURE standing in for NVIDIA's @NAME@: --version prints,
# anything else exits 0 quietly.
if [ "$1" = "--version" ]; then
  echo "@NAME@ version @VERSION@ (gpu-docker test fixture)"
fi
exit 0
