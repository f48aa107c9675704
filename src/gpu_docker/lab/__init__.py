"""The sandbox lab: throwaway Debian hosts on this machine, reached by pyinfra over SSH.

Each host is an overlay of a cached debootstrap in its own network, mount, pid and uts
namespaces, running sshd and Debian's dockerd. Online hosts reach a signed apt repository
of stand-in packages; restricted hosts have no route to it and get offline bundles
instead. ``gpu-docker lab up|down|status`` drives it; ``lab.json`` describes it.
"""
