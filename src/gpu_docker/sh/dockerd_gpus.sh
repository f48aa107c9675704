#!/bin/sh
# Whether the running dockerd can serve --gpus (see lib_dockerd.sh, prepended).
dockerd_gpus
true
