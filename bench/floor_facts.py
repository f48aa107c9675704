"""The pyinfra floor: connect, read the facts a converge must read, run no operation.

What any pyinfra deploy of this job pays before it decides anything: pyinfra's start-up,
one SSH connection per host and one round trip per fact. Five facts, one per question a
converge asks of the host, as a pyinfra deploy written fact by fact would read them: the
preflight (OS, driver, docker, tools), daemon.json, dockerd's start-up flags, docker's
cgroup driver (for the NVML links) and the installed packages.
"""

from pyinfra import host
from pyinfra.facts.deb import DebPackages

from gpu_docker.facts.docker import HostDockerdStartup
from gpu_docker.facts.files import RemoteFileText
from gpu_docker.facts.nvml import NvmlFacts
from gpu_docker.facts.preflight import HostPreflight

DAEMON_JSON = "/etc/docker/daemon.json"

preflight = host.get_fact(HostPreflight)
host.get_fact(RemoteFileText, path=DAEMON_JSON)
host.get_fact(HostDockerdStartup, path=DAEMON_JSON, validate=preflight.docker_validate)
host.get_fact(NvmlFacts)
host.get_fact(DebPackages)
