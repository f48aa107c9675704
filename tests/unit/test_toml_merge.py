"""TOML merge (containerd, nvidia-container-runtime config.toml): comments, order and every
table we do not own keep their bytes; never rewritten for nothing; unsafe shapes refused."""

import difflib

import pytest
import tomlkit

from gpu_docker import containerd
from gpu_docker.containerd import merge_settings
from gpu_docker.settings import load_settings
from gpu_docker.toml_merge import TomlMergeError, merge

# Debian bookworm's containerd package ships this file, without a final newline.
DEBIAN_V2 = """version = 2

[plugins]
  [plugins."io.containerd.grpc.v1.cri"]
    [plugins."io.containerd.grpc.v1.cri".cni]
      bin_dir = "/usr/lib/cni"
      conf_dir = "/etc/cni/net.d"
  [plugins."io.containerd.internal.v1.opt"]
    path = "/var/lib/containerd/opt\""""

# A kubeadm-style node: comments, SystemdCgroup on runc, a registry mirror, a metrics table.
NODE_V2 = """# Managed by the platform team: ask #infra before editing.
version = 2
root = "/var/lib/containerd"  # on the big disk

[grpc]
  address = "/run/containerd/containerd.sock"

[plugins]
  [plugins."io.containerd.grpc.v1.cri"]
    sandbox_image = "registry.k8s.io/pause:3.9"
    [plugins."io.containerd.grpc.v1.cri".containerd]
      snapshotter = "overlayfs"
      default_runtime_name = "runc"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes]
        [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
          runtime_type = "io.containerd.runc.v2"
          [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
            SystemdCgroup = true
    [plugins."io.containerd.grpc.v1.cri".registry.mirrors."docker.io"]
      endpoint = ["https://mirror.example"]

[metrics]
  address = "127.0.0.1:1338"
"""

NODE_V3 = """version = 3
# containerd 2.x
[plugins.'io.containerd.cri.v1.runtime']
  enable_cdi = true
  [plugins.'io.containerd.cri.v1.runtime'.containerd]
    default_runtime_name = 'runc'
    [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
      runtime_type = 'io.containerd.runc.v2'
      [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
        SystemdCgroup = true

[plugins.'io.containerd.cri.v1.images']
  snapshotter = 'overlayfs'
"""

BIN = "/usr/bin/nvidia-container-runtime"


def merged(text, *, set_default=False, version="containerd 1.6.20", name="nvidia"):
    return containerd.merge_config(
        text,
        containerd_version=version,
        runtime_name=name,
        runtime_path="nvidia-container-runtime",
        set_default=set_default,
    )


def without_lines_added(old: str, new: str) -> str:
    """``new`` with the lines it adds to ``old`` dropped (difflib's view of an edit)."""
    kept = [
        line[2:]
        for line in difflib.ndiff(old.splitlines(), new.splitlines())
        if line[:2] in ("  ", "- ")
    ]
    return "\n".join(kept)


@pytest.mark.parametrize("text", [DEBIAN_V2, NODE_V2])
def test_v2_files_gain_only_the_runtime_and_keep_every_other_byte(text):
    result = merged(text)
    assert result.changed
    # Only lines were added: nothing of the operator's file changed or moved.
    assert without_lines_added(text, result.text) == text.rstrip("\n")
    runtimes = result.data["plugins"]["io.containerd.grpc.v1.cri"]["containerd"]["runtimes"]
    assert runtimes["nvidia"]["options"]["BinaryName"] == BIN
    assert runtimes["nvidia"]["runtime_type"] == "io.containerd.runc.v2"
    assert tomlkit.parse(result.text).unwrap() == result.data


def test_v2_comments_survive_and_runc_options_are_copied_like_nvidia_ctk():
    result = merged(NODE_V2)
    assert "# Managed by the platform team: ask #infra before editing." in result.text
    assert 'root = "/var/lib/containerd"  # on the big disk' in result.text
    cri = result.data["plugins"]["io.containerd.grpc.v1.cri"]
    assert cri["containerd"]["runtimes"]["nvidia"]["options"] == {
        "SystemdCgroup": True,
        "BinaryName": BIN,
    }
    assert cri["containerd"]["runtimes"]["runc"]["options"] == {"SystemdCgroup": True}
    assert cri["containerd"]["default_runtime_name"] == "runc"
    assert cri["registry"]["mirrors"]["docker.io"]["endpoint"] == ["https://mirror.example"]


def test_v3_uses_the_cri_runtime_plugin_of_containerd_2():
    result = merged(NODE_V3, version="containerd github.com/containerd/containerd/v2 v2.0.4")
    assert without_lines_added(NODE_V3, result.text) == NODE_V3.rstrip("\n")
    section = result.data["plugins"]["io.containerd.cri.v1.runtime"]
    assert section["enable_cdi"] is True
    assert section["containerd"]["runtimes"]["nvidia"]["options"] == {
        "SystemdCgroup": True,
        "BinaryName": BIN,
    }
    assert "io.containerd.grpc.v1.cri" not in result.data["plugins"]


def test_second_merge_changes_nothing_and_keeps_the_text():
    first = merged(NODE_V2, set_default=True)
    second = merged(first.text, set_default=True)
    assert not second.changed
    assert second.text == first.text


def test_default_runtime_only_when_asked():
    plain_merge = merged(NODE_V2).data["plugins"]["io.containerd.grpc.v1.cri"]["containerd"]
    assert plain_merge["default_runtime_name"] == "runc"
    asked = merged(NODE_V2, set_default=True).data["plugins"]["io.containerd.grpc.v1.cri"]
    assert asked["containerd"]["default_runtime_name"] == "nvidia"
    assert 'default_runtime_name = "nvidia"' in merged(NODE_V2, set_default=True).text
    assert 'default_runtime_name = "runc"' not in merged(NODE_V2, set_default=True).text


