"""CDI (setting ``cdi``): NVIDIA's spec generated or refreshed, removed with the toolkit.

The spec is decided when the operation runs, after the toolkit install, so a first run
generates it with the toolkit it just installed (the rules: :mod:`gpu_docker.cdi`). The
CDI smoke test (``--device nvidia.com/gpu=all`` on the probe image) is part of
``docker.verify``, wherever docker reports CDI on.
"""

from __future__ import annotations

from collections.abc import Generator

from pyinfra import host, logger
from pyinfra.api import StringCommand, operation

from gpu_docker import cdi, sh
from gpu_docker.facts import host_state
from gpu_docker.facts.cdi import CdiFacts


@operation()
def spec(
    spec: str = cdi.SPEC_PATH, stamp: str = cdi.STAMP_PATH
) -> Generator[StringCommand, None, None]:
    """
    Generate NVIDIA's CDI spec when it is missing or stale, or let the toolkit's
    ``nvidia-cdi-refresh`` units (1.18+) do it.

    + spec: where the spec goes (CDI loaders read /etc/cdi)
    + stamp: where the driver and toolkit versions it was generated for are recorded

    Stale = the driver or the toolkit changed since it was generated. Hosts without a
    driver get no spec (``nvidia-ctk`` needs the driver's files): the operation says so.

    **Example:**

    .. code:: python

        cdi.spec(name="Generate the CDI spec if it is missing or stale")
    """
    facts = host_state.read(CdiFacts, spec=spec, stamp=stamp)
    action, why = cdi.spec_action(facts)
    if action == "none" and not facts.driver:
        # Said at every verbosity: CDI requests (docker, podman) cannot work on this host.
        host.log_styled(f"gpu-docker: {why}", fg="yellow", log_func=logger.warning)
        return
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
def remove_spec(
    spec: str = cdi.SPEC_PATH, stamp: str = cdi.STAMP_PATH
) -> Generator[StringCommand, None, None]:
    """
    Remove the CDI spec with the toolkit: it calls the toolkit's nvidia-cdi-hook, which the
    package removal takes away, so a spec left behind would break every CDI container.

    + spec, stamp: the spec and its stamp

    **Example:**

    .. code:: python

        cdi.remove_spec(name="Remove the CDI spec (it calls the removed toolkit's hook)")
    """
    facts = host_state.read(CdiFacts, spec=spec, stamp=stamp)
    if not facts.spec_exists and not facts.stamp:
        host.noop("no CDI spec")
        return
    yield StringCommand("rm", "-f", spec, stamp)
