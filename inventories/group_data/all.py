"""Settings for every host (docs/settings.md lists all of them)."""

# Pinned: all four toolkit packages move together, only when this changes.
toolkit_version = "1.17.8"

# Security: refuse hosts whose SSH host key is unknown or changed.
ssh_strict_host_key_checking = "yes"
