"""nvidia-ctk's own engine test cases, held against gpu-docker's merges.

The inputs and expected results are those of the table-driven tests of
NVIDIA/nvidia-container-toolkit v1.20.0 (``pkg/config/engine/containerd/config_test.go``
``TestAddRuntime``, ``config_v1_test.go``, ``pkg/config/engine/docker/docker_test.go``
``TestUpdateConfigDefaultRuntime``/``TestUpdateConfigRuntimes``, and the containerd and docker
cases of ``cmd/nvidia-ctk/runtime/configure/configure_test.go``), written out here as data;
NVIDIA's runtime there is ``test`` at ``/usr/bin/test``. Each case either agrees (``nvidia``
is also gpu-docker's result) or is a deliberate difference: then ``differs`` says why and the
test holds gpu-docker to its own result *and* checks that it really is not NVIDIA's, so a
difference cannot vanish or appear unnoticed. The differences are listed for operators in
docs (containerd page) with the same reasons.

Since v1.17.8 (the toolkit gpu-docker pins) NVIDIA added the "empty config, set as default"
and "empty runtime_type copied from runc" cases, and nvidia-ctk 1.18+ writes containerd's
runtime into a drop-in (``/etc/containerd/conf.d/99-nvidia.toml``) imported by
config.toml; docker's cases are unchanged.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
import tomlkit

from gpu_docker import containerd, daemon_json, rootless
from gpu_docker.cdi import daemon_json_owned as cdi_owned
from gpu_docker.settings import load_settings
from gpu_docker.toml_merge import TomlMergeError

CONTAINERD_1 = "containerd github.com/containerd/containerd 1.7.24"
CONTAINERD_2 = "containerd github.com/containerd/containerd/v2 v2.1.1 cb1076646aa3"
V2 = "io.containerd.grpc.v1.cri"
V3 = "io.containerd.cri.v1.runtime"
# What nvidia-ctk writes for a runtime with no low-level runtime to copy from.
NVIDIA_FALLBACK = {
    "privileged_without_host_devices": False,
    "runtime_engine": "",
    "runtime_root": "",
    "runtime_type": "io.containerd.runc.v2",
}
NO_DEPRECATED_DEFAULTS = (
    "no entry to copy: gpu-docker writes runtime_type and options only, not nvidia-ctk's "
    "default-valued privileged_without_host_devices/runtime_engine/runtime_root (the last two "
    "are deprecated and gone from containerd 2.x's config); containerd reads the same values"
)


def entry(
    runtime_type: str,
    binary: str,
    *,
    privileged: bool | None = None,
    engine: str | None = None,
    root: str | None = None,
    **options: Any,
) -> dict[str, Any]:
    """A CRI runtime entry as the cases write it (keys left out where they are not set)."""
    found: dict[str, Any] = {"runtime_type": runtime_type}
    if privileged is not None:
        found["privileged_without_host_devices"] = privileged
    if engine is not None:
        found["runtime_engine"] = engine
    if root is not None:
        found["runtime_root"] = root
    found["options"] = {"BinaryName": binary, **options}
    return found


def config(version: int, runtimes: dict[str, Any], default: str | None = None) -> dict[str, Any]:
    """A version 2 or 3 config holding ``runtimes`` (and ``default_runtime_name``)."""
    section: dict[str, Any] = {"runtimes": runtimes}
    if default is not None:
        section["default_runtime_name"] = default
    plugin = V2 if version == 2 else V3
    return {"version": version, "plugins": {plugin: {"containerd": section}}}


def toml_text(data: dict[str, Any]) -> str:
    """The case's input as a file (tomlkit writes the same data NVIDIA's text holds)."""
    return tomlkit.dumps(data)


RUNC_ENGINE = entry(
    "type", "/usr/bin/runc", privileged=True, engine="engine", root="root", SystemdCgroup=True
)
DEFAULT_AS_RUNC = entry(
    "type", "/usr/bin/default", privileged=True, engine="engine", root="root", SystemdCgroup=True
)
TEST_FROM_RUNC = entry(
    "type", "/usr/bin/test", privileged=True, engine="engine", root="root", SystemdCgroup=True
)
DEFAULT_ENGINE = entry(
    "defaulttype",
    "/usr/bin/default",
    privileged=False,
    engine="defaultengine",
    root="defaultroot",
    SystemdCgroup=False,
)
TEST_FROM_DEFAULT = entry(
    "defaulttype",
    "/usr/bin/test",
    privileged=False,
    engine="defaultengine",
    root="defaultroot",
    SystemdCgroup=False,
)
EXISTING_TEST = entry(
    "io.containerd.runc.v2", "/usr/bin/test", privileged=False, engine="", root=""
)


@dataclass(frozen=True)
class Case:
    """One nvidia-ctk case: input (``None``: no file), the flags, NVIDIA's result, and
    gpu-docker's where it deliberately differs (``differs`` says why; ``gpu_docker`` is
    ``TomlMergeError`` where gpu-docker refuses the file)."""

    source: str
    given: dict[str, Any] | None
    nvidia: dict[str, Any]
    set_default: bool = False
    cdi: bool = False
    name: str = "test"
    path: str = "/usr/bin/test"
    differs: str = ""
    gpu_docker: Any = None


def with_default(data: dict[str, Any], name: str) -> dict[str, Any]:
    plugin = next(iter(data["plugins"]))
    data["plugins"][plugin]["containerd"]["default_runtime_name"] = name
    return data


def new_test(version: int) -> dict[str, Any]:
    """gpu-docker's entry where nothing can be copied."""
    return config(version, {"test": entry("io.containerd.runc.v2", "/usr/bin/test")})


