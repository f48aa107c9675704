"""The stand-in debs look like NVIDIA's to dpkg and to our tools, and say they are fixtures."""

from __future__ import annotations

import hashlib
import subprocess
import tarfile
from pathlib import Path

import pytest
import tomllib
from debian.debfile import DebFile

from gpu_docker.lab.standin import build_release_tarball, build_standin_debs


def _control(deb: Path) -> dict[str, str]:
    return dict(DebFile(str(deb)).debcontrol())


def _run(path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(path), *args], capture_output=True, text=True, check=False)


def test_builds_the_four_runtime_packages_in_install_order(tmp_path: Path) -> None:
    debs = build_standin_debs("1.17.8", "amd64", tmp_path)
    assert [d.name for d in debs] == [
        "libnvidia-container1_1.17.8-1_amd64.deb",
        "libnvidia-container-tools_1.17.8-1_amd64.deb",
        "nvidia-container-toolkit-base_1.17.8-1_amd64.deb",
        "nvidia-container-toolkit_1.17.8-1_amd64.deb",
    ]
    controls = [_control(d) for d in debs]
    assert {c["Version"] for c in controls} == {"1.17.8-1"}
    assert {c["Architecture"] for c in controls} == {"amd64"}


def test_depends_match_nvidias_before_1_18(tmp_path: Path) -> None:
    lib, tools, base, toolkit = (
        _control(d) for d in build_standin_debs("1.17.8", "amd64", tmp_path)
    )
    assert lib["Depends"] == "libc6 (>= 2.27), libcap2 (>= 1:2.10), libseccomp2 (>= 2.5)"
    assert "libnvidia-container1 (>= 1.17.8-1)" in tools["Depends"]
    assert "Depends" not in base
    assert toolkit["Depends"] == (
        "nvidia-container-toolkit-base (= 1.17.8-1), "
        "libnvidia-container-tools (>= 1.17.8-1), libnvidia-container-tools (<< 2.0.0)"
    )


def test_from_1_18_tools_are_pinned_exactly_and_seccomp_is_gone(tmp_path: Path) -> None:
    lib, _, _, toolkit = (_control(d) for d in build_standin_debs("1.18.0", "arm64", tmp_path))
    assert "libnvidia-container-tools (= 1.18.0-1)" in toolkit["Depends"]
    assert "libseccomp2" not in lib["Depends"]


def test_every_package_says_it_is_a_test_fixture(tmp_path: Path) -> None:
    for deb in build_standin_debs("1.17.8", "amd64", tmp_path, extras=True):
        control = _control(deb)
        assert "test fixtures" in control["Maintainer"]
        assert "TEST FIXTURE" in control["Description"]
        assert "NOT NVIDIA's" in control["Description"]


def test_extras_add_dev_dbg_and_operator_extensions(tmp_path: Path) -> None:
    names = [
        _control(d)["Package"] for d in build_standin_debs("1.17.8", "amd64", tmp_path, extras=True)
    ]
    assert names[4:] == [
        "libnvidia-container-dev",
        "libnvidia-container1-dbg",
        "nvidia-container-toolkit-operator-extensions",
    ]


def test_output_is_byte_for_byte_reproducible(tmp_path: Path) -> None:
    first = build_standin_debs("1.17.8", "amd64", tmp_path / "a", extras=True)
    second = build_standin_debs("1.17.8", "amd64", tmp_path / "b", extras=True)
    assert [d.read_bytes() for d in first] == [d.read_bytes() for d in second]
    tar_a, sums_a = build_release_tarball("1.17.8", "amd64", tmp_path / "ra")
    tar_b, sums_b = build_release_tarball("1.17.8", "amd64", tmp_path / "rb")
    assert tar_a.read_bytes() == tar_b.read_bytes()
    assert sums_a.read_text() == sums_b.read_text()


