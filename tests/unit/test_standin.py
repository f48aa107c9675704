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
    assert config.read_bytes() == before  # an existing file (an upgrade's postinst) is kept
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
    assert checksums.read_text() == f"{digest}  {tarball.name}\n"
    check = subprocess.run(["sha256sum", "-c", checksums.name], cwd=tmp_path, capture_output=True)
    assert check.returncode == 0
