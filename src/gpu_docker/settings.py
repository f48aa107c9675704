"""Every piece of host data the deploy reads, declared once, validated once per host.

Operators set these in group data (``inventories/group_data/*.py``), per host in the
inventory, or with ``--data key=value``. The declaration below is the single source of
truth: :func:`load_settings` validates against it, and the settings table in
docs/settings.md is generated from it (``python -m gpu_docker.settings``), so the two never
disagree.

A typo such as ``toolkit_verison`` is an error, not a silently ignored key: host data
that belongs to pyinfra itself (``ssh_*``, ``_sudo`` ...) is the only data let through.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import re
import sys
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from gpu_docker import toolkit

NVIDIA_REPO_URL = "https://nvidia.github.io/libnvidia-container/stable/deb/$(ARCH)"
NVIDIA_KEY_URL = "https://nvidia.github.io/libnvidia-container/gpgkey"
NVIDIA_KEY_FINGERPRINT = "C95B321B61E88C1809C4F759DDCAE044F796ECB0"

InstallMethod = Literal["apt", "offline"]
RestartStrategy = Literal["restart", "reload", "never"]
ContainerEngine = Literal["docker", "containerd", "both", "podman"]
VulnerablePin = Literal["warn", "refuse"]
NvmlSymlinks = Literal["auto", "on", "off"]
RuntimeMode = Literal["auto", "legacy", "cdi"]

# Host data keys owned by pyinfra and its connectors, never by this project.
_FOREIGN_PREFIXES = ("_", "ssh_", "winrm_", "docker_ssh_", "chroot_", "local_", "vagrant_")

_VERSION_RE = re.compile(r"^\d+\.\d+\.\d+(?:[~+.][0-9A-Za-z.~+]+)?(?:-[0-9A-Za-z.~+]+)?$")
_FINGERPRINT_RE = re.compile(r"^[0-9A-F]{40}$")
_RUNTIME_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_USER_RE = re.compile(r"^[a-z_][a-z0-9_-]*[$]?$")  # useradd's default NAME_REGEX
_STAMP_RE = re.compile(r"^\d{8}T\d{6}Z$")
# apt's one-line sources split fields on whitespace and end options at "]": a URL or keyring
# path holding either would add fields (even a second, unsigned source) to the list we write.
_URL_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://[^\s\[\]]+$")
_LIST_FIELD_RE = re.compile(r"^[^\s\[\]]+$")


def _doc(text: str, section: str) -> dict[str, str]:
    return {"doc": text, "section": section}


@dataclass(frozen=True)
class Settings:
    """Validated settings for one host (see the module docstring for where they come from)."""

    # Toolkit.
    toolkit_version: str = field(
        default="1.20.0",
        metadata=_doc(
            "NVIDIA Container Toolkit version pinned for all four packages "
            "(`1.20.0`, or with a deb revision `1.20.0-1`). Quote it on the command line.",
            "Toolkit",
        ),
    )
    install_method: InstallMethod = field(
        default="apt",
        metadata=_doc(
            "`apt` (online: NVIDIA's signed repository) or `offline` (restricted: "
            "an uploaded bundle installed with dpkg). Group data sets it.",
            "Toolkit",
        ),
    )

    release_holds: bool = field(
        default=False,
        metadata=_doc(
            "A toolkit package on hold (`apt-mark hold`) that the install would change fails "
            "the host, naming it. On: the hold is released for the install and put back at "
            "the pinned version. The same for both install methods.",
            "Toolkit",
        ),
    )
    dpkg_lock_timeout: int = field(
        default=300,
        metadata=_doc(
            "Seconds to wait for another apt or dpkg (unattended-upgrades at boot) to release "
            "dpkg's lock before failing the host with the holder's pid and command.",
            "Toolkit",
        ),
    )
    vulnerable_pin: VulnerablePin = field(
        default="warn",
        metadata=_doc(
            "What a pin with open NVIDIA security bulletins does (`gpu-docker advisories "
            "VERSION` lists them): `warn` says so once per host, in the preview and the run, "
            "naming the CVEs and the highest CVSS; `refuse` fails the host before anything is "
            "installed, naming the CVEs and the first version with every fix.",
            "Toolkit",
        ),
    )

    # Online install (apt).
    apt_repo_url: str = field(
        default=NVIDIA_REPO_URL,
        metadata=_doc(
            "Flat apt repository; `$(ARCH)` is expanded by apt. Point it at a mirror "
            "with the same layout if you have one.",
            "Online install",
        ),
    )
    apt_key_url: str = field(
        default=NVIDIA_KEY_URL,
        metadata=_doc(
            "Where the repository's armored public key is fetched from.", "Online install"
        ),
    )
    apt_key_fingerprint: str = field(
        default=NVIDIA_KEY_FINGERPRINT,
        metadata=_doc(
            "Expected primary key fingerprint; a key that does not match is never installed. "
            "Spaces and lower case are accepted.",
            "Online install",
        ),
    )
    apt_keyring_path: str = field(
        default="/usr/share/keyrings/nvidia-container-toolkit-keyring.gpg",
        metadata=_doc(
            "Dearmored keyring the source list's `signed-by` points at.", "Online install"
        ),
    )
    apt_cache_valid_seconds: int = field(
        default=86400,
        metadata=_doc(
            "`apt-get update` runs when the source, key or pinned version changed, or the "
            "cache is older than this and packages must be installed.",
            "Online install",
        ),
    )

    # Offline install (bundles).
    bundle_dir: str = field(
        default="files/debs",
        metadata=_doc(
            "Controller directory holding `<version>/<arch>/manifest.json` bundles. "
            "A relative path is resolved against the project (the folder holding `deploys/`).",
            "Offline install",
        ),
    )
    remote_cache_dir: str = field(
        default="/var/cache/gpu-docker",
        metadata=_doc(
            "Where bundles are uploaded on the host (kept for the next run).", "Offline install"
        ),
    )

    # Docker.
    daemon_json_path: str = field(
        default="/etc/docker/daemon.json",
        metadata=_doc("The daemon.json docker reads (a symlink is followed).", "Docker"),
    )
    runtime_name: str = field(
        default="nvidia",
        metadata=_doc("Name of the runtime entry added under `runtimes`.", "Docker"),
    )
    runtime_path: str = field(
        default="nvidia-container-runtime",
        metadata=_doc("The runtime entry's `path`.", "Docker"),
    )
    set_default_runtime: bool = field(
        default=False,
        metadata=_doc(
            "Also set `default-runtime` to the runtime (off: an existing value is kept).", "Docker"
        ),
    )
    daemon_json_extra: dict[str, Any] = field(
        default_factory=dict,
        metadata=_doc(
            "Extra settings merged into daemon.json (objects merged key by key). "
            "On the command line give a JSON object.",
            "Docker",
        ),
    )
    restart_strategy: RestartStrategy = field(
        default="restart",
        metadata=_doc(
            "How docker picks up a change: `restart`, `reload` (SIGHUP, enough for a new "
            "runtime; containers keep running), or `never` (report that a restart is pending).",
            "Docker",
        ),
    )
    restart_timeout: int = field(
        default=60,
        metadata=_doc(
            "Seconds to wait for docker to answer after a restart before rolling back.", "Docker"
        ),
    )
    start_docker: bool = field(
        default=True,
        metadata=_doc(
            "Start docker when it is not running before the deploy (waiting `restart_timeout`). "
            "Off: such a host fails with a message saying so and is left untouched.",
            "Docker",
        ),
    )
    live_restore: bool = field(
        default=False,
        metadata=_doc(
            'Set `"live-restore": true` in daemon.json, so containers keep running while '
            "dockerd restarts (it is switched on live first, so even that restart spares them).",
            "Docker",
        ),
    )

    # containerd (Kubernetes nodes, nerdctl): see gpu_docker.containerd.
    container_engine: ContainerEngine = field(
        default="docker",
        metadata=_doc(
            "Which engine gets the runtime and is verified: `docker` (daemon.json), "
            "`containerd` (its config.toml; docker not needed), `both`, or `podman` (CDI "
            "only: the spec, no runtime config). verify checks these engines and only these.",
            "containerd",
        ),
    )
    containerd_config_path: str = field(
        default="/etc/containerd/config.toml",
        metadata=_doc(
            "containerd's config (versions 2 and 3 merged; version 1 refused). A missing "
            "file is created with the installed containerd's default version.",
            "containerd",
        ),
    )
    containerd_default_runtime: bool = field(
        default=False,
        metadata=_doc(
            "Also make the runtime containerd's CRI `default_runtime_name` (off: an existing "
            "value is kept).",
            "containerd",
        ),
    )

    # CDI: see gpu_docker.cdi for why it is off by default.
    cdi: bool = field(
        default=False,
        metadata=_doc(
            "CDI devices (`docker run --device nvidia.com/gpu=all`): the spec "
            "/etc/cdi/nvidia.yaml generated where a driver is (again only when the driver or "
            "toolkit changed), or on systemd hosts with toolkit 1.18+ the toolkit's "
            "nvidia-cdi-refresh units enabled to keep /var/run/cdi/nvidia.yaml current; "
            "`features.cdi` merged into daemon.json on docker 25+. Off by default: without "
            "those units (toolkit 1.17, sysv hosts) a driver upgrade leaves the spec stale "
            "until the next run, and docker before 25 cannot use it; `--gpus all` needs none "
            "of it.",
            "CDI",
        ),
    )

    # NVML "Unknown Error" mitigation: see gpu_docker.nvml.
    nvml_symlinks: NvmlSymlinks = field(
        default="auto",
        metadata=_doc(
            "`/dev/char` links for the NVIDIA devices (`nvidia-ctk system "
            "create-dev-char-symlinks --create-all`) and NVIDIA's udev rule, against "
            '"Failed to initialize NVML: Unknown Error" after `systemctl daemon-reload`. '
            "`auto`: only where docker uses the systemd cgroup driver (the one affected).",
            "NVML",
        ),
    )

    # /etc/nvidia-container-runtime/config.toml: see gpu_docker.runtime_config.
    runtime_mode: RuntimeMode | None = field(
        default=None,
        metadata=_doc(
            "The runtime's `mode` in /etc/nvidia-container-runtime/config.toml: `auto`, "
            "`legacy` (hook and nvidia-container-cli) or `cdi` (CDI specs only: set `cdi` "
            "too). Unset: the file's value is kept. Takes effect for the next container, "
            "no restart.",
            "Runtime config",
        ),
    )
    runtime_ldconfig: str | None = field(
        default=None,
        metadata=_doc(
            "`nvidia-container-cli.ldconfig`: `@` + a path runs the host's ldconfig "
            "(`@/sbin/ldconfig.real` on Ubuntu), a bare absolute path the container's. "
            "Unset: kept.",
            "Runtime config",
        ),
    )
    runtime_debug_log: str | None = field(
        default=None,
        metadata=_doc(
            "`nvidia-container-runtime.debug`: the runtime's debug log file (absolute path). "
            "Unset: kept.",
            "Runtime config",
        ),
    )
    runtime_cli_debug_log: str | None = field(
        default=None,
        metadata=_doc(
            "`nvidia-container-cli.debug`: nvidia-container-cli's debug log file (absolute "
            "path). Unset: kept.",
            "Runtime config",
        ),
    )

    # Rootless docker: see gpu_docker.rootless.
    rootless_users: list[str] = field(
        default_factory=list,
        metadata=_doc(
            "Users whose rootless docker gets the runtime: their `~/.config/docker/daemon.json` "
            "merged (as them), their docker restarted with `systemctl --user` when it changed, "
            "and `nvidia-container-cli.no-cgroups = true` host-wide. A host that also runs "
            "rootful docker or containerd is refused unless `runtime_mode` is `cdi` (see "
            "docs/rootless.md). On the command line give a JSON list.",
            "Rootless docker",
        ),
    )

    # Checks.
    require_driver: bool = field(
        default=True,
        metadata=_doc(
            "Fail hosts without an NVIDIA driver. Turn off to bake images on GPU-less hosts.",
            "Checks",
        ),
    )
    smoke_test_image: str | None = field(
        default=None,
        metadata=_doc(
            "An operator's own image with nvidia-smi, run as one more check where GPUs "
            "answer (`docker run --gpus all IMAGE nvidia-smi -L`; pulled if missing). The "
            "built-in checks need no image: they use `gpu-docker-probe`, made on the host.",
            "Checks",
        ),
    )
    report_path: str | None = field(
        default=None,
        metadata=_doc(
            "`deploys/verify.py` writes its JSON fleet report here on the controller "
            "(`--data report_path=verify.json`); unset: only the table is printed.",
            "Checks",
        ),
    )

    # Rollback (deploys/rollback.py).
    rollback_backup: str = field(
        default="latest",
        metadata=_doc(
            "Which daemon.json backup `deploys/rollback.py` puts back: `latest`, or the UTC "
            "stamp of a run (`20250131T120000Z`, as in `daemon.json.gpu-docker-<stamp>.bak`).",
            "Rollback",
        ),
    )
    rollback_remove_packages: bool = field(
        default=False,
        metadata=_doc(
            "`deploys/rollback.py` also removes the four toolkit packages (and the apt pin).",
            "Rollback",
        ),
    )

    @property
    def deb_version(self) -> str:
        """The Debian version of every package (`1.17.8-1`): NVIDIA's debs carry revision 1."""
        return toolkit.deb_version(self.toolkit_version)

    @property
    def uses_docker(self) -> bool:
        """docker gets the runtime (and must be installed)."""
        return self.container_engine in ("docker", "both")

    @property
    def uses_containerd(self) -> bool:
        """containerd's config.toml gets the runtime."""
        return self.container_engine in ("containerd", "both")

    @property
    def uses_podman(self) -> bool:
        """podman gets GPUs through the CDI spec (NVIDIA supports it through CDI only)."""
        return self.container_engine == "podman"

    @property
    def uses_cdi(self) -> bool:
        """The CDI spec is generated: asked for (``cdi``), or podman's only way to GPUs."""
        return self.cdi or self.uses_podman

    @property
    def upstream_version(self) -> str:
        """The version without the deb revision, as bundle directories are named."""
        return toolkit.upstream_version(self.toolkit_version)


