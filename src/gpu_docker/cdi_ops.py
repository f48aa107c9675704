"""pyinfra fact and operations for CDI (setting ``cdi``): see :mod:`gpu_docker.cdi`.

The spec is decided when the operation runs, after the toolkit install, so a first run
generates it with the toolkit it just installed. The CDI smoke test (``--device
nvidia.com/gpu=all`` on the probe image) is part of verify, wherever docker reports CDI on.
"""

from __future__ import annotations

from pyinfra import host, logger
from pyinfra.api import FactBase, StringCommand, operation

from gpu_docker import cdi, sh


class CdiFacts(FactBase[cdi.CdiHost]):
    """Driver, toolkit, spec, stamp and refresh units, in one round trip."""

    def command(self, spec: str, stamp: str) -> StringCommand:
        return sh.command("cdi_facts", spec, stamp)

    @staticmethod
    def default() -> cdi.CdiHost:
        """No output at all: no driver, no toolkit (a rollback removed it), no spec."""
        return cdi.CdiHost(
            "", "", spec_exists=False, stamp="", refresh_units=False, refresh_enabled=False
        )

    def process(self, output: list[str]) -> cdi.CdiHost:
        found: dict[str, str] = {}
        for line in output:
            key, sep, value = line.partition("=")
            if sep:
                found.setdefault(key, value.strip())
        return cdi.CdiHost(
            driver=found.get("driver", ""),
            toolkit=found.get("toolkit", ""),
            spec_exists=found.get("spec") == "1",
            stamp=found.get("stamp", ""),
            refresh_units=found.get("refresh") == "1",
            refresh_enabled=found.get("refresh_enabled") == "1",
        )


@operation()
def cdi_spec(spec: str = cdi.SPEC_PATH, stamp: str = cdi.STAMP_PATH):
    """
    Generate NVIDIA's CDI spec when it is missing or stale, or let the toolkit's
    ``nvidia-cdi-refresh`` units (1.18+) do it.

    + spec: where the spec goes (CDI loaders read /etc/cdi)
    + stamp: where the driver and toolkit versions it was generated for are recorded

    Stale = the driver or the toolkit changed since it was generated. Hosts without a
    driver get no spec (``nvidia-ctk`` needs the driver's files): the operation says so.
    """
    facts = host.get_fact(CdiFacts, spec=spec, stamp=stamp)
    action, why = cdi.spec_action(facts)
    if action == "none":
        host.noop(why)
        return
    host.log(why)
    if action == "refresh-units":
        yield StringCommand("systemctl", "enable", "--now", "nvidia-cdi-refresh.path")
        yield StringCommand("systemctl", "start", "nvidia-cdi-refresh.service")
        return
    yield sh.command("cdi_generate", spec, stamp, cdi.stamp_for(facts.driver, facts.toolkit))


def warn_docker_too_old(docker: str) -> None:
    """Say (while the deploy is planned: in previews and runs alike) that this docker
    cannot use CDI; nothing fails, the spec is still generated."""
    host.log_styled(
        f"gpu-docker: docker {docker or '?'} cannot use CDI devices (features.cdi needs "
        "docker 25+): the spec is generated, daemon.json gets no features.cdi; "
        "--gpus all works as before",
        fg="yellow",
        log_func=logger.warning,
    )


@operation()
def remove_spec(spec: str = cdi.SPEC_PATH, stamp: str = cdi.STAMP_PATH):
    """
    Remove the CDI spec with the toolkit: it calls the toolkit's nvidia-cdi-hook, which the
    package removal takes away, so a spec left behind would break every CDI container.

    + spec, stamp: the spec and its stamp
    """
    facts = host.get_fact(CdiFacts, spec=spec, stamp=stamp)
    if not facts.spec_exists and not facts.stamp:
        host.noop("no CDI spec")
        return
    yield StringCommand("rm", "-f", spec, stamp)
