#!/bin/sh
# Hand the CDI spec to the toolkit's nvidia-cdi-refresh units (1.18+, systemd): enable the
# .path unit (it regenerates the spec when the driver's module index or nvidia-ctk
# changes) and run the service once now. A start that could not even spawn the service
# (systemd's "unavailable resources", seen in containers) is tried again, twice at most;
# a failure is one gpu-docker: line quoting systemd's.
# Args: none
if ! out=$(systemctl enable --now nvidia-cdi-refresh.path 2>&1); then
    printf 'gpu-docker: %s\n' "systemctl enable --now nvidia-cdi-refresh.path failed: $(echo "$out" | tail -n 1 | cut -c 1-300)" >&2
    exit 1
fi
for try in 1 2 3; do
    if out=$(systemctl start nvidia-cdi-refresh.service 2>&1); then
        exit 0
    fi
    [ "$try" = 3 ] || sleep 1
done
why=$(systemctl show -p Result --value nvidia-cdi-refresh.service 2>/dev/null)
printf 'gpu-docker: %s\n' "nvidia-cdi-refresh.service did not generate the CDI spec (result: ${why:-unknown}): $(echo "$out" | head -n 1 | cut -c 1-300)" >&2
exit 1
