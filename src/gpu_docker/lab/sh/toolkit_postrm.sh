#!/bin/sh
# gpu-docker TEST FIXTURE: NVIDIA's nvidia-container-toolkit postrm removes the hook link
# on purge only.
set -e
link=/usr/bin/nvidia-container-toolkit
case "$1" in
  purge)
    if [ -L "$link" ]; then rm -f "$link"; fi
    ;;
  upgrade|failed-upgrade|remove|abort-install|abort-upgrade|disappear) ;;
  *) echo "postrm called with unknown argument \`$1'" >&2; exit 1 ;;
esac
exit 0