@pytest.fixture
def unpacked(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    for deb in build_standin_debs("1.17.8", "amd64", tmp_path / "debs"):
        subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
    return root


def test_executables_sit_where_nvidias_do_and_print_versions(unpacked: Path) -> None:
    cli = _run(unpacked / "usr/bin/nvidia-container-cli", "--version")
    assert "cli-version: 1.17.8" in cli.stdout
    assert "lib-version: 1.17.8" in cli.stdout
    assert "test fixture" in cli.stdout
    ctk = _run(unpacked / "usr/bin/nvidia-ctk", "--version")
    assert (
        ctk.stdout.strip()
        == "NVIDIA Container Toolkit CLI version 1.17.8 (gpu-docker test fixture)"
    )
    for name in ("nvidia-container-runtime", "nvidia-container-runtime-hook", "nvidia-cdi-hook"):
        result = _run(unpacked / "usr/bin" / name, "--version")
        assert result.returncode == 0
        assert "1.17.8" in result.stdout


def test_nvidia_ctk_config_writes_the_config_file_like_the_postinst_needs(
    unpacked: Path, tmp_path: Path
) -> None:
    config = tmp_path / "etc/nvidia-container-runtime/config.toml"
    result = _run(
        unpacked / "usr/bin/nvidia-ctk",
        "--quiet",
        "config",
        f"--config-file={config}",
        "--in-place",
    )
    assert result.returncode == 0
    assert result.stdout == ""
    text = config.read_text()
    assert text.startswith("# Written by the gpu-docker TEST FIXTURE nvidia-ctk 1.17.8")
    data = tomllib.loads(text)  # a plausible file: the tables and defaults nvidia-ctk writes
    assert data["nvidia-container-runtime"]["mode"] == "auto"
    assert data["nvidia-container-cli"]["ldconfig"] == "@/sbin/ldconfig"
    assert "no-cgroups" not in data["nvidia-container-cli"]  # commented out, as shipped
    assert "#no-cgroups = false" in text
    before = config.read_bytes()
    _run(unpacked / "usr/bin/nvidia-ctk", "config", f"--config-file={config}", "--in-place")
    # An upgrade's postinst rewrites an existing file; the tool's own output comes back as is.
    assert config.read_bytes() == before
    assert _run(unpacked / "usr/bin/nvidia-ctk", "runtime", "configure").returncode == 0


def test_nvidia_ctk_cdi_generate_writes_a_spec_labelled_as_a_fixture(
    unpacked: Path, tmp_path: Path
) -> None:
    spec = tmp_path / "nvidia.yaml"
    generate = ("cdi", "generate", f"--output={spec}")
    assert _run(unpacked / "usr/bin/nvidia-ctk", *generate).returncode == 0
    first = spec.read_text()
    assert first.startswith("# Written by the gpu-docker TEST FIXTURE nvidia-ctk 1.17.8")
    assert "kind: nvidia.com/gpu" in first and "- name: all" in first
    assert _run(unpacked / "usr/bin/nvidia-ctk", *generate).returncode == 0
    assert spec.read_text() != first  # stamped with the time: a regeneration shows


def test_base_postinst_runs_nvidia_ctk_config(tmp_path: Path) -> None:
    base = build_standin_debs("1.17.8", "amd64", tmp_path)[2]
    control_dir = tmp_path / "control"
    subprocess.run(["dpkg-deb", "-e", str(base), str(control_dir)], check=True)
    postinst = (control_dir / "postinst").read_text()
    config = "/etc/nvidia-container-runtime/config.toml"
    assert f"nvidia-ctk --quiet config --config-file={config} --in-place" in postinst


def test_runtime_hands_over_to_runc(unpacked: Path, tmp_path: Path) -> None:
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    runc = fake_bin / "runc"
    runc.write_text('#!/bin/sh\necho "runc got: $*"\n')
    runc.chmod(0o755)
    result = subprocess.run(
        [str(unpacked / "usr/bin/nvidia-container-runtime"), "create", "--bundle", "/x", "id1"],
        capture_output=True,
        text=True,
        env={"PATH": f"{fake_bin}:/usr/bin:/bin"},
        check=True,
    )
    assert result.stdout.strip() == "runc got: create --bundle /x id1"


def test_release_tarball_has_nvidias_layout_and_checksum(tmp_path: Path) -> None:
    tarball, checksums = build_release_tarball("1.17.8", "arm64", tmp_path)
    assert tarball.name == "nvidia-container-toolkit_1.17.8_deb_arm64.tar.gz"
    assert checksums.name == "nvidia-container-toolkit_1.17.8_checksums.txt"
    with tarfile.open(tarball) as tar:
        debs = sorted(m.name for m in tar.getmembers() if m.isfile())
    prefix = "release-v1.17.8-stable/packages/ubuntu18.04/arm64/"
    assert debs == [
        prefix + f"{pkg}_1.17.8-1_arm64.deb"
        for pkg in (
            "libnvidia-container-dev",
            "libnvidia-container-tools",
            "libnvidia-container1-dbg",
            "libnvidia-container1",
            "nvidia-container-toolkit-base",
            "nvidia-container-toolkit-operator-extensions",
            "nvidia-container-toolkit",
        )
    ]
    digest = hashlib.sha256(tarball.read_bytes()).hexdigest()
    # NVIDIA's checksums file names the tarball under its release directory.
    assert checksums.read_text() == f"{digest}  release-v1.17.8-stable/{tarball.name}\n"
    (tmp_path / "release-v1.17.8-stable").mkdir()
    (tmp_path / "release-v1.17.8-stable" / tarball.name).hardlink_to(tarball)
    check = subprocess.run(["sha256sum", "-c", checksums.name], cwd=tmp_path, capture_output=True)
    assert check.returncode == 0


OLD_RUNTIME = "nvidia-container-runtime (<= 3.5.0-1), nvidia-container-runtime-hook"
UNIT_DIR = {
    "1.17.8": None,
    "1.18.2": "etc/systemd/system",
    "1.19.1": "etc/systemd/system",
    "1.20.0": "lib/systemd/system",
}


def _contents(deb: Path) -> list[str]:
    listing = subprocess.run(
        ["dpkg-deb", "--fsys-tarfile", str(deb)], capture_output=True, check=True
    ).stdout
    with tarfile.open(fileobj=__import__("io").BytesIO(listing)) as tar:
        return sorted(m.name.removeprefix("./") for m in tar.getmembers() if m.isfile())


def _scripts(deb: Path, tmp_path: Path) -> dict[str, str]:
    out = tmp_path / f"control-{deb.name}"
    subprocess.run(["dpkg-deb", "-e", str(deb), str(out)], check=True)
    return {p.name: p.read_text() for p in out.iterdir()}


@pytest.mark.parametrize("version", sorted(UNIT_DIR))
def test_each_generation_has_nvidias_relations_files_and_scripts(
    version: str, tmp_path: Path
) -> None:
    lib, _, base, kit = build_standin_debs(version, "amd64", tmp_path)
    deb = f"{version}-1"
    exact = "=" if version >= "1.18" else ">="
    assert _control(kit)["Depends"] == (
        f"nvidia-container-toolkit-base (= {deb}), libnvidia-container-tools ({exact} {deb}), "
        "libnvidia-container-tools (<< 2.0.0)"
    )
    assert _control(kit)["Breaks"] == _control(kit)["Replaces"] == OLD_RUNTIME
    assert _control(base)["Breaks"] == OLD_RUNTIME + ", nvidia-container-toolkit (<= 1.10.0-1)"
    assert _control(base)["Replaces"] == OLD_RUNTIME
    assert ("libseccomp2" in _control(lib)["Depends"]) == (version < "1.18")
    files = _contents(base)
    scripts = _scripts(base, tmp_path)
    units = [f for f in files if "nvidia-cdi-refresh" in f]
    unit_dir = UNIT_DIR[version]
    if unit_dir is None:
        assert units == [] and "conffiles" not in scripts
    else:
        assert units == sorted(
            [
                "etc/nvidia-container-toolkit/nvidia-cdi-refresh.env",
                f"{unit_dir}/nvidia-cdi-refresh.path",
                f"{unit_dir}/nvidia-cdi-refresh.service",
            ]
        )
        # debhelper makes every file under /etc a conffile.
        assert scripts["conffiles"].split() == ["/" + f for f in units if f.startswith("etc/")]
        service = (tmp_path / "x").parent  # unpack the service to read what it runs
        subprocess.run(["dpkg-deb", "-x", str(base), str(service / "root")], check=True)
        text = (service / "root" / unit_dir / "nvidia-cdi-refresh.service").read_text()
        assert "Environment=NVIDIA_CTK_CDI_OUTPUT_FILE_PATH=/var/run/cdi/nvidia.yaml" in text
        assert ("nvidia-smi -L" in text) == (version >= "1.19")
        path = (service / "root" / unit_dir / "nvidia-cdi-refresh.path").read_text()
        assert "PathChanged=/lib/modules/%v/modules.dep" in path
    config = "nvidia-ctk --quiet config --config-file=/etc/nvidia-container-runtime/config.toml"
    assert config + " --in-place" in scripts["postinst"]
    units_by = {None: "none", "etc/systemd/system": "postinst", "lib/systemd/system": "debhelper"}
    assert f'units="{units_by[unit_dir]}"' in scripts["postinst"]
    assert ("preinst" in scripts) == ("postrm" in scripts) == (version >= "1.20")
    if version >= "1.20":
        assert "rm_conffile" in scripts["preinst"] and '"1.20.0~"' in scripts["preinst"]
    kit_scripts = _scripts(kit, tmp_path)
    assert 'ln -s "$hook" "$link"' in kit_scripts["postinst"]
    assert "link=/usr/bin/nvidia-container-toolkit" in kit_scripts["postinst"]


OPERATOR_FILE = """# Edited by the ops team.
[nvidia-container-cli]
  debug = "/var/log/nvidia-container-toolkit.log"
  ldconfig="@/sbin/ldconfig.real"
[nvidia-container-runtime]
log-level = "debug"   # chasing a bug
mode = "auto"
"""


@pytest.mark.parametrize(
    ("version", "reverts"), [("1.17.8", True), ("1.19.1", True), ("1.20.0", False)]
)
def test_the_config_rewrite_reformats_and_before_1_20_reverts_keys_set_to_defaults(
    version: str, reverts: bool, tmp_path: Path
) -> None:
    root = tmp_path / "root"
    base = build_standin_debs(version, "amd64", tmp_path / "debs")[2]
    subprocess.run(["dpkg-deb", "-x", str(base), str(root)], check=True)
    config = tmp_path / "config.toml"
    config.write_text(OPERATOR_FILE)
    config.chmod(0o640)
    ctk = root / "usr/bin/nvidia-ctk"
    assert _run(ctk, "--quiet", "config", f"--config-file={config}", "--in-place").returncode == 0
    text = config.read_text()
    assert text.startswith(f"# Written by the gpu-docker TEST FIXTURE nvidia-ctk {version}")
    assert "ops team" not in text and "chasing" not in text  # its own formatting
    data = tomllib.loads(text)
    assert data["nvidia-container-cli"]["ldconfig"] == "@/sbin/ldconfig.real"
    assert data["nvidia-container-runtime"]["log-level"] == "debug"
    # NVIDIA's default debug path, set on purpose: switched off again before 1.20.0.
    assert ("debug" not in data["nvidia-container-cli"]) == reverts
    assert config.stat().st_mode & 0o777 == 0o640  # rewritten in place
    again = config.read_bytes()
    _run(ctk, "--quiet", "config", f"--config-file={config}", "--in-place")
    assert config.read_bytes() == again


def test_cdi_generate_writes_where_the_refresh_unit_says(unpacked: Path, tmp_path: Path) -> None:
    spec = tmp_path / "run/cdi/nvidia.yaml"
    env = {"PATH": "/usr/bin:/bin", "NVIDIA_CTK_CDI_OUTPUT_FILE_PATH": str(spec)}
    ctk = str(unpacked / "usr/bin/nvidia-ctk")
    subprocess.run([ctk, "cdi", "generate"], env=env, check=True)
    assert "kind: nvidia.com/gpu" in spec.read_text()
    printed = subprocess.run([ctk, "cdi", "generate"], capture_output=True, text=True, check=True)
    assert "kind: nvidia.com/gpu" in printed.stdout  # no output named: stdout
