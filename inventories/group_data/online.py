"""Hosts that reach NVIDIA's apt repository (or a mirror: set apt_repo_url/apt_key_url)."""

install_method = "apt"
