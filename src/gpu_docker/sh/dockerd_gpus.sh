#!/bin/sh
# Whether the running dockerd can serve --gpus (see lib_dockerd.sh, prepended).
# libs: docker dockerd
dockerd_gpus
true