CONTAINERD_CASES = {
    # config_test.go TestAddRuntime
    "empty config not default runtime": Case(
        "config_test.go",
        None,
        config(2, {"test": {**NVIDIA_FALLBACK, "options": {"BinaryName": "/usr/bin/test"}}}),
        differs=NO_DEPRECATED_DEFAULTS,
        gpu_docker=new_test(2),
    ),
    "empty config, set as default runtime": Case(
        "config_test.go (new since v1.17.8)",
        None,
        config(
            2, {"test": {**NVIDIA_FALLBACK, "options": {"BinaryName": "/usr/bin/test"}}}, "test"
        ),
        set_default=True,
        differs=NO_DEPRECATED_DEFAULTS,
        gpu_docker=with_default(new_test(2), "test"),
    ),
    "empty runtime_type copied from runc options is replaced with default": Case(
        "config_test.go (new since v1.17.8)",
        config(
            2,
            {
                "runc": entry(
                    "", "/usr/bin/runc", privileged=False, engine="", root="", SystemdCgroup=True
                )
            },
        ),
        config(
            2,
            {
                "runc": entry(
                    "", "/usr/bin/runc", privileged=False, engine="", root="", SystemdCgroup=True
                ),
                "test": entry(
                    "io.containerd.runc.v2",
                    "/usr/bin/test",
                    privileged=False,
                    engine="",
                    root="",
                    SystemdCgroup=True,
                ),
            },
        ),
    ),
    "options from runc are imported": Case(
        "config_test.go",
        config(2, {"runc": RUNC_ENGINE}),
        config(2, {"runc": RUNC_ENGINE, "test": TEST_FROM_RUNC}),
    ),
    "options from default runtime are imported": Case(
        "config_test.go",
        config(2, {"default": DEFAULT_AS_RUNC}, "default"),
        config(2, {"default": DEFAULT_AS_RUNC, "test": TEST_FROM_RUNC}, "default"),
    ),
    "options from the default runtime take precedence over runc": Case(
        "config_test.go",
        config(2, {"runc": RUNC_ENGINE, "default": DEFAULT_ENGINE}, "default"),
        config(
            2,
            {"runc": RUNC_ENGINE, "default": DEFAULT_ENGINE, "test": TEST_FROM_DEFAULT},
            "default",
        ),
    ),
    "empty v3 spec is supported": Case(
        "config_test.go",
        {"version": 3},
        config(3, {"test": {**NVIDIA_FALLBACK, "options": {"BinaryName": "/usr/bin/test"}}}),
        differs=NO_DEPRECATED_DEFAULTS,
        gpu_docker=new_test(3),
    ),
    "v3 spec is supported": Case(
        "config_test.go",
        config(3, {"runc": RUNC_ENGINE}),
        config(3, {"runc": RUNC_ENGINE, "test": TEST_FROM_RUNC}),
    ),
    "runtime already exists in config, default runtime": Case(
        "config_test.go",
        config(2, {"test": EXISTING_TEST}, "test"),
        config(2, {"test": EXISTING_TEST}, "test"),
        set_default=True,
    ),
    "runtime already exists in config, not default runtime": Case(
        "config_test.go",
        config(2, {"test": EXISTING_TEST}, "test"),
        config(2, {"test": EXISTING_TEST}),
        differs=(
            "an existing default_runtime_name naming the runtime is kept when "
            "containerd_default_runtime is off: gpu-docker never takes away a default an "
            "operator set (nvidia-ctk removes it, switching every pod off the runtime)"
        ),
        gpu_docker=config(2, {"test": EXISTING_TEST}, "test"),
    ),
    # config_v1_test.go: version 1 files (and a new file in version 1)
    "v1: empty config not default runtime": Case(
        "config_v1_test.go",
        None,
        {"version": 1},
        differs="a new file is written in version 2 (containerd 1.x) or 3 (2.x), never 1",
        gpu_docker=new_test(2),
    ),
    **{
        f"v1: {description}": Case(
            "config_v1_test.go",
            {"plugins": {"cri": {"containerd": {"runtimes": {"runc": RUNC_ENGINE}}}}},
            {"version": 1},
            differs=(
                "version 1 files are refused (containerd 2.x no longer reads them; migrate "
                "with `containerd config migrate`)"
            ),
            gpu_docker=TomlMergeError,
        )
        for description in (
            "options from runc are imported",
            "options from default runtime are imported",
            "options from the default runtime take precedence over runc",
        )
    },
    # configure_test.go (nvidia-ctk 1.18+ writes these into the drop-in; the CRI section
    # there is the same as in config.toml)
    "configure: enable CDI": Case(
        "configure_test.go",
        None,
        {
            "version": 2,
            "plugins": {
                V2: {
                    "enable_cdi": True,
                    "containerd": {
                        "runtimes": {
                            "nvidia": {
                                **NVIDIA_FALLBACK,
                                "options": {"BinaryName": "/usr/bin/nvidia-container-runtime"},
                            }
                        }
                    },
                }
            },
        },
        name="nvidia",
        path="/usr/bin/nvidia-container-runtime",
        cdi=True,
        differs=NO_DEPRECATED_DEFAULTS,
        gpu_docker={
            "version": 2,
            "plugins": {
                V2: {
                    "enable_cdi": True,
                    "containerd": {
                        "runtimes": {
                            "nvidia": entry(
                                "io.containerd.runc.v2", "/usr/bin/nvidia-container-runtime"
                            )
                        }
                    },
                }
            },
        },
    ),
    "configure: custom runtime name and path": Case(
        "configure_test.go",
        None,
        config(
            2,
            {
                "gpu": {
                    **NVIDIA_FALLBACK,
                    "options": {"BinaryName": "/custom/path/nvidia-container-runtime"},
                }
            },
        ),
        name="gpu",
        path="/custom/path/nvidia-container-runtime",
        differs=NO_DEPRECATED_DEFAULTS,
        gpu_docker=config(
            2, {"gpu": entry("io.containerd.runc.v2", "/custom/path/nvidia-container-runtime")}
        ),
    ),
    "configure: config exists with imports": Case(
        "configure_test.go",
        {"version": 2, "imports": ["/foo/bar/*.toml"]},
        {"version": 2, "imports": ["/foo/bar/*.toml", "/etc/containerd/conf.d/*.toml"]},
        differs=(
            "no drop-in: the runtime is merged into config.toml and its imports are left as "
            "they are (nvidia-ctk 1.18+ writes conf.d/99-nvidia.toml and imports it); an "
            "import that would shadow the edit is refused, naming the file"
        ),
        gpu_docker={
            "version": 2,
            "imports": ["/foo/bar/*.toml"],
            **{"plugins": new_test(2)["plugins"]},
        },
    ),
    "configure: v2 existing config without nvidia runtime, set as default": Case(
        "configure_test.go",
        config(2, {"runc": entry("io.containerd.runc.v2", "/usr/bin/runc")}, "runc"),
        config(
            2,
            {
                "runc": entry("io.containerd.runc.v2", "/usr/bin/runc"),
                "nvidia": entry("io.containerd.runc.v2", "/usr/bin/nvidia-container-runtime"),
            },
            "nvidia",
        ),
        name="nvidia",
        path="/usr/bin/nvidia-container-runtime",
        set_default=True,
    ),
    # NVIDIA's GetLowLevelRuntimes (pkg/config/engine/engine.go), which AddRuntime uses: an
    # nvidia* default is skipped for runc, then crun.
    "engine.go: an nvidia* default runtime is not copied, runc is": Case(
        "engine.go GetLowLevelRuntimes",
        config(
            2,
            {
                "nvidia-cdi": {
                    "runtime_type": "io.containerd.runc.v2",
                    "container_annotations": ["cdi.k8s.io/*"],
                    "options": {"BinaryName": "/usr/bin/nvidia-container-runtime.cdi"},
                },
                "runc": entry("io.containerd.runc.v2", "/usr/bin/runc", SystemdCgroup=True),
            },
            "nvidia-cdi",
        ),
        config(
            2,
            {
                "nvidia-cdi": {
                    "runtime_type": "io.containerd.runc.v2",
                    "container_annotations": ["cdi.k8s.io/*"],
                    "options": {"BinaryName": "/usr/bin/nvidia-container-runtime.cdi"},
                },
                "runc": entry("io.containerd.runc.v2", "/usr/bin/runc", SystemdCgroup=True),
                "test": entry("io.containerd.runc.v2", "/usr/bin/test", SystemdCgroup=True),
            },
            "nvidia-cdi",
        ),
    ),
    "engine.go: a crun-only file is copied from crun, SystemdCgroup with it": Case(
        "engine.go GetLowLevelRuntimes",
        config(3, {"crun": entry("io.containerd.runc.v2", "/usr/bin/crun", SystemdCgroup=True)}),
        config(
            3,
            {
                "crun": entry("io.containerd.runc.v2", "/usr/bin/crun", SystemdCgroup=True),
                "test": entry("io.containerd.runc.v2", "/usr/bin/test", SystemdCgroup=True),
            },
        ),
    ),
}


