"""Your lab: replace these example hosts with your own GPU servers.

`online` hosts reach NVIDIA's apt repository; `restricted` hosts sit behind a firewall
and get the offline bundle from files/debs/. Group settings live in group_data/; per-host
settings go in the tuple's dict. Connection: root (or a sudo user) by SSH key, with
strict host key checking (the host must be in your known_hosts).
"""

online = [
    "gpu-01.example.internal",
    "gpu-02.example.internal",
]

restricted = [
    # A host with its own settings, e.g. a different architecture's bundle is picked
    # automatically; a different pin would be ("gpu-10...", {"toolkit_version": "1.18.1"}).
    "gpu-10.secure.example.internal",
]