class SettingsError(ValueError):
    """Bad host data; the message names the host and the key."""

    def __init__(self, host: str, key: str, problem: str) -> None:
        super().__init__(f"{host}: setting {key!r}: {problem}")
        self.host = host
        self.key = key
        self.problem = f"setting {key!r}: {problem}"


def _fields() -> dict[str, dataclasses.Field[Any]]:
    return {f.name: f for f in dataclasses.fields(Settings)}


def _type_name(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    if origin is Literal:
        return " or ".join(f"`{a}`" for a in typing.get_args(annotation))
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(annotation))
    if annotation is type(None):
        return "unset"
    if origin is dict:
        return "object"
    if origin is list:
        return "list of strings"
    return getattr(annotation, "__name__", str(annotation))


def _from_json(host: str, key: str, value: Any, kind: str) -> Any:
    """A value given as JSON text (``--data key='{...}'``), parsed; any other as it is."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except json.JSONDecodeError as exc:
        raise SettingsError(host, key, f"not a JSON {kind}: {exc}") from None


def _coerce(host: str, key: str, value: Any, annotation: Any) -> Any:
    """Check one value against its declared type; JSON text is accepted for objects."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(annotation)
        if value is None and type(None) in options:
            return None
        non_none = [a for a in options if a is not type(None)]
        return _coerce(host, key, value, non_none[0])
    if origin is Literal:
        choices = typing.get_args(annotation)
        if value not in choices:
            raise SettingsError(
                host, key, f"must be one of {_type_name(annotation)}, got {value!r}"
            )
        return value
    if origin is dict:
        value = _from_json(host, key, value, "object")
        if not isinstance(value, dict):
            raise SettingsError(host, key, f"must be an object, got {type(value).__name__}")
        return value
    if origin is list:
        value = _from_json(host, key, value, "list")
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            raise SettingsError(host, key, f"must be a list of strings, got {value!r}")
        return list(value)
    if annotation is bool:
        if not isinstance(value, bool):
            raise SettingsError(host, key, f"must be true or false, got {value!r}")
        return value
    if annotation is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise SettingsError(host, key, f"must be an integer, got {value!r}")
        return value
    if annotation is str:
        if not isinstance(value, str):
            hint = ""
            if isinstance(value, float):
                hint = " (a version given as a number was parsed as a float: quote it)"
            raise SettingsError(
                host, key, f"must be a string, got {type(value).__name__} {value!r}{hint}"
            )
        return value
    raise TypeError(f"unsupported settings type for {key}: {annotation!r}")