@pytest.mark.parametrize("case", CONTAINERD_CASES.values(), ids=list(CONTAINERD_CASES))
def test_containerd_merge_against_nvidia_ctk(case: Case) -> None:
    version_3 = (case.given or {}).get("version") == 3

    def run() -> dict[str, Any]:
        text = None if case.given is None else toml_text(case.given)
        result = containerd.merge_config(
            text,
            containerd_version=CONTAINERD_2 if version_3 else CONTAINERD_1,
            runtime_name=case.name,
            runtime_path=case.path,
            set_default=case.set_default,
            cdi=case.cdi,
        )
        written = tomlkit.parse(result.text).unwrap()
        assert written == result.data
        return written

    if not case.differs:
        assert run() == case.nvidia
    elif case.gpu_docker is TomlMergeError:
        with pytest.raises(TomlMergeError, match="config version 1 is not supported"):
            run()
    else:
        assert case.differs  # the reason is the case's: listed in the docs
        found = run()
        assert found == case.gpu_docker
        assert found != case.nvidia


def test_the_nvidia_runtime_entry_is_replaced_by_nvidia_ctk_but_merged_by_gpu_docker() -> None:
    """Deliberate difference: nvidia-ctk's AddRuntimeWithOptions sets the whole entry to a
    copy of the low-level runtime's (an operator's ``privileged_without_host_devices`` or
    annotations on ``nvidia`` are lost on every run); gpu-docker sets only BinaryName (and
    an empty or missing runtime_type) and keeps the rest."""
    mine = {"runtime_type": "", "privileged_without_host_devices": True, "options": {}}
    given = config(2, {"runc": entry("io.containerd.runc.v2", "/usr/bin/runc"), "test": mine})
    result = containerd.merge_config(
        toml_text(given),
        containerd_version="containerd 1.6.20",
        runtime_name="test",
        runtime_path="/usr/bin/test",
        set_default=False,
    )
    test = result.data["plugins"][V2]["containerd"]["runtimes"]["test"]
    nvidia_ctk = entry("io.containerd.runc.v2", "/usr/bin/test")  # runc's copy
    assert test == {
        "runtime_type": "io.containerd.runc.v2",
        "privileged_without_host_devices": True,
        "options": {"BinaryName": "/usr/bin/test"},
    }
    assert test != nvidia_ctk


