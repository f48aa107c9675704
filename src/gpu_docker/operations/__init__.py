"""gpu-docker's pyinfra operations, one module per subject: each reads its facts when it
runs, decides, yields.

Operations run twice in pyinfra 3: once while planning (to preview, ``--dry``) and again
when executing, reading the host afresh. Everything that depends on the host's current
state (daemon.json's content, which debs are installed) is therefore decided in an
operation, never at the top of a deploy file. When there is nothing to do an operation
says why with ``host.noop``. Scripts are fixed files (``gpu_docker.sh``); host data
reaches them only as quoted positional arguments.
"""
