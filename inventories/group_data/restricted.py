"""Hosts behind a firewall: the toolkit comes from the offline bundle in files/debs/."""

install_method = "offline"