def _normalise(host: str, values: dict[str, Any]) -> dict[str, Any]:
    """Value checks beyond the type: versions, fingerprints, names, numbers."""
    version = values.get("toolkit_version")
    if version is not None and not _VERSION_RE.match(version):
        raise SettingsError(host, "toolkit_version", f"{version!r} is not a version like '1.17.8'")
    fingerprint = values.get("apt_key_fingerprint")
    if fingerprint is not None:
        compact = re.sub(r"\s+", "", fingerprint).upper().removeprefix("0X")
        if not _FINGERPRINT_RE.match(compact):
            raise SettingsError(
                host, "apt_key_fingerprint", f"{fingerprint!r} is not a 40-hex-digit fingerprint"
            )
        values["apt_key_fingerprint"] = compact
    name = values.get("runtime_name")
    if name is not None and not _RUNTIME_NAME_RE.match(name):
        raise SettingsError(host, "runtime_name", f"{name!r} is not a valid runtime name")
    if name == "runc":
        raise SettingsError(host, "runtime_name", "'runc' is reserved by docker")
    for key in ("restart_timeout", "apt_cache_valid_seconds", "dpkg_lock_timeout"):
        if key in values and values[key] <= 0:
            raise SettingsError(host, key, f"must be positive, got {values[key]}")
    backup = values.get("rollback_backup")
    if backup is not None and backup != "latest" and not _STAMP_RE.match(backup):
        raise SettingsError(
            host,
            "rollback_backup",
            f"{backup!r} is neither 'latest' nor a stamp like 20250131T120000Z",
        )
    for key in (
        "daemon_json_path",
        "remote_cache_dir",
        "apt_keyring_path",
        "containerd_config_path",
    ):
        if key in values and not values[key].startswith("/"):
            raise SettingsError(host, key, f"must be an absolute path, got {values[key]!r}")
    for key in ("runtime_debug_log", "runtime_cli_debug_log"):
        if values.get(key) is not None and not values[key].startswith("/"):
            raise SettingsError(host, key, f"must be an absolute path, got {values[key]!r}")
    ldconfig = values.get("runtime_ldconfig")
    if ldconfig is not None and not ldconfig.removeprefix("@").startswith("/"):
        raise SettingsError(
            host,
            "runtime_ldconfig",
            f"{ldconfig!r} is neither '@/host/path' nor an absolute path in the container",
        )
    for user in values.get("rootless_users", []):
        if not _USER_RE.match(user) or user == "root":
            raise SettingsError(
                host, "rootless_users", f"{user!r} is not the login name of a non-root user"
            )
    for key in ("apt_repo_url", "apt_key_url"):
        if key in values and not _URL_RE.match(values[key]):
            raise SettingsError(
                host, key, f"{values[key]!r} is not a URL (scheme://..., no spaces or brackets)"
            )
    keyring = values.get("apt_keyring_path")
    if keyring is not None and not _LIST_FIELD_RE.match(keyring):
        raise SettingsError(
            host,
            "apt_keyring_path",
            f"{keyring!r} cannot be named in an apt source (no spaces or brackets)",
        )
    return values


