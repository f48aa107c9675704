"""Converge every host: NVIDIA Container Toolkit at the pin, the nvidia runtime in daemon.json.

pyinfra inventories/lab.py deploys/gpu_docker.py --dry --diff   # preview
pyinfra inventories/lab.py deploys/gpu_docker.py -y             # apply
"""

from pathlib import Path

from gpu_docker.deploys import converge

converge(project_root=Path(__file__).resolve().parents[1])
