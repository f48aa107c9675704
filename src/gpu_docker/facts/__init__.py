"""What gpu-docker reads from a host, in pyinfra's shape: one module per subject, one class
per fact, each with ``command()`` and ``process()``.

Round trips are what a fleet run spends its time on, so each fact answers everything its
subject needs in one. Scripts are fixed (``gpu_docker.sh``); host data reaches them only
as quoted positional arguments. What a fact returns is a plain data class declared in a
module without pyinfra (``gpu_docker.preflight``, ``gpu_docker.files``...), so the rules
over it are tested as plain code; facts import nothing from ``gpu_docker.operations``.
"""
