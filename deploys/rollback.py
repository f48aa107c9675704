"""Undo the converge on every host: the daemon.json backup put back, docker restarted safely.

pyinfra inventories/lab.py deploys/rollback.py --dry --diff                  # preview
pyinfra inventories/lab.py deploys/rollback.py -y                            # latest backup
pyinfra inventories/lab.py deploys/rollback.py -y --data rollback_backup=20250131T120000Z \
    --data rollback_remove_packages=true                                     # and purge
"""

from gpu_docker.deploys import rollback

rollback()
