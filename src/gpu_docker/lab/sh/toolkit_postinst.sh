#!/bin/sh
# gpu-docker TEST FIXTURE: what NVIDIA's nvidia-container-toolkit postinst does (1.17 to
# 1.20 alike): on configure, link /usr/bin/nvidia-container-toolkit to the hook unless
# something is already there.
set -e
hook=/usr/bin/nvidia-container-runtime-hook
link=/usr/bin/nvidia-container-toolkit
case "$1" in
  configure)
    if [ -f "$hook" ] && [ ! -e "$link" ]; then
      ln -s "$hook" "$link"
    fi
    ;;
  abort-upgrade|abort-remove|abort-deconfigure) ;;
  *) echo "postinst called with unknown argument \`$1'" >&2; exit 1 ;;
esac
exit 0
