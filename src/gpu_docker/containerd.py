"""The ``nvidia`` runtime in containerd's config.toml (Kubernetes nodes, ``ctr``, nerdctl).

What ``nvidia-ctk runtime configure --runtime=containerd`` does (NVIDIA's
``pkg/config/engine/containerd``), done as a careful merge (:mod:`gpu_docker.toml_merge`):

- the runtime lives under the CRI plugin, whose name depends on the config version:
  ``io.containerd.grpc.v1.cri`` in version 2 (containerd 1.x, which 2.x still reads) and
  ``io.containerd.cri.v1.runtime`` in version 3 (containerd 2.x);
- a new entry starts as a copy of a low-level runtime's entry: the default runtime's,
  unless that is an ``nvidia*`` one (a copy would bring its annotations and binary along),
  else ``runc``'s, else ``crun``'s. So a node's ``SystemdCgroup = true`` carries over: a
  runtime whose cgroup driver differs from the kubelet's breaks pods;
- ``runtime_type`` is ``io.containerd.runc.v2`` where it is missing or empty: CRI reads
  ``options`` (where ``BinaryName`` lives) as runc options only for a runc type, so an
  empty one would run pods without nvidia-container-runtime;
- ``options.BinaryName`` is ours; an existing entry keeps every other key the operator set;
- ``default_runtime_name`` only when asked; ``enable_cdi`` on the CRI plugin with ``cdi``
  (off by default before containerd 2.0; containerd 1.6 has no CDI, so none there);
- version 1 files (no ``version`` key, or ``version = 1``) use another layout that
  containerd 2.x no longer reads: refused, as ``nvidia-ctk`` has deprecated them too; a
  version 3 file on containerd 1.x is refused too: 1.x's CRI plugin is the version 2 one,
  so a runtime in the version 3 section would never reach it.

**Imports.** containerd merges the files config.toml ``imports`` (NVIDIA's drop-in
/etc/containerd/conf.d/99-nvidia.toml among them) over it, and before containerd 2.1 an
imported file's plugin section *replaces* config.toml's whole section. So the file alone
does not say what containerd runs: :func:`plan` reads the effective configuration
(``containerd config dump``). Where it already holds the runtime as wanted, nothing is
written, whichever file it comes from; where an imported file would shadow the edit, the
host is refused naming that file (an edit config.toml cannot make effective). gpu-docker
does not write a drop-in itself: before 2.1 a drop-in must carry a full copy of
config.toml's CRI section, which would then silently shadow the operator's later edits of
that section in config.toml.

A missing or empty file is created with the version the installed containerd writes by
default (2 for containerd 1.x, 3 for 2.x). Plain functions, unit-tested; the fact and the
operations are in ``gpu_docker.facts.containerd`` and ``gpu_docker.operations.containerd``.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from gpu_docker.files import MergeResult
from gpu_docker.settings import Settings
from gpu_docker.toml_merge import TomlMergeError, dig, merge, plain

CRI_PLUGINS = {2: "io.containerd.grpc.v1.cri", 3: "io.containerd.cri.v1.runtime"}
RUNC_V2 = "io.containerd.runc.v2"
LOW_LEVEL = ("runc", "crun")
DEFAULT_ADDRESS = "/run/containerd/containerd.sock"
# containerd 2.1 merges an imported file's plugin section key by key; before, whole.
DEEP_IMPORTS = (2, 1)
# CRI's enable_cdi exists from containerd 1.7 (on by default from 2.0).
FIRST_CDI = (1, 7)


@dataclass(frozen=True)
class ContainerdHost:
    """containerd's version (empty: not installed), how to restart it, its config file,
    the effective config (``containerd config dump``; ``None``: it could not be read) and
    the files containerd imported for it (path -> text)."""

    version: str
    service: str
    target: str
    text: str | None
    dump: str | None = None
    imports: dict[str, str] = field(default_factory=dict)


def release(containerd_version: str) -> tuple[int, int] | None:
    """``(major, minor)`` of ``containerd --version``'s line, ``None`` if it has none."""
    match = re.search(r"\bv?(\d+)\.(\d+)", containerd_version)
    return (int(match.group(1)), int(match.group(2))) if match else None


def supports_cdi(containerd_version: str) -> bool:
    """containerd 1.7+ reads CRI's ``enable_cdi``; 1.6 knows no CDI (its dump drops the key)."""
    return (release(containerd_version) or (0, 0)) >= FIRST_CDI


