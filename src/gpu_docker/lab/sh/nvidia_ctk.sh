#!/bin/sh
# gpu-docker TEST FIXTURE standing in for NVIDIA's nvidia-ctk @VERSION@, not NVIDIA's tool.
#   --version                            prints a version;
#   config --config-file=F --in-place    writes F's defaults when F is missing, else loads F
#                                        and writes it back in this tool's own formatting
#                                        (as NVIDIA's does on every -base configure);
#   cdi generate [--output=F]            writes a plausible CDI spec naming no real device to
#                                        F, else to $NVIDIA_CTK_CDI_OUTPUT_FILE_PATH (what
#                                        nvidia-cdi-refresh.service sets), else to stdout;
#   anything else exits 0 quietly.
# @REVERTS@ = 1 models releases before 1.20.0 ("prevent config option from reverting
# modified configurations" came in 1.20.0): the rewrite comments out any key of NVIDIA's
# commented-defaults list whose value equals that default, so a key set on purpose to its
# default value (a debug log at NVIDIA's default path, say) is switched off again.
version="@VERSION@"
reverts="@REVERTS@"
config_file=""
is_config=""
is_cdi=""
output="${NVIDIA_CTK_CDI_OUTPUT_FILE_PATH:-}"
for arg in "$@"; do
  case "$arg" in
    --version|-v)
      echo "NVIDIA Container Toolkit CLI version $version (gpu-docker test fixture)"
      exit 0
      ;;
    config) is_config=1 ;;
    cdi) is_cdi=1 ;;
    --config-file=*) config_file="${arg#--config-file=}" ;;
    --output=*) output="${arg#--output=}" ;;
  esac
done

spec() {
  # The generation time makes every spec's bytes differ: a rerun that regenerates shows.
  cat <<SPEC
# Written by the gpu-docker TEST FIXTURE nvidia-ctk $version, not by NVIDIA's tool:
# no device below is real. Generated at $(date -u +%Y-%m-%dT%H:%M:%S.%NZ).
---
cdiVersion: 0.5.0
kind: nvidia.com/gpu
devices:
- name: "0"
  containerEdits:
    deviceNodes:
    - path: /dev/nvidia0
- name: all
  containerEdits:
    deviceNodes:
    - path: /dev/nvidia0
containerEdits:
  env:
  - NVIDIA_VISIBLE_DEVICES=void
  deviceNodes:
  - path: /dev/nvidiactl
  hooks:
  - hookName: createContainer
    path: /usr/bin/nvidia-cdi-hook
    args:
    - nvidia-cdi-hook
    - update-ldcache
SPEC
}

write_defaults() {
  mkdir -p "$(dirname "$1")"
  # The layout and defaults of the file NVIDIA's nvidia-ctk writes (its keys, the
  # commented-out optional ones), so merges into it meet what they meet on real hosts.
  cat > "$1" <<EOF_DEFAULTS
# Written by the gpu-docker TEST FIXTURE nvidia-ctk $version, not by NVIDIA's tool.
#accept-nvidia-visible-devices-as-volume-mounts = false
#accept-nvidia-visible-devices-envvar-when-unprivileged = true
disable-require = false
supported-driver-capabilities = "compat32,compute,display,graphics,ngx,utility,video"
#swarm-resource = "DOCKER_RESOURCE_GPU"

[nvidia-container-cli]
#debug = "/var/log/nvidia-container-toolkit.log"
environment = []
#ldcache = "/etc/ld.so.cache"
ldconfig = "@/sbin/ldconfig"
load-kmods = true
#no-cgroups = false
#path = "/usr/bin/nvidia-container-cli"
#root = "/run/nvidia/driver"
#user = "root:video"

[nvidia-container-runtime]
#debug = "/var/log/nvidia-container-runtime.log"
log-level = "info"
mode = "auto"
runtimes = ["docker-runc", "runc", "crun"]

[nvidia-container-runtime.modes]

[nvidia-container-runtime.modes.cdi]
annotation-prefixes = ["cdi.k8s.io/"]
default-kind = "nvidia.com/gpu"
spec-dirs = ["/etc/cdi", "/var/run/cdi"]

[nvidia-container-runtime.modes.csv]
mount-spec-path = "/etc/nvidia-container-runtime/host-files-for-container.d"

[nvidia-container-runtime-hook]
path = "nvidia-container-runtime-hook"
skip-mode-detection = false

[nvidia-ctk]
path = "nvidia-ctk"
EOF_DEFAULTS
}

# Load and write back: the first line names this tool; the operator's own comments go
# (NVIDIA's loader keeps none), the tool's commented defaults stay; every key is written
# `key = value` without indentation or trailing comment, one blank line before each
# table. Single-line values are assumed (what every writer of this file in the lab makes).
rewrite() {
  awk -v version="$version" -v reverts="$reverts" '
    BEGIN {
      print "# Written by the gpu-docker TEST FIXTURE nvidia-ctk " version ", not by NVIDIA'"'"'s tool."
      d["swarm-resource"] = "\"DOCKER_RESOURCE_GPU\""
      d["accept-nvidia-visible-devices-envvar-when-unprivileged"] = "true"
      d["accept-nvidia-visible-devices-as-volume-mounts"] = "false"
      d["nvidia-container-cli.root"] = "\"/run/nvidia/driver\""
      d["nvidia-container-cli.path"] = "\"/usr/bin/nvidia-container-cli\""
      d["nvidia-container-cli.debug"] = "\"/var/log/nvidia-container-toolkit.log\""
      d["nvidia-container-cli.ldcache"] = "\"/etc/ld.so.cache\""
      d["nvidia-container-cli.no-cgroups"] = "false"
      d["nvidia-container-cli.user"] = "\"root:video\""
      d["nvidia-container-runtime.debug"] = "\"/var/log/nvidia-container-runtime.log\""
      table = ""
    }
    { sub(/^[ \t]+/, ""); sub(/[ \t\r]+$/, "") }
    /^$/ { next }
    /^#[A-Za-z0-9_-]+ = / { print; next }
    /^#/ { next }
    /^\[/ {
      line = $0; sub(/[ \t]*#.*$/, "", line)
      table = line; gsub(/^\[+|\]+$/, "", table)
      print ""; print line; next
    }
    {
      eq = index($0, "=")
      if (eq == 0) { print; next }
      key = substr($0, 1, eq - 1); sub(/[ \t]+$/, "", key)
      value = substr($0, eq + 1); sub(/^[ \t]+/, "", value)
      if (match(value, /^"[^"]*"/)) value = substr(value, 1, RLENGTH)
      else sub(/[ \t]*#.*$/, "", value)
      full = (table == "" ? key : table "." key)
      if (reverts == "1" && (full in d) && d[full] == value) { print "#" key " = " value; next }
      print key " = " value
    }
  ' "$1"
}

if [ -n "$is_cdi" ]; then
  if [ -z "$output" ]; then
    spec
  else
    mkdir -p "$(dirname "$output")" && spec > "$output"
  fi
  exit 0
fi
if [ -n "$is_config" ] && [ -n "$config_file" ]; then
  if [ ! -e "$config_file" ]; then
    write_defaults "$config_file"
  else
    # In place, as NVIDIA's does: the file keeps its inode, owner and mode.
    rewritten=$(rewrite "$config_file") && printf '%s\n' "$rewritten" > "$config_file"
  fi
fi
exit 0
