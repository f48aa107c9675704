"""The ``nvidia`` runtime in containerd's config.toml (Kubernetes nodes, ``ctr``, nerdctl).

What ``nvidia-ctk runtime configure --runtime=containerd`` does (NVIDIA's
``pkg/config/engine/containerd``), done as a careful merge (:mod:`gpu_docker.toml_merge`):

- the runtime lives under the CRI plugin, whose name depends on the config version:
  ``io.containerd.grpc.v1.cri`` in version 2 (containerd 1.x, which 2.x still reads) and
  ``io.containerd.cri.v1.runtime`` in version 3 (containerd 2.x);
- a new entry starts as a copy of the default runtime's entry (else ``runc``'s), so a
  node's ``SystemdCgroup = true`` carries over: a runtime whose cgroup driver differs from
  the kubelet's breaks pods. Only ``options.BinaryName`` (and ``runtime_type`` where it is
  missing) is then ours; an existing entry keeps every other key the operator set;
- ``default_runtime_name`` only when asked;
- version 1 files (no ``version`` key, or ``version = 1``) use another layout that
  containerd 2.x no longer reads: refused, as ``nvidia-ctk`` has deprecated them too.

A missing or empty file is created with the version the installed containerd writes by
default (2 for containerd 1.x, 3 for 2.x). Plain functions, unit-tested; the fact and the
operations are in ``gpu_docker.facts.containerd`` and ``gpu_docker.operations.containerd``.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gpu_docker.files import MergeResult
from gpu_docker.settings import Settings
from gpu_docker.toml_merge import TomlMergeError, dig, merge, plain

CRI_PLUGINS = {2: "io.containerd.grpc.v1.cri", 3: "io.containerd.cri.v1.runtime"}
RUNC_V2 = "io.containerd.runc.v2"
DEFAULT_ADDRESS = "/run/containerd/containerd.sock"


@dataclass(frozen=True)
class ContainerdHost:
    """containerd's version (empty: not installed), how to restart it, its config file."""

    version: str
    service: str
    target: str
    text: str | None


def default_version(containerd_version: str) -> int:
    """The config version a containerd writes by default: 3 from containerd 2.0, else 2."""
    match = re.search(r"\bv?(\d+)\.\d+", containerd_version)
    return 3 if match and int(match.group(1)) >= 2 else 2


def config_version(data: Mapping[str, Any], containerd_version: str) -> int:
    """The file's config version; raise for the ones we cannot merge into."""
    if not data:
        return default_version(containerd_version)
    version = data.get("version", 1)
    if version not in CRI_PLUGINS:
        raise TomlMergeError(
            f"config version {version!r} is not supported (only 2 and 3; migrate it with "
            "`containerd config migrate`)"
        )
    return int(version)


def binary_path(runtime_path: str) -> str:
    """The shim's ``BinaryName``: absolute, as nvidia-ctk writes it (the shim's PATH is not
    the operator's shell's)."""
    return runtime_path if runtime_path.startswith("/") else f"/usr/bin/{runtime_path}"


def owned(
    data: Mapping[str, Any],
    version: int,
    *,
    runtime_name: str,
    runtime_path: str,
    set_default: bool,
) -> dict[str, Any]:
    """The settings gpu-docker owns in a config holding ``data`` (plain values)."""
    plugin = CRI_PLUGINS[version]
    section = dig(data, "plugins", plugin, "containerd")
    section = section if isinstance(section, Mapping) else {}
    runtimes = section.get("runtimes")
    runtimes = runtimes if isinstance(runtimes, Mapping) else {}
    entry: dict[str, Any]
    if runtime_name in runtimes:
        entry = {}
        if "runtime_type" not in runtimes[runtime_name]:
            entry["runtime_type"] = RUNC_V2
    else:
        base = runtimes.get(section.get("default_runtime_name", "runc")) or runtimes.get("runc")
        entry = copy.deepcopy(dict(base)) if isinstance(base, Mapping) else {}
        entry.setdefault("runtime_type", RUNC_V2)
    entry["options"] = {**entry.get("options", {}), "BinaryName": binary_path(runtime_path)}
    containerd: dict[str, Any] = {"runtimes": {runtime_name: entry}}
    if set_default:
        containerd["default_runtime_name"] = runtime_name
    top: dict[str, Any] = {"plugins": {plugin: {"containerd": containerd}}}
    return {"version": version, **top} if not data else top


def merge_config(
    current_text: str | None,
    *,
    containerd_version: str,
    runtime_name: str,
    runtime_path: str,
    set_default: bool,
) -> MergeResult:
    """Merge the runtime into config.toml's text (``None`` = no file); raises
    :class:`TomlMergeError` for a file that must be left alone."""
    data = plain(current_text)
    version = config_version(data, containerd_version)
    wanted = owned(
        data,
        version,
        runtime_name=runtime_name,
        runtime_path=runtime_path,
        set_default=set_default,
    )
    return merge(current_text, wanted)


def grpc_address(data: Mapping[str, Any]) -> str:
    """The socket containerd listens on with this config (its default unless set)."""
    address = dig(data, "grpc", "address")
    return address if isinstance(address, str) and address else DEFAULT_ADDRESS


def merge_settings(settings: Settings, version: str, text: str | None) -> MergeResult:
    """:func:`merge_config` with the host's settings (runtime, path, default runtime)."""
    return merge_config(
        text,
        containerd_version=version,
        runtime_name=settings.runtime_name,
        runtime_path=settings.runtime_path,
        set_default=settings.containerd_default_runtime,
    )
