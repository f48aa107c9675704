"""The pyinfra floors: connect, read the facts a converge must read, and (verified) run the
one container that proves the host works.

What any pyinfra deploy of this job pays before it decides anything: pyinfra's start-up,
one SSH connection per host and one round trip per fact. Five facts, one per question a
converge asks of the host, as a pyinfra deploy written fact by fact would read them: the
preflight (OS, driver, docker, tools), daemon.json, dockerd's start-up flags, docker's
cgroup driver (for the NVML links) and the installed packages.

With ``--data bench_verify=1`` it is the verified no-op floor: also one ``docker run --rm
--network none --pull never --gpus all`` per host on the probe image, as gpu-docker's
verification runs it, since that container is what makes "converged" true. The floor
makes no probe: it runs on hosts gpu-docker has just converged, whose verification made
``gpu-docker-probe:<glibc version>`` (``sh/lib_probe.sh``); the name comes from the
libc6 version the packages fact has already read, so naming it costs no round trip. A
missing probe fails the run (``--pull never``) rather than measuring something else.
"""

import re

from pyinfra import host
from pyinfra.facts.deb import DebPackages
from pyinfra.operations import server

from gpu_docker.facts.docker import HostDockerdStartup
from gpu_docker.facts.files import RemoteFileText
from gpu_docker.facts.nvml import NvmlFacts
from gpu_docker.facts.preflight import HostPreflight

DAEMON_JSON = "/etc/docker/daemon.json"

preflight = host.get_fact(HostPreflight)
host.get_fact(RemoteFileText, path=DAEMON_JSON)
host.get_fact(HostDockerdStartup, path=DAEMON_JSON, validate=preflight.docker_validate)
host.get_fact(NvmlFacts)
packages = host.get_fact(DebPackages)

if host.data.get("bench_verify"):
    glibc = sorted(packages.get("libc6", ["unknown"]))[-1]
    probe = "gpu-docker-probe:" + re.sub(r"[^A-Za-z0-9_.-]", "_", glibc)
    server.shell(
        name="docker run --gpus all on the probe",
        commands=[
            "static=/sbin/ldconfig; [ -f /sbin/ldconfig.real ] && static=/sbin/ldconfig.real;"
            " docker run --rm --network none --pull never --gpus all"
            f' {probe} "$static" --version >/dev/null'
        ],
    )
