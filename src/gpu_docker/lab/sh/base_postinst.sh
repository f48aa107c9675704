#!/bin/sh
# gpu-docker TEST FIXTURE: what NVIDIA's nvidia-container-toolkit-base postinst does.
# Every release (1.17 to 1.20) runs the config rewrite below on EVERY configure, install
# and upgrade alike: nvidia-ctk loads the file and writes it back in its own formatting.
# @UNITS@ says how the release turns on its nvidia-cdi-refresh units:
#   none       1.17: it ships none;
#   postinst   1.18.x and 1.19.x: this script enables and starts them itself, where
#              systemd is running or degraded;
#   debhelper  1.20.0: debhelper's systemd snippets enable and start them, and remove the
#              old copies in /etc/systemd/system (dpkg-maintscript-helper rm_conffile).
set -e
units="@UNITS@"
if [ "$units" = debhelper ]; then
  for unit in nvidia-cdi-refresh.service nvidia-cdi-refresh.path; do
    dpkg-maintscript-helper rm_conffile "/etc/systemd/system/$unit" "@VERSION@~" \
      nvidia-container-toolkit-base -- "$@"
  done
fi
case "$1" in
  configure)
    /usr/bin/nvidia-ctk --quiet config --config-file=/etc/nvidia-container-runtime/config.toml --in-place
    if [ "$units" = postinst ] && command -v systemctl >/dev/null 2>&1; then
      state=$(systemctl is-system-running 2>/dev/null || true)
      case "$state" in
        running|degraded)
          systemctl daemon-reload || echo "Warning: Failed to reload systemd daemon" >&2
          systemctl enable --now nvidia-cdi-refresh.path || echo "Warning: Failed to enable nvidia-cdi-refresh.path" >&2
          systemctl enable --now nvidia-cdi-refresh.service || echo "Warning: Failed to enable nvidia-cdi-refresh.service" >&2
          echo "Regenerating NVIDIA CDI specification..."
          systemctl start nvidia-cdi-refresh.service || echo "Warning: Failed to trigger CDI refresh" >&2
          ;;
      esac
    fi
    ;;
  abort-upgrade|abort-remove|abort-deconfigure) ;;
  *) echo "postinst called with unknown argument \`$1'" >&2; exit 1 ;;
esac
if [ "$units" = debhelper ] && [ "$1" = configure ] && [ -d /run/systemd/system ]; then
  # Stands in for dh_systemd_enable and dh_systemd_start's generated code.
  systemctl --system daemon-reload >/dev/null || true
  systemctl enable nvidia-cdi-refresh.path nvidia-cdi-refresh.service >/dev/null 2>&1 || true
  systemctl start nvidia-cdi-refresh.path nvidia-cdi-refresh.service >/dev/null 2>&1 || true
fi
exit 0
