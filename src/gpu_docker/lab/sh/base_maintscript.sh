#!/bin/sh
# gpu-docker TEST FIXTURE: the preinst and postrm of NVIDIA's nvidia-container-toolkit-base
# 1.20.0, all debhelper's: rm_conffile of the units 1.18.x and 1.19.x put in
# /etc/systemd/system (now in /lib/systemd/system), and, in the postrm, systemd told that
# unit files went away.
set -e
for unit in nvidia-cdi-refresh.service nvidia-cdi-refresh.path; do
  dpkg-maintscript-helper rm_conffile "/etc/systemd/system/$unit" "@VERSION@~" \
    nvidia-container-toolkit-base -- "$@"
done
case "$0" in
  *postrm)
    if [ -d /run/systemd/system ]; then
      systemctl --system daemon-reload >/dev/null || true
    fi
    ;;
esac
exit 0
