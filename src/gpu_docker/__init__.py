"""gpu-docker: make Docker see the GPUs, as pyinfra code.

The package holds everything the thin deploy files under ``deploys/`` call into:
typed settings, preflight facts, operations, composed ``@deploy`` functions, the
daemon.json merge, offline bundle handling, the CLI and the sandbox lab.
"""

__version__ = "0.1.0"
