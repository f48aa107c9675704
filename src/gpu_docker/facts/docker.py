"""docker on the host: how dockerd was started, whether it serves ``--gpus``, and whether
GPU containers run (the verification)."""

from __future__ import annotations

import re

from pyinfra.api import FactBase, StringCommand

from gpu_docker import sh
from gpu_docker.dockerd_flags import RELOADED_STAMP, DockerdStartup
from gpu_docker.dockerd_gpus import DockerdGpus, parse_dockerd_gpus
from gpu_docker.verify import Verification, parse_verification


class HostDockerdStartup(FactBase[DockerdStartup]):
    """See :class:`~gpu_docker.dockerd_flags.DockerdStartup`; ``validate`` runs only for a
    file changed since dockerd started.

    ``validate=None`` leaves it to the host whether dockerd has ``--validate`` (asked of
    ``dockerd --help`` only when it would run), so this fact needs no other fact first and
    can be read in the converge's one round trip (``gpu_docker.facts.host_state``).
    """

    @staticmethod
    def default() -> DockerdStartup:
        """No dockerd running and no daemon.json: nothing to say (pyinfra gives no output)."""
        return DockerdStartup()

    def command(self, path: str, validate: bool | None) -> StringCommand:
        flag = "auto" if validate is None else "1" if validate else "0"
        return sh.command("dockerd_start", path, flag, RELOADED_STAMP)

    def process(self, output: list[str]) -> DockerdStartup:
        args: list[str] = []
        values: dict[str, str] = {}
        for line in output:
            key, _, value = line.partition("=")
            if key == "arg":
                args.append(value)
            elif key:
                values[key] = value.strip()

        def number(key: str) -> float:
            """Epoch seconds, with a fraction or whole (an older version's reload stamp)."""
            text = values.get(key, "")
            return float(text) if re.fullmatch(r"\d+(\.\d+)?", text) else 0.0

        return DockerdStartup(
            tuple(args),
            number("started"),
            number("changed"),
            values.get("validate", ""),
            number("reloaded"),
        )


class RunningDockerd(FactBase[DockerdGpus]):
    """Whether the running dockerd registered the ``--gpus`` device driver, and its runtimes."""

    def command(self) -> StringCommand:
        return sh.command("dockerd_gpus")

    def process(self, output: list[str]) -> DockerdGpus:
        return parse_dockerd_gpus(output)


class GpuDockerVerification(FactBase[Verification]):
    """Ask the host whether GPU containers work: ``docker run --gpus all`` on every host,
    ``nvidia-smi -L`` inside containers where GPUs answer (see ``verify.sh``).

    The probe image is made on first use, so this fact changes the host; ``dry=True`` (a
    preview) makes, pulls and removes nothing: checks run only on images already there,
    the others come back as what would run."""

    def command(
        self,
        runtime_name: str,
        image: str = "",
        packages: tuple[str, ...] = (),
        dry: bool = False,
    ) -> StringCommand:
        return sh.command(
            "verify",
            runtime_name,
            image,
            "0" if dry else "1",
            *packages,
        )

    def process(self, output: list[str]) -> Verification:
        return parse_verification(output)
