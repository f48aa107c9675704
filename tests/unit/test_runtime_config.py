"""The keys gpu-docker owns in the toolkit's config.toml, and merging them into it."""

import subprocess
from pathlib import Path

import pytest

from gpu_docker.lab.standin import build_standin_debs
from gpu_docker.runtime_config import notes, owned
from gpu_docker.settings import SettingsError, load_settings
from gpu_docker.toml_merge import merge, plain


def settings(**data):
    return load_settings("h", data)


def test_nothing_set_owns_nothing_so_the_file_is_left_alone():
    assert owned(settings()) == {}


def test_each_setting_owns_nvidias_key():
    found = owned(
        settings(
            runtime_mode="legacy",
            runtime_ldconfig="@/sbin/ldconfig.real",
            runtime_debug_log="/var/log/nvidia-container-runtime.log",
            runtime_cli_debug_log="/var/log/nvidia-container-toolkit.log",
        )
    )
    assert found == {
        "nvidia-container-runtime": {
            "mode": "legacy",
            "debug": "/var/log/nvidia-container-runtime.log",
        },
        "nvidia-container-cli": {
            "ldconfig": "@/sbin/ldconfig.real",
            "debug": "/var/log/nvidia-container-toolkit.log",
        },
    }


def test_only_the_set_settings_are_owned():
    assert owned(settings(runtime_mode="cdi", cdi=True)) == {
        "nvidia-container-runtime": {"mode": "cdi"}
    }


@pytest.mark.parametrize(
    ("key", "value", "problem"),
    [
        ("runtime_mode", "jit", "must be one of `auto` or `legacy` or `cdi`"),
        ("runtime_ldconfig", "ldconfig", "neither '@/host/path' nor an absolute path"),
        ("runtime_debug_log", "debug.log", "must be an absolute path"),
        ("runtime_cli_debug_log", "tmp/cli.log", "must be an absolute path"),
    ],
)
def test_bad_values_are_refused_naming_the_setting(key, value, problem):
    with pytest.raises(SettingsError, match=key) as error:
        settings(**{key: value})
    assert problem in str(error.value)


def test_cdi_mode_without_cdi_is_warned_about():
    (note,) = notes(settings(runtime_mode="cdi"))
    assert "cdi is off" in note
    assert notes(settings(runtime_mode="cdi", cdi=True)) == []
    assert notes(settings(runtime_mode="legacy")) == []


@pytest.fixture(scope="module")
def shipped(tmp_path_factory) -> str:
    """The config.toml the stand-in base package's postinst writes (a test fixture)."""
    directory = tmp_path_factory.mktemp("standin")
    base = build_standin_debs("1.17.8", "amd64", directory)[2]
    unpacked = directory / "base"
    subprocess.run(["dpkg-deb", "-x", str(base), str(unpacked)], check=True)
    config = directory / "config.toml"
    subprocess.run(
        [str(unpacked / "usr/bin/nvidia-ctk"), "config", f"--config-file={config}", "--in-place"],
        check=True,
    )
    return Path(config).read_text()


def test_merge_into_the_shipped_file_changes_only_the_owned_lines(shipped):
    wanted = owned(
        settings(runtime_mode="legacy", runtime_debug_log="/var/log/r.log", runtime_ldconfig="@/x")
    )
    result = merge(shipped, wanted)
    assert result.changed
    old = shipped.splitlines()
    new = result.text.splitlines()
    removed = [line for line in old if line not in new]
    added = [line for line in new if line not in old]
    assert removed == ['ldconfig = "@/sbin/ldconfig"', 'mode = "auto"']
    assert sorted(added) == ['debug = "/var/log/r.log"', 'ldconfig = "@/x"', 'mode = "legacy"']
    data = plain(result.text)
    assert data["nvidia-container-runtime"]["modes"]["cdi"]["default-kind"] == "nvidia.com/gpu"
    assert merge(result.text, wanted).changed is False  # a rerun writes nothing
