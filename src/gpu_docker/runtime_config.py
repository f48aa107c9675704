"""The settings gpu-docker owns in the toolkit's ``/etc/nvidia-container-runtime/config.toml``.

The base package's postinst writes that file (``nvidia-ctk config --in-place``) and
operators edit it by hand (debug logs while chasing a bug, ``ldconfig.real`` on Ubuntu),
so gpu-docker never writes it whole. That postinst runs on every install and upgrade
(1.17 to 1.20 alike) and rewrites the file in nvidia-ctk's own formatting (comments go);
before 1.20.0 the rewrite also comments out keys set to NVIDIA's default value (a debug
log at the default path, say: "prevent config option from reverting modified
configurations", 1.20.0). So the merge runs after the install and reads the file then:
what the package reverted is merged again, and a run that installs nothing finds its
keys in place and changes nothing. Only the keys whose setting is set are merged in, with
:mod:`gpu_docker.toml_merge` (comments, order and every other key keep their bytes). An
unset setting leaves its key, whatever it holds, alone; with none set the file is not
even read.

Which key each setting owns (NVIDIA's names, ``pkg/config`` of the toolkit):

- ``runtime_mode`` -> ``nvidia-container-runtime.mode``: ``auto`` (the package's default:
  CDI where the container asks for CDI devices, else legacy), ``legacy`` (the prestart
  hook and ``nvidia-container-cli``) or ``cdi`` (devices only from CDI specs, which then
  must exist: the ``cdi`` setting generates them);
- ``runtime_ldconfig`` -> ``nvidia-container-cli.ldconfig``: ``@`` + a path runs the
  host's ldconfig (``@/sbin/ldconfig.real`` on Ubuntu), a bare path the container's;
- ``runtime_debug_log`` -> ``nvidia-container-runtime.debug`` and
  ``runtime_cli_debug_log`` -> ``nvidia-container-cli.debug``: where each writes its
  debug log (the package ships both commented out);
- rootless docker (``rootless_users``) -> ``nvidia-container-cli.no-cgroups = true``:
  an unprivileged dockerd cannot write device cgroups, so the CLI must not try (see
  :mod:`gpu_docker.rootless` for what that means for rootful engines on the same host).

No engine restart follows a change: the runtime and its hook read the file for every
container they set up, so the next container sees it; running containers keep what they
started with. Plain functions, no pyinfra import: unit-tested.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gpu_docker.files import RemoteFile
from gpu_docker.settings import Settings
from gpu_docker.toml_merge import TomlMergeError, merge

CONFIG_PATH = "/etc/nvidia-container-runtime/config.toml"
RUNTIME_TABLE = "nvidia-container-runtime"
CLI_TABLE = "nvidia-container-cli"


def owned(settings: Settings) -> dict[str, Any]:
    """The keys the settings set, as nested tables (empty: the file is left alone)."""
    runtime: dict[str, Any] = {}
    cli: dict[str, Any] = {}
    if settings.runtime_mode is not None:
        runtime["mode"] = settings.runtime_mode
    if settings.runtime_debug_log is not None:
        runtime["debug"] = settings.runtime_debug_log
    if settings.runtime_ldconfig is not None:
        cli["ldconfig"] = settings.runtime_ldconfig
    if settings.runtime_cli_debug_log is not None:
        cli["debug"] = settings.runtime_cli_debug_log
    if settings.rootless_users:
        cli["no-cgroups"] = True
    found: dict[str, Any] = {}
    if runtime:
        found[RUNTIME_TABLE] = runtime
    if cli:
        found[CLI_TABLE] = cli
    return found


def notes(settings: Settings) -> list[str]:
    """Warnings about settings that converge but will not do what the operator likely wants."""
    found = []
    if settings.runtime_mode == "cdi" and not settings.cdi:
        found.append(
            "runtime_mode=cdi takes GPUs only from CDI specs, and cdi is off: gpu-docker "
            "generates no /etc/cdi/nvidia.yaml, so GPU containers fail unless a spec is "
            "made another way (set cdi=true)"
        )
    return found


def problems(current: RemoteFile, owned: Mapping[str, Any]) -> list[str]:
    """Why the file as it is now cannot take the settings; found before anything changes.

    The install's postinst may rewrite the file later in the run, so the merge checks again.
    """
    if not owned:
        return []
    try:
        merge(current.text, owned)
    except TomlMergeError as exc:
        return [f"{current.target}: {exc}; left untouched, fix it and run again"]
    return []
