"""Read-only report: can each host run a GPU container through the engines it names?

pyinfra inventories/lab.py deploys/verify.py -y
"""

from gpu_docker.deploys import verify

verify()