# Docker: docker_test.go and configure_test.go, against the system daemon.json merge
# (daemon.json.j2 rendered) and a rootless user's (rootless.daemon_json_owned).


def system_owned(name: str, path: str, set_default: bool, cdi: bool) -> dict[str, Any]:
    owned = daemon_json.render_owned(
        daemon_json.template_path(None),
        runtime_name=name,
        runtime_path=path,
        set_default_runtime=set_default,
        extra={},
    )
    return daemon_json.deep_merge(owned, cdi_owned(cdi, "26.1.5"))


def rootless_owned(name: str, path: str, set_default: bool, cdi: bool) -> dict[str, Any]:
    settings = load_settings(
        "h",
        {
            "rootless_users": ["alice"],
            "runtime_name": name,
            "runtime_path": path,
            "set_default_runtime": set_default,
            "cdi": cdi,
        },
    )
    return rootless.daemon_json_owned(settings, "26.1.5")


OWNERS = {"system daemon.json": system_owned, "rootless daemon.json": rootless_owned}
LOGS = {
    "exec-opts": ["native.cgroupdriver=systemd"],
    "log-driver": "json-file",
    "log-opts": {"max-size": "100m"},
    "storage-driver": "overlay2",
}


def runtime(path: str) -> dict[str, Any]:
    return {"path": path, "args": []}


