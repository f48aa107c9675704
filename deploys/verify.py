"""Read-only report: does each host list the nvidia runtime, and can it run a GPU container?

pyinfra inventories/lab.py deploys/verify.py -y
"""

from gpu_docker.deploys import verify

verify()
