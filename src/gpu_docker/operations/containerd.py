"""containerd nodes (``container_engine`` containerd/both): the runtime merged into
config.toml, containerd restarted when it changed.

Same shape as daemon.json's: the config is read and merged when the operation runs, a
candidate containerd itself has parsed replaces the file atomically with a 0600 backup,
and containerd is restarted only when the file changed, rolled back if it does not
answer again. The merge rules are :mod:`gpu_docker.containerd` (pure).
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from dataclasses import replace
from pathlib import PurePosixPath
from typing import Any

from pyinfra import host
from pyinfra.api import StringCommand, operation
from pyinfra.api.operation import OperationMeta

from gpu_docker import containerd, sh
from gpu_docker.facts import host_state
from gpu_docker.facts.containerd import ContainerdFacts
from gpu_docker.files import temp_beside
from gpu_docker.operations.files import put_beside
from gpu_docker.operations.util import merged_text
from gpu_docker.settings import Settings
from gpu_docker.toml_merge import TomlMergeError, plain


@operation()
def merge(settings: Settings, backup: str) -> Generator[Any, None, None]:
    """
    Merge the ``nvidia`` runtime into containerd's config.toml, keeping everything else.

    + settings: the host's settings (runtime name and path, config path, default runtime)
    + backup: suffix of the previous file's copy (``gpu_docker.files.backup_suffix``)

    Judged on the effective config too (:func:`gpu_docker.containerd.plan`): nothing is
    written where an imported drop-in already carries the runtime, and the host is refused
    where one would shadow the edit. Written only when the parsed content changes:
    containerd first reads the candidate (``containerd --config CANDIDATE config dump``,
    which must run the runtime as merged; else the real file is untouched), then it
    replaces the file atomically, the old one kept as ``<target><backup>`` (0600).

    **Example:**

    .. code:: python

        containerd.merge(
            name="Merge the nvidia runtime into containerd's config.toml",
            settings=settings,
            backup=backup,
        )
    """
    facts = host_state.read(ContainerdFacts, path=settings.containerd_config_path)
    if settings.cdi and not containerd.supports_cdi(facts.version):
        host.log_styled(
            f"gpu-docker: cdi: {facts.version or 'this containerd'} has no CDI (containerd "
            "1.7+): enable_cdi not set, CDI devices only through docker here",
            fg="yellow",
        )
    text = yield from merged_text(
        facts.target,
        facts.text,
        lambda found: containerd.plan(settings, replace(facts, text=found)),
        TomlMergeError,
        f"already has the {settings.runtime_name} runtime"
        + (f" in effect (imports {', '.join(sorted(facts.imports))})" if facts.imports else ""),
    )
    if text is None:
        return
    target = str(PurePosixPath(facts.target))
    temp = temp_beside(target)
    yield from put_beside(text, temp, target, False)
    yield sh.command(
        "containerd_check",
        temp,
        target,
        settings.runtime_name,
        containerd.binary_path(settings.runtime_path),
        "1" if settings.containerd_default_runtime else "0",
        "1" if settings.cdi and containerd.supports_cdi(facts.version) else "0",
    )
    yield sh.command("swap_in", temp, target, target + backup)


@operation()
def apply(
    changes: Sequence[OperationMeta], settings: Settings, backup: str, service: str
) -> Generator[StringCommand, None, None]:
    """
    Restart containerd when its config (or the toolkit) changed, and only then.

    + changes: the operations whose change calls for it
    + settings: config path, restart strategy and timeout
    + backup: this run's backup suffix, put back if containerd does not answer again
    + service: ``systemd`` or ``initd`` (from :class:`~gpu_docker.facts.containerd.ContainerdFacts`)

    containerd cannot reload its config, so ``reload`` restarts it too: running containers
    are kept by their shims either way. ``never`` reports the restart as pending. A
    containerd that is not running is not started: it reads the file when it starts.

    **Example:**

    .. code:: python

        containerd.apply(
            name="Apply to containerd (restart if its config changed)",
            changes=[config],
            settings=settings,
            backup=backup,
            service="systemd",
        )
    """
    if not any(meta.changed for meta in changes):
        host.noop("nothing changed: containerd left running")
        return
    if settings.restart_strategy == "never":
        host.log_styled(
            "gpu-docker: containerd restart pending (restart_strategy=never)", fg="yellow"
        )
        return
    if not host.state.is_executing:
        host.log("containerd will be restarted; running containers keep running (shims)")
    facts = host_state.read(ContainerdFacts, path=settings.containerd_config_path)
    address = containerd.grpc_address(plain(facts.text))
    yield sh.command(
        "containerd_apply",
        settings.containerd_config_path,
        backup,
        address,
        str(settings.restart_timeout),
        service,
    )
