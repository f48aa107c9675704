"""CDI (Container Device Interface): NVIDIA's device spec and docker's ``features.cdi``.

With a spec at /etc/cdi/nvidia.yaml (``nvidia-ctk cdi generate``) and ``features.cdi`` on
(docker 25+), ``docker run --device nvidia.com/gpu=all`` gets the GPUs without the legacy
hook; without the flag docker 26 answers ``could not select device driver "cdi"``. The
spec names the driver's files by version, so a driver or toolkit upgrade makes it stale:
it is regenerated when either changed since it was written (recorded in a stamp file),
and never otherwise. Toolkits 1.18+ ship ``nvidia-cdi-refresh`` systemd units that
regenerate it themselves (the .path unit watches the kernel's module index, which a
driver install rewrites, and nvidia-ctk) into /var/run/cdi/nvidia.yaml; on systemd hosts
where they exist they are enabled instead, and gpu-docker's own spec goes (two specs
defining the same devices conflict). On sysv hosts, and with 1.17, gpu-docker keeps
regenerating its own. A spec the units left in /var/run/cdi after a downgrade below 1.18
removed them would shadow a fresh /etc/cdi one (CDI gives /var/run/cdi priority): it is
removed when gpu-docker generates its own.

Why ``cdi`` is off by default: a driver upgrade between runs leaves a stale spec that
breaks CDI containers until the next run where no refresh units keep it current (toolkit
1.17, sysv hosts); Debian 12's docker (20.10) cannot use CDI at all; and ``--gpus all``
works without it. Turn it on where docker is 25+ (best with toolkit 1.18+ under systemd).

Plain functions; the pyinfra side is ``gpu_docker.facts.cdi`` and ``gpu_docker.operations.cdi``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SPEC_PATH = "/etc/cdi/nvidia.yaml"
# What the spec was generated for, outside /etc/cdi (which CDI loaders scan).
STAMP_PATH = "/var/lib/gpu-docker/cdi-nvidia.yaml.generated-for"
FIRST_CDI_DOCKER = (25, 0)


@dataclass(frozen=True)
class CdiHost:
    """What decides the spec: the driver, the installed toolkit, the spec and its stamp."""

    driver: str
    toolkit: str
    spec_exists: bool
    stamp: str
    refresh_units: bool
    refresh_enabled: bool
    refresh_spec: bool = False  # a spec where nvidia-cdi-refresh.service writes it
    refresh_spec_path: str = "/var/run/cdi/nvidia.yaml"
    refresh_lingering: bool = False  # units whose files a downgrade removed, still running
    refresh_skips: str = ""  # why the refresh service would generate nothing here


def stamp_for(driver: str, toolkit: str) -> str:
    """The one-line record of what a spec is generated for."""
    return f"driver={driver.strip()} toolkit={toolkit.strip()}"


def spec_action(facts: CdiHost) -> tuple[str, str]:
    """``(action, why)``: ``none``, ``generate`` or ``refresh-units``.

    ``refresh-units`` also removes gpu-docker's own spec (one it stamped) and ``generate``
    a spec the refresh units left behind (:func:`leftovers` names them).
    """
    if not facts.driver:
        return "none", (
            "no CDI spec made: no NVIDIA driver on this host (nvidia-ctk cdi generate needs "
            "the driver's files); --device nvidia.com/gpu=all cannot work until a driver is "
            "installed and the deploy runs again"
        )
    if facts.refresh_units and not facts.refresh_skips:
        own = facts.spec_exists and bool(facts.stamp)
        if facts.refresh_enabled and facts.refresh_spec and not own:
            return (
                "none",
                f"nvidia-cdi-refresh keeps the CDI spec current ({facts.refresh_spec_path})",
            )
        why = "the toolkit's nvidia-cdi-refresh units generate the CDI spec"
        if own:
            why += " (gpu-docker's own spec goes: two specs would define the same devices)"
        return "refresh-units", why
    wanted = stamp_for(facts.driver, facts.toolkit)
    left = (
        f"; the spec nvidia-cdi-refresh left at {facts.refresh_spec_path} goes (it would shadow it)"
        if facts.refresh_spec or facts.refresh_lingering
        else ""
    )
    if facts.refresh_lingering:
        left += "; the nvidia-cdi-refresh units the package removed still run: stopped"
    skips = (
        "; gpu-docker generates it: the toolkit's nvidia-cdi-refresh service would not "
        f"({facts.refresh_skips})"
        if facts.refresh_units
        else ""
    )
    if not facts.spec_exists:
        return "generate", f"no CDI spec yet ({wanted}){left}{skips}"
    if facts.stamp != wanted:
        was = facts.stamp or "unknown versions"
        return "generate", f"CDI spec is stale: generated for {was}, now {wanted}{left}{skips}"
    if left:
        return "generate", f"CDI spec regenerated ({wanted}){left}"
    return "none", f"CDI spec is current ({wanted})"


def leftovers(facts: CdiHost, action: str) -> list[str]:
    """The spec files the action removes first: gpu-docker's own (and its stamp) when the
    refresh units take over, the units' spec when gpu-docker generates its own."""
    if action == "refresh-units" and facts.spec_exists and facts.stamp:
        return [SPEC_PATH, STAMP_PATH]
    if action == "generate" and (facts.refresh_spec or facts.refresh_lingering):
        return [facts.refresh_spec_path]
    return []


def docker_version(text: str) -> tuple[int, int] | None:
    """``(major, minor)`` from ``26.1.5`` or ``Docker version 20.10.24+dfsg1, build ...``."""
    match = re.search(r"(\d+)\.(\d+)", text)
    return (int(match.group(1)), int(match.group(2))) if match else None


def docker_supports_cdi(text: str) -> bool:
    """Docker 25+ reads ``features.cdi``; older dockerd knows no CDI."""
    version = docker_version(text)
    return version is not None and version >= FIRST_CDI_DOCKER


def daemon_json_owned(enabled: bool, docker: str) -> dict[str, object]:
    """What CDI adds to daemon.json: ``features.cdi`` where docker can use it."""
    return {"features": {"cdi": True}} if enabled and docker_supports_cdi(docker) else {}
