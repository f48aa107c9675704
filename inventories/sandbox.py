"""The local sandbox lab: throwaway Debian hosts made by `gpu-docker lab up`.

Hosts, addresses, keys, the lab's apt repository and offline bundles all come from the
lab's lab.json (GPU_DOCKER_LAB_DIR, default /var/lib/gpu-docker-lab); without a running lab
this inventory refuses to load and says how to start one.
"""

from gpu_docker.lab.inventory import sandbox_groups

_groups = sandbox_groups()
online = _groups["online"]
restricted = _groups["restricted"]