def test_existing_runtime_entry_keeps_the_operators_keys_and_converges_the_binary():
    text = NODE_V2 + (
        '[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.nvidia]\n'
        '  runtime_type = "io.containerd.runc.v2"\n'
        "  privileged_without_host_devices = true\n"
        '  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.nvidia.options]\n'
        '    BinaryName = "/opt/old/nvidia-container-runtime"\n'
    )
    result = merged(text)
    entry = result.data["plugins"]["io.containerd.grpc.v1.cri"]["containerd"]["runtimes"]["nvidia"]
    assert entry == {
        "runtime_type": "io.containerd.runc.v2",
        "privileged_without_host_devices": True,
        "options": {"BinaryName": BIN},
    }
    assert result.text == text.replace("/opt/old/nvidia-container-runtime", BIN)


@pytest.mark.parametrize(
    ("containerd_version", "version", "plugin"),
    [
        (
            "containerd github.com/containerd/containerd 1.6.20~ds1 1.6.20~ds1-1+deb12u3",
            2,
            "io.containerd.grpc.v1.cri",
        ),
        (
            "containerd containerd.io 1.7.27 05044ec0a9a75232cad458027ca83437aae3f4da",
            2,
            "io.containerd.grpc.v1.cri",
        ),
        (
            "containerd github.com/containerd/containerd/v2 v2.1.1 cb1076646aa3",
            3,
            "io.containerd.cri.v1.runtime",
        ),
    ],
)
@pytest.mark.parametrize("text", [None, "", "# only a comment\n"])
def test_a_missing_or_empty_file_is_created_with_the_installed_containerds_version(
    text, containerd_version, version, plugin
):
    result = merged(text, version=containerd_version)
    assert result.changed
    assert result.data["version"] == version
    assert result.data["plugins"][plugin]["containerd"]["runtimes"]["nvidia"] == {
        "runtime_type": "io.containerd.runc.v2",
        "options": {"BinaryName": BIN},
    }
    assert result.text.startswith(text or f"version = {version}")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[plugins.cri]\n  systemd_cgroup = true\n", "config version 1 is not supported"),
        ("version = 1\n[plugins.cri]\n", "config version 1 is not supported"),
        ("version = 4\n", "config version 4 is not supported"),
        ("version = 2\n[plugins\n", "not valid TOML"),
        ('version = 2\nplugins = "x"\n', "plugins is a str, not a table"),
    ],
)
def test_files_we_cannot_merge_are_refused(text, message):
    with pytest.raises(TomlMergeError, match=message):
        merged(text)


def test_a_layout_tomlkit_would_mangle_is_refused_not_written():
    # Dotted keys define the runtimes table inside [plugins]: tomlkit would write the new
    # runtime as a table that reads back differently. The read-back check refuses it.
    text = (
        "version = 2\n[plugins]\n"
        '"io.containerd.grpc.v1.cri".containerd.runtimes.runc.runtime_type = "io.containerd.runc.v2"\n'
        "[metrics]\naddress = ''\n"
    )
    with pytest.raises(TomlMergeError, match="cannot be edited without changing other settings"):
        merged(text)


def test_inline_runtimes_table_gets_an_inline_entry():
    text = (
        'version = 2\n[plugins."io.containerd.grpc.v1.cri".containerd]\n'
        'runtimes = { runc = { runtime_type = "io.containerd.runc.v2" } }\n'
    )
    result = merged(text)
    runtimes = result.data["plugins"]["io.containerd.grpc.v1.cri"]["containerd"]["runtimes"]
    assert runtimes["nvidia"] == {
        "runtime_type": "io.containerd.runc.v2",
        "options": {"BinaryName": BIN},
    }
    assert result.text.startswith(
        text.splitlines(keepends=True)[0] + text.splitlines(keepends=True)[1]
    )


def test_generic_merge_sets_scalars_and_tables_and_reports_no_change_when_equal():
    text = '# knobs\n[nvidia-container-cli]\nldconfig = "@/sbin/ldconfig"  # distro path\n'
    result = merge(text, {"nvidia-container-cli": {"no-cgroups": True}})
    assert result.text == text + "no-cgroups = true\n"
    assert not merge(result.text, {"nvidia-container-cli": {"no-cgroups": True}}).changed


def test_grpc_address_defaults_to_containerds_socket():
    assert containerd.grpc_address({}) == "/run/containerd/containerd.sock"
    assert containerd.grpc_address({"grpc": {"address": "/run/k3s/c.sock"}}) == "/run/k3s/c.sock"


def test_a_key_already_set_under_a_dotted_plugins_header_is_compared_not_crashed():
    """Seen on the lab: ``enable_cdi = true`` already in the CRI table of a file written with
    a bare ``[plugins]`` header. tomlkit hands that value back as a plain bool; the merge
    used to crash the whole run (``'bool' object has no attribute 'unwrap'``)."""
    settings = load_settings("h", {"container_engine": "containerd", "cdi": True})
    text = (
        'version = 2\n[plugins]\n  [plugins."io.containerd.grpc.v1.cri"]\n    enable_cdi = true\n'
    )
    first = merge_settings(
        settings, "containerd github.com/containerd/containerd 1.7.24~ds1 x", text
    )
    assert first.changed and "enable_cdi = true" in first.text
    again = merge_settings(
        settings, "containerd github.com/containerd/containerd 1.7.24~ds1 x", first.text
    )
    assert not again.changed and again.text == first.text