def default_version(containerd_version: str) -> int:
    """The config version a containerd writes by default: 3 from containerd 2.0, else 2."""
    found = release(containerd_version)
    return 3 if found and found[0] >= 2 else 2


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
    found = release(containerd_version)
    if version == 3 and found is not None and found < (2, 0):
        raise TomlMergeError(
            f"config version 3 is containerd 2.x's; containerd {found[0]}.{found[1]} has no "
            f"{CRI_PLUGINS[3]} plugin, so a runtime there would never reach CRI (use version 2)"
        )
    return int(version)


def binary_path(runtime_path: str) -> str:
    """The shim's ``BinaryName``: absolute, as nvidia-ctk writes it (the shim's PATH is not
    the operator's shell's)."""
    return runtime_path if runtime_path.startswith("/") else f"/usr/bin/{runtime_path}"


def base_runtime(containerd: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The entry a new runtime copies: the default runtime's unless it is an ``nvidia*``
    one, else ``runc``'s, else ``crun``'s (nvidia-ctk's ``GetLowLevelRuntimes``)."""
    runtimes = containerd.get("runtimes")
    if not isinstance(runtimes, Mapping):
        return None
    default = containerd.get("default_runtime_name")
    names = list(LOW_LEVEL)
    if isinstance(default, str) and default and not default.startswith("nvidia"):
        names.insert(0, default)
    for name in names:
        entry = runtimes.get(name)
        if isinstance(entry, Mapping):
            return entry
    return None


def owned(
    data: Mapping[str, Any],
    version: int,
    *,
    runtime_name: str,
    runtime_path: str,
    set_default: bool,
    cdi: bool = False,
) -> dict[str, Any]:
    """The settings gpu-docker owns in a config holding ``data`` (plain values)."""
    plugin = CRI_PLUGINS[version]
    section = dig(data, "plugins", plugin, "containerd")
    section = section if isinstance(section, Mapping) else {}
    runtimes = section.get("runtimes")
    runtimes = runtimes if isinstance(runtimes, Mapping) else {}
    entry: dict[str, Any]
    existing = runtimes.get(runtime_name)
    if isinstance(existing, Mapping):  # the operator's keys stay, merged key by key
        entry = {} if existing.get("runtime_type") else {"runtime_type": RUNC_V2}
        entry["options"] = {"BinaryName": binary_path(runtime_path)}
    else:
        base = base_runtime(section)
        entry = copy.deepcopy(dict(base)) if base is not None else {}
        if not entry.get("runtime_type"):
            entry["runtime_type"] = RUNC_V2
        options = entry.get("options")
        options = options if isinstance(options, Mapping) else {}
        entry["options"] = {**options, "BinaryName": binary_path(runtime_path)}
    containerd: dict[str, Any] = {"runtimes": {runtime_name: entry}}
    if set_default:
        containerd["default_runtime_name"] = runtime_name
    cri: dict[str, Any] = {"containerd": containerd}
    if cdi:
        cri["enable_cdi"] = True
    top: dict[str, Any] = {"plugins": {plugin: cri}}
    return {"version": version, **top} if not data else top


def merge_config(
    current_text: str | None,
    *,
    containerd_version: str,
    runtime_name: str,
    runtime_path: str,
    set_default: bool,
    cdi: bool = False,
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
        cdi=cdi,
    )
    return merge(current_text, wanted)


def missing(
    effective: Mapping[str, Any],
    version: int,
    *,
    runtime_name: str,
    runtime_path: str,
    set_default: bool,
    cdi: bool,
) -> list[str]:
    """What the effective config (``containerd config dump``) lacks of the runtime:
    empty when containerd runs it as gpu-docker would write it."""
    plugin = CRI_PLUGINS[version]
    where = f'plugins."{plugin}"'
    cri = dig(effective, "plugins", plugin)
    cri = cri if isinstance(cri, Mapping) else {}
    entry = dig(cri, "containerd", "runtimes", runtime_name)
    if not isinstance(entry, Mapping):
        return [f"no {where}.containerd.runtimes.{runtime_name}"]
    lacking = []
    runtime_type = entry.get("runtime_type")
    if not (isinstance(runtime_type, str) and runtime_type.startswith("io.containerd.runc.")):
        lacking.append(f"{runtime_name}'s runtime_type is {runtime_type!r}, not {RUNC_V2!r}")
    binary = dig(entry, "options", "BinaryName")
    if binary != binary_path(runtime_path):
        lacking.append(f"{runtime_name}'s options.BinaryName is {binary!r}")
    if set_default and dig(cri, "containerd", "default_runtime_name") != runtime_name:
        lacking.append(f"default_runtime_name is not {runtime_name!r}")
    if cdi and cri.get("enable_cdi") is not True:
        lacking.append("enable_cdi is not true")
    return lacking


def _leaves(data: Mapping[str, Any], path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """The key paths of ``data``'s non-table values."""
    for key, value in data.items():
        if isinstance(value, Mapping):
            yield from _leaves(value, (*path, key))
        else:
            yield (*path, key)


def shadowing(
    imports: Mapping[str, str],
    wanted: Mapping[str, Any],
    containerd_version: str,
) -> list[str]:
    """The imported files whose settings win over gpu-docker's edit of config.toml.

    Before containerd 2.1 any imported file holding a CRI plugin section replaces
    config.toml's whole section; from 2.1 only the keys it sets win, so only a file that
    sets one of the keys gpu-docker owns (``wanted``) shadows the edit.
    """
    deep = (release(containerd_version) or (0, 0)) >= DEEP_IMPORTS
    owned_leaves = [leaf[2:] for leaf in _leaves(wanted) if leaf[0] == "plugins"]
    found = []
    for path, text in imports.items():
        try:
            data = plain(text)
        except TomlMergeError:
            continue  # containerd itself refuses such a file; its check says so
        for plugin in CRI_PLUGINS.values():
            section = dig(data, "plugins", plugin)
            if not isinstance(section, Mapping):
                continue
            if not deep or any(dig(section, *leaf) is not None for leaf in owned_leaves):
                found.append(path)
                break
    return found


def plan(settings: Settings, facts: ContainerdHost) -> MergeResult:
    """What to write into config.toml, judged on the effective configuration too.

    Unchanged when ``containerd config dump`` already shows the runtime as wanted and an
    imported drop-in carries it; :class:`TomlMergeError` naming the file when an imported
    file would shadow the edit; else :func:`merge_settings`.
    """
    result = merge_settings(settings, facts.version, facts.text)
    if facts.dump is None:
        return result
    try:
        effective = plain(facts.dump)
    except TomlMergeError:
        return result  # the candidate check reads containerd's own verdict
    data = plain(facts.text)
    version = config_version(data, facts.version)
    dumped = effective.get("version")
    lacking = missing(
        effective,
        dumped if dumped in CRI_PLUGINS else version,
        runtime_name=settings.runtime_name,
        runtime_path=settings.runtime_path,
        set_default=settings.containerd_default_runtime,
        cdi=settings.cdi and supports_cdi(facts.version),
    )
    if not lacking and not result.changed:
        return result
    wanted = owned(
        data,
        version,
        runtime_name=settings.runtime_name,
        runtime_path=settings.runtime_path,
        set_default=settings.containerd_default_runtime,
        cdi=settings.cdi and supports_cdi(facts.version),
    )
    shadows = shadowing(facts.imports, wanted, facts.version)
    if not shadows:
        return result
    if not lacking:  # an imported drop-in already carries it: config.toml stays as it is
        return MergeResult(changed=False, text=facts.text or "", data=data)
    how = "sets" if (release(facts.version) or (0, 0)) >= DEEP_IMPORTS else "replaces"
    raise TomlMergeError(
        f"containerd's effective config (containerd config dump) lacks the runtime "
        f"({'; '.join(lacking)}) and {', '.join(shadows)}, which it imports, {how} its "
        f'[plugins."{CRI_PLUGINS[version]}"] settings: an edit of this file would not take '
        "effect; put the runtime into that file or drop the import"
    )


def grpc_address(data: Mapping[str, Any]) -> str:
    """The socket containerd listens on with this config (its default unless set)."""
    address = dig(data, "grpc", "address")
    return address if isinstance(address, str) and address else DEFAULT_ADDRESS


def merge_settings(settings: Settings, version: str, text: str | None) -> MergeResult:
    """:func:`merge_config` with the host's settings (runtime, path, default runtime, CDI
    where this containerd has it)."""
    return merge_config(
        text,
        containerd_version=version,
        runtime_name=settings.runtime_name,
        runtime_path=settings.runtime_path,
        set_default=settings.containerd_default_runtime,
        cdi=settings.cdi and supports_cdi(version),
    )
