"""pyinfra fact and operations for containerd nodes (``container_engine`` containerd/both).

Same shape as daemon.json's: the config is read and merged when the operation runs, a
candidate containerd itself has parsed replaces the file atomically with a 0600 backup,
and containerd is restarted only when the file changed, rolled back if it does not
answer again.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath

from pyinfra import host, logger
from pyinfra.api import FactBase, QuoteString, StringCommand, operation
from pyinfra.api.operation import OperationMeta
from pyinfra.operations.util.files import generate_color_diff

from gpu_docker import containerd, operations, sh

# The atomic upload (partial temp removed, free space named) is daemon.json's, shared.
from gpu_docker.settings import Settings
from gpu_docker.toml_merge import MergeResult, TomlMergeError, plain


@dataclass(frozen=True)
class ContainerdHost:
    """containerd's version (empty: not installed), how to restart it, its config file."""

    version: str
    service: str
    target: str
    text: str | None


class ContainerdFacts(FactBase[ContainerdHost]):
    """containerd's version, service manager and config bytes, in one round trip."""

    def command(self, path: str) -> StringCommand:
        self.path = path
        return sh.command("containerd_facts", path)

    def process(self, output: list[str]) -> ContainerdHost:
        found: dict[str, str] = {}
        for line in output:
            key, sep, value = line.partition("=")
            if sep:
                found.setdefault(key, value)
        text = None
        if "b64" in found:
            try:
                text = base64.b64decode(found["b64"]).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                text = "\x00"  # not UTF-8: refused as not TOML
        return ContainerdHost(
            version=found.get("version", "").strip(),
            service=found.get("service", ""),
            target=found.get("target") or self.path,
            text=text,
        )


def problems(settings: Settings, facts: ContainerdHost) -> list[str]:
    """Why containerd on this host cannot get the runtime; found before anything changes."""
    if not facts.version:
        return ["containerd is not installed (no containerd on PATH); set container_engine"]
    found = []
    if not facts.service:
        found.append(
            "containerd has no systemd unit and no /etc/init.d/containerd: gpu-docker could "
            "not restart it after changing its config"
        )
    try:
        _merge(settings, facts.version, facts.text)
    except TomlMergeError as exc:
        found.append(f"{facts.target}: {exc}; left untouched, fix it and run again")
    return found


def _merge(settings: Settings, version: str, text: str | None) -> MergeResult:
    return containerd.merge_config(
        text,
        containerd_version=version,
        runtime_name=settings.runtime_name,
        runtime_path=settings.runtime_path,
        set_default=settings.containerd_default_runtime,
    )


@operation()
def config_merge(settings: Settings, backup: str):
    """
    Merge the ``nvidia`` runtime into containerd's config.toml, keeping everything else.

    + settings: the host's settings (runtime name and path, config path, default runtime)
    + backup: suffix of the previous file's copy (``operations.backup_suffix``)

    Written only when the parsed content changes: containerd first reads the candidate
    (``containerd --config CANDIDATE config dump``; rejected, the real file is untouched),
    then it replaces the file atomically, the old one kept as ``<target><backup>`` (0600).
    """
    facts = host.get_fact(ContainerdFacts, path=settings.containerd_config_path)
    try:
        result = _merge(settings, facts.version, facts.text)
    except TomlMergeError as exc:
        yield from operations.fail._inner(
            f"{facts.target}: {exc}; left untouched, fix it and run again"
        )
        return
    if not result.changed:
        host.noop(f"{facts.target} already has the {settings.runtime_name} runtime")
        return
    if host.state.config.DIFF:
        host.log(f"Will {'modify' if facts.text is not None else 'create'} {facts.target}")
        old_lines = (facts.text or "").splitlines(keepends=True)
        for line in generate_color_diff(old_lines, result.text.splitlines(keepends=True)):
            logger.info("  %s", line)
    target = PurePosixPath(facts.target)
    temp = str(target.with_name(f".{target.name}.{operations.BACKUP_TAG}.tmp"))
    yield StringCommand("mkdir", "-p", QuoteString(str(target.parent)))
    yield operations.WithConnectorArguments(
        operations.upload_beside, (result.text, temp, str(target)), {}
    )
    yield sh.command("containerd_check", temp, str(target))
    yield sh.command("swap_in", temp, str(target), str(target) + backup)


@operation()
def apply_to_containerd(
    changes: Sequence[OperationMeta], settings: Settings, backup: str, service: str
):
    """
    Restart containerd when its config (or the toolkit) changed, and only then.

    + changes: the operations whose change calls for it
    + settings: config path, restart strategy and timeout
    + backup: this run's backup suffix, put back if containerd does not answer again
    + service: ``systemd`` or ``initd`` (from :class:`ContainerdFacts`)

    containerd cannot reload its config, so ``reload`` restarts it too: running containers
    are kept by their shims either way. ``never`` reports the restart as pending. A
    containerd that is not running is not started: it reads the file when it starts.
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
    facts = host.get_fact(ContainerdFacts, path=settings.containerd_config_path)
    address = containerd.grpc_address(plain(facts.text))
    yield sh.command(
        "containerd_apply",
        settings.containerd_config_path,
        backup,
        address,
        str(settings.restart_timeout),
        service,
    )