def is_foreign_key(key: str) -> bool:
    """True for host data that belongs to pyinfra or its connectors, not to gpu-docker."""
    return key.startswith(_FOREIGN_PREFIXES)


def load_settings(host: str, data: Mapping[str, Any]) -> Settings:
    """Validate one host's data (group + host + ``--data``) into :class:`Settings`.

    Raises :class:`SettingsError` naming the host and the first bad key; unknown keys
    are reported with the closest known name, because they are nearly always typos.
    """
    fields = _fields()
    hints = typing.get_type_hints(Settings)
    values: dict[str, Any] = {}
    for key, value in data.items():
        if is_foreign_key(key):
            continue
        if key not in fields:
            raise SettingsError(host, key, f"unknown setting{_suggest(key, fields)}")
        values[key] = _coerce(host, key, value, hints[key])
    return Settings(**_normalise(host, values))


def _suggest(key: str, known: Mapping[str, object]) -> str:
    close = difflib.get_close_matches(key, list(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def settings_table() -> str:
    """The settings table of docs/settings.md, generated from the declaration above."""
    hints = typing.get_type_hints(Settings)
    rows = ["| setting | type | default | meaning |", "|---|---|---|---|"]
    section = None
    for f in dataclasses.fields(Settings):
        if f.metadata["section"] != section:
            section = f.metadata["section"]
            rows.append(f"| **{section}** | | | |")
        default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
        rows.append(
            f"| `{f.name}` | {_type_name(hints[f.name])} | `{json.dumps(default)}` | "
            f"{f.metadata['doc']} |"
        )
    return "\n".join(rows)


if __name__ == "__main__":
    sys.stdout.write(settings_table() + "\n")