@dataclass(frozen=True)
class DockerCase:
    """nvidia-ctk's docker case: input, runtimes added (name -> path), flags, NVIDIA's result;
    ``differs``/``gpu_docker`` as for containerd."""

    source: str
    given: dict[str, Any]
    runtimes: dict[str, str]
    nvidia: dict[str, Any]
    set_default: bool = False
    cdi: bool = False
    differs: str = ""
    gpu_docker: dict[str, Any] | None = None


DOCKER_CASES = {
    # docker_test.go TestUpdateConfigDefaultRuntime (nvidia-ctk adds "NAME" with path "")
    "default runtime: not set, not asked": DockerCase(
        "docker_test.go", {}, {"NAME": ""}, {"runtimes": {"NAME": runtime("")}}
    ),
    "default runtime: asked": DockerCase(
        "docker_test.go",
        {},
        {"NAME": ""},
        {"runtimes": {"NAME": runtime("")}, "default-runtime": "NAME"},
        set_default=True,
    ),
    "default runtime: already set, not asked": DockerCase(
        "docker_test.go",
        {"default-runtime": "ALREADY_SET"},
        {"NAME": ""},
        {"default-runtime": "ALREADY_SET", "runtimes": {"NAME": runtime("")}},
    ),
    "default runtime: already set, asked": DockerCase(
        "docker_test.go",
        {"default-runtime": "ALREADY_SET"},
        {"NAME": ""},
        {"default-runtime": "NAME", "runtimes": {"NAME": runtime("")}},
        set_default=True,
    ),
    # docker_test.go TestUpdateConfigRuntimes
    "runtimes: two into an empty config": DockerCase(
        "docker_test.go",
        {},
        {"runtime1": "/test/runtime/dir/runtime1", "runtime2": "/test/runtime/dir/runtime2"},
        {
            "runtimes": {
                "runtime1": runtime("/test/runtime/dir/runtime1"),
                "runtime2": runtime("/test/runtime/dir/runtime2"),
            }
        },
    ),
    "runtimes: an existing entry converges": DockerCase(
        "docker_test.go",
        {"runtimes": {"runtime1": runtime("runtime1")}},
        {"runtime1": "/test/runtime/dir/runtime1", "runtime2": "/test/runtime/dir/runtime2"},
        {
            "runtimes": {
                "runtime1": runtime("/test/runtime/dir/runtime1"),
                "runtime2": runtime("/test/runtime/dir/runtime2"),
            }
        },
    ),
    "runtimes: another runtime is kept": DockerCase(
        "docker_test.go",
        {"runtimes": {"not-nvidia": runtime("some-other-path")}},
        {"runtime1": "/test/runtime/dir/runtime1"},
        {
            "runtimes": {
                "not-nvidia": runtime("some-other-path"),
                "runtime1": runtime("/test/runtime/dir/runtime1"),
            }
        },
    ),
    "runtimes: other settings are kept": DockerCase(
        "docker_test.go",
        LOGS,
        {"runtime1": "/test/runtime/dir/runtime1"},
        {**LOGS, "runtimes": {"runtime1": runtime("/test/runtime/dir/runtime1")}},
    ),
    "runtimes: none added, nothing changes": DockerCase("docker_test.go", LOGS, {}, LOGS),
    # configure_test.go, docker
    "configure: new JSON config": DockerCase(
        "configure_test.go",
        {},
        {"nvidia": "nvidia-container-runtime"},
        {"runtimes": {"nvidia": runtime("nvidia-container-runtime")}},
    ),
    "configure: existing config with set as default": DockerCase(
        "configure_test.go",
        {k: LOGS[k] for k in ("log-driver", "log-opts", "storage-driver")},
        {"nvidia": "nvidia-container-runtime"},
        {
            **{k: LOGS[k] for k in ("log-driver", "log-opts", "storage-driver")},
            "runtimes": {"nvidia": runtime("nvidia-container-runtime")},
            "default-runtime": "nvidia",
        },
        set_default=True,
    ),
    "configure: enable CDI": DockerCase(
        "configure_test.go",
        {},
        {"nvidia": "nvidia-container-runtime"},
        {"runtimes": {"nvidia": runtime("nvidia-container-runtime")}, "features": {"cdi": True}},
        cdi=True,
    ),
    # docker.go EnableCDI: a features object that is not map[string]bool in Go (any parsed
    # JSON) is replaced by {"cdi": true}.
    "docker.go: enable CDI keeps the other features": DockerCase(
        "docker.go EnableCDI",
        {"features": {"buildkit": True}},
        {"nvidia": "nvidia-container-runtime"},
        {"features": {"cdi": True}, "runtimes": {"nvidia": runtime("nvidia-container-runtime")}},
        cdi=True,
        differs=(
            "features.cdi is merged into an existing features object; nvidia-ctk replaces "
            "the object (a parsed one is never map[string]bool), dropping e.g. buildkit"
        ),
        gpu_docker={
            "features": {"buildkit": True, "cdi": True},
            "runtimes": {"nvidia": runtime("nvidia-container-runtime")},
        },
    ),
}


