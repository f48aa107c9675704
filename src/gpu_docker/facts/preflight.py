"""The preflight: everything the deploy checks before it changes a host, in one round trip."""

from __future__ import annotations

import json

from pyinfra.api import FactBase, StringCommand

from gpu_docker import sh
from gpu_docker.preflight import DockerInfo, Package, Preflight


def _parse_docker_info(text: str) -> DockerInfo | None:
    """``version|live_restore|running|runtimes-json`` from ``docker info``; ``None`` if not."""
    parts = text.split("|", 3)
    if len(parts) != 4:
        return None
    version, live_restore, running, runtimes = parts
    try:
        names = tuple(sorted(json.loads(runtimes)))
        count = int(running)
    except (ValueError, TypeError):
        return None
    return DockerInfo(version, live_restore == "true", count, names)


class HostPreflight(FactBase[Preflight]):
    """OS, architecture, driver, docker, tools and the given packages, in one round trip."""

    def command(self, packages: tuple[str, ...] = ()) -> StringCommand:
        return sh.command("preflight", *packages)

    def process(self, output: list[str]) -> Preflight:
        kv = sh.key_values(output)

        def first(key: str) -> str:
            return kv.get(key, [""])[0].strip()

        packages: dict[str, Package] = {}
        for line in kv.get("pkg", []):
            name, _, rest = line.partition("\t")
            version, _, status = rest.partition("\t")
            if version:
                packages[name] = Package(name, version, status.strip())
        gpus = first("gpus")
        return Preflight(
            os_id=first("os_id"),
            os_version=first("os_version"),
            arch=first("arch"),
            driver=first("driver"),
            gpus=int(gpus) if gpus.isdigit() else 0,
            dockerd_version=first("dockerd"),
            docker_validate=first("validate") == "1",
            init=first("init") or "sysv",
            docker=_parse_docker_info(first("docker_info")),
            docker_error=first("docker_error"),
            tools=frozenset(kv.get("tool", [])),
            packages=packages,
        )
