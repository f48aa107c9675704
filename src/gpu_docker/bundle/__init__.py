"""Offline bundles of NVIDIA Container Toolkit debs for hosts behind a firewall.

``manifest`` is what the deploy reads (load_manifest, verify_bundle); ``importer``,
``tarball`` and ``fetch`` build bundles; ``depends`` and ``order`` are the Debian logic
both sides share; ``cli`` is ``gpu-docker bundle``.
"""