@pytest.mark.parametrize("owner", OWNERS.values(), ids=list(OWNERS))
@pytest.mark.parametrize("case", DOCKER_CASES.values(), ids=list(DOCKER_CASES))
def test_docker_merge_against_nvidia_ctk(case: DockerCase, owner: Any) -> None:
    text = json.dumps(case.given)
    for name, path in case.runtimes.items():
        text = daemon_json.merge(text, owner(name, path, case.set_default, case.cdi)).text
    if not case.runtimes:  # nothing owned: the file stays as it is
        result = daemon_json.merge(text, {})
        assert not result.changed
    found = json.loads(text)
    if not case.differs:
        assert found == case.nvidia
    else:
        assert found == case.gpu_docker
        assert found != case.nvidia


def test_every_nvidia_ctk_case_is_here() -> None:
    """The counts the docs quote: NVIDIA's v1.20.0 containerd cases (10 TestAddRuntime, 4
    v1, 4 configure) plus 2 from engine.go; docker's 9 engine cases, 3 configure, 1 from
    docker.go."""
    sources = [case.source for case in CONTAINERD_CASES.values()]
    assert sum(s.startswith("config_test.go") for s in sources) == 10
    assert sum(s.startswith("config_v1_test.go") for s in sources) == 4
    assert sum(s.startswith("configure_test.go") for s in sources) == 4
    docker = [case.source for case in DOCKER_CASES.values()]
    assert docker.count("docker_test.go") == 9
    assert docker.count("configure_test.go") == 3
