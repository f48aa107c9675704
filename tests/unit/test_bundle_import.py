"""`bundle import`: from NVIDIA's tarball layout (stand-in debs) to a checked bundle."""

from __future__ import annotations

import io
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from gpu_docker.bundle.errors import BundleError
from gpu_docker.bundle.importer import import_debs, import_sources
from gpu_docker.bundle.manifest import load_manifest, verify_bundle
from gpu_docker.lab.standin import build_release_tarball, build_standin_debs

V = "1.17.8"
ORDER = [
    "libnvidia-container1",
    "libnvidia-container-tools",
    "nvidia-container-toolkit-base",
    "nvidia-container-toolkit",
]


def _deb(
    outdir: Path, package: str, version: str = f"{V}-1", arch: str = "amd64", depends: str = ""
) -> Path:
    """A minimal hand-made package, for shapes the stand-ins never have."""
    root = outdir / f"tree-{package}-{version}-{arch}"
    (root / "DEBIAN").mkdir(parents=True)
    control = f"Package: {package}\nVersion: {version}\nArchitecture: {arch}\n"
    control += "Maintainer: gpu-docker tests <t@invalid>\nDescription: test fixture\n"
    if depends:
        control += f"Depends: {depends}\n"
    (root / "DEBIAN/control").write_text(control)
    target = outdir / f"{package}_{version}_{arch}.deb"
    subprocess.run(
        ["dpkg-deb", "--root-owner-group", "--build", str(root), str(target)],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    shutil.rmtree(root)
    return target


def _snapshot(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` with its bytes (empty if root does not exist)."""
    if not root.exists():
        return {}
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    } | {str(p.relative_to(root)) + "/": b"" for p in root.rglob("*") if p.is_dir()}


@pytest.fixture(scope="module")
def release(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return build_release_tarball(V, "amd64", tmp_path_factory.mktemp("release"))


def test_import_tarball_writes_debs_and_manifest_in_install_order(
    release: tuple[Path, Path], tmp_path: Path
) -> None:
    tarball, checksums = release
    result = import_sources([tarball], tmp_path / "debs", checksums)
    assert result.changed
    assert result.skipped == (
        "libnvidia-container-dev",
        "libnvidia-container1-dbg",
        "nvidia-container-toolkit-operator-extensions",
    )
    m = load_manifest(tmp_path / "debs", V, "amd64")
    assert (m.version, m.arch) == (V, "amd64")
    assert m.directory == tmp_path / "debs" / V / "amd64"
    assert [e.package for e in m.entries] == ORDER
    assert [e.order for e in m.entries] == [0, 1, 2, 3]
    assert {e.version for e in m.entries} == {f"{V}-1"}
    assert m.external_depends == ["libc6 (>= 2.27)", "libcap2 (>= 1:2.10)", "libseccomp2 (>= 2.5)"]
    assert sorted(p.name for p in m.directory.iterdir()) == sorted(
        [f"{pkg}_{V}-1_amd64.deb" for pkg in ORDER] + ["manifest.json"]
    )
    assert all(e.path.is_file() and e.path.is_absolute() for e in m.entries)
    verify_bundle(m)
    assert not [p for p in (tmp_path / "debs").iterdir() if p.name.startswith(".")]


def test_deb_version_is_accepted_when_loading(release: tuple[Path, Path], tmp_path: Path) -> None:
    import_sources([release[0]], tmp_path, release[1])
    assert load_manifest(tmp_path, f"{V}-1", "amd64").version == V


def test_importing_the_same_tarball_twice_is_a_no_op(
    release: tuple[Path, Path], tmp_path: Path
) -> None:
    tarball, checksums = release
    import_sources([tarball], tmp_path, checksums)
    before = _snapshot(tmp_path)
    mtimes = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*")}
    again = import_sources([tarball], tmp_path, checksums)
    assert not again.changed
    assert _snapshot(tmp_path) == before
    assert {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*")} == mtimes


def test_loose_debs_and_directory_give_the_same_manifest_as_the_tarball(
    release: tuple[Path, Path], tmp_path: Path
) -> None:
    debs = build_standin_debs(V, "amd64", tmp_path / "loose", extras=True)
    from_list = import_debs(debs, tmp_path / "a")
    from_dir = import_sources([tmp_path / "loose"], tmp_path / "b").manifest
    from_tar = import_sources([release[0]], tmp_path / "c", release[1]).manifest
    assert from_list.to_json() == from_dir.to_json() == from_tar.to_json()


def test_dev_and_dbg_packages_are_left_out(tmp_path: Path) -> None:
    debs = build_standin_debs(V, "amd64", tmp_path / "in", extras=True)
    m = import_debs(debs, tmp_path / "out")
    assert not [e for e in m.entries if e.package.endswith(("-dev", "-dbg"))]


def test_bad_checksum_changes_nothing(release: tuple[Path, Path], tmp_path: Path) -> None:
    tarball, _ = release
    bad = tmp_path / "bad_checksums.txt"
    bad.write_text(f"{'0' * 64}  {tarball.name}\n")
    root = tmp_path / "files/debs"
    (root / "1.0.0/amd64").mkdir(parents=True)
    (root / "1.0.0/amd64/manifest.json").write_text("{}")
    before = _snapshot(root)
    with pytest.raises(BundleError, match=f"checksum mismatch for .*{tarball.name}"):
        import_sources([tarball], root, bad)
    assert _snapshot(root) == before


def test_bad_checksum_does_not_even_create_the_bundle_root(
    release: tuple[Path, Path], tmp_path: Path
) -> None:
    bad = tmp_path / "sums.txt"
    bad.write_text(f"{'a' * 64}  {release[0].name}\n")
    with pytest.raises(BundleError):
        import_sources([release[0]], tmp_path / "files/debs", bad)
    assert not (tmp_path / "files").exists()


def test_tarball_not_listed_in_checksums(release: tuple[Path, Path], tmp_path: Path) -> None:
    sums = tmp_path / "sums.txt"
    sums.write_text(f"{'a' * 64}  something-else.tar.gz\n")
    with pytest.raises(BundleError, match=f"{release[0].name} is not listed in"):
        import_sources([release[0]], tmp_path / "debs", sums)


def test_malformed_checksums_file_names_the_line(
    release: tuple[Path, Path], tmp_path: Path
) -> None:
    sums = tmp_path / "sums.txt"
    sums.write_text("this is not a checksum\n")
    with pytest.raises(BundleError, match=r"sums.txt:1: not a sha256sum line"):
        import_sources([release[0]], tmp_path / "debs", sums)


def test_not_a_tarball(tmp_path: Path) -> None:
    junk = tmp_path / "nvidia-container-toolkit_1.17.8_deb_amd64.tar.gz"
    junk.write_text("<html>404 Not Found</html>\n")
    with pytest.raises(BundleError, match=f"not a tarball: {junk}"):
        import_sources([junk], tmp_path / "debs")
    assert not (tmp_path / "debs").exists()


def test_tarball_without_debs(tmp_path: Path) -> None:
    tarball = tmp_path / "empty.tar.gz"
    with tarfile.open(tarball, "w:gz") as tar:
        info = tarfile.TarInfo("release-v1.17.8-stable/README")
        info.size = 5
        tar.addfile(info, io.BytesIO(b"hello"))
    with pytest.raises(BundleError, match=f"no .deb files inside {tarball}"):
        import_sources([tarball], tmp_path / "debs")


def test_tarball_members_cannot_escape_the_scratch_dir(tmp_path: Path) -> None:
    debs = build_standin_debs(V, "amd64", tmp_path / "src")
    tarball = tmp_path / "evil.tar"
    with tarfile.open(tarball, "w") as tar:
        for deb in debs:
            tar.add(deb, arcname=f"../../{deb.name}")
    m = import_sources([tarball], tmp_path / "debs").manifest
    assert [e.package for e in m.entries] == ORDER
    assert not (tmp_path.parent / debs[0].name).exists()


def test_not_a_deb(tmp_path: Path) -> None:
    fake = tmp_path / "libnvidia-container1_1.17.8-1_amd64.deb"
    fake.write_text("nope")
    with pytest.raises(BundleError, match=f"not a Debian package: {fake}"):
        import_debs([fake], tmp_path / "debs")


def test_truncated_deb(tmp_path: Path) -> None:
    deb = build_standin_debs(V, "amd64", tmp_path / "in")[0]
    cut = tmp_path / deb.name
    cut.write_bytes(deb.read_bytes()[:200])
    with pytest.raises(BundleError, match=f"not a Debian package: {cut}"):
        import_debs([cut], tmp_path / "debs")


def test_mixed_versions(tmp_path: Path) -> None:
    debs = build_standin_debs(V, "amd64", tmp_path / "new")[:3]
    debs += build_standin_debs("1.17.7", "amd64", tmp_path / "old")[3:]
    with pytest.raises(
        BundleError, match=r"mixed versions in one bundle: .*nvidia-container-toolkit 1\.17\.7-1"
    ):
        import_debs(debs, tmp_path / "debs")
    assert not (tmp_path / "debs").exists()


def test_mixed_architectures(tmp_path: Path) -> None:
    debs = build_standin_debs(V, "amd64", tmp_path / "amd")[:3]
    debs += build_standin_debs(V, "arm64", tmp_path / "arm")[3:]
    with pytest.raises(
        BundleError, match=r"mixed architectures in one bundle: .*nvidia-container-toolkit arm64"
    ):
        import_debs(debs, tmp_path / "debs")


def test_missing_one_of_the_four(tmp_path: Path) -> None:
    debs = build_standin_debs(V, "amd64", tmp_path / "in", extras=True)
    without_base = [d for d in debs if "toolkit-base" not in d.name]
    with pytest.raises(
        BundleError, match="incomplete bundle: missing nvidia-container-toolkit-base"
    ):
        import_debs(without_base, tmp_path / "debs")


def test_only_extras_is_an_error(tmp_path: Path) -> None:
    extras = build_standin_debs(V, "amd64", tmp_path / "in", extras=True)[4:]
    with pytest.raises(BundleError, match="none of the runtime packages given"):
        import_debs(extras, tmp_path / "debs")


def test_same_package_twice(tmp_path: Path) -> None:
    debs = build_standin_debs(V, "amd64", tmp_path / "a")
    with pytest.raises(BundleError, match="package libnvidia-container1 given twice"):
        import_debs([*debs, build_standin_debs(V, "amd64", tmp_path / "b")[0]], tmp_path / "debs")


def test_dependency_cycle_names_the_packages(tmp_path: Path) -> None:
    out = tmp_path / "in"
    debs = [
        _deb(out, "libnvidia-container1", depends="nvidia-container-toolkit (>= 1.17.8-1)"),
        _deb(out, "libnvidia-container-tools", depends="libnvidia-container1"),
        _deb(out, "nvidia-container-toolkit-base"),
        _deb(out, "nvidia-container-toolkit", depends="libnvidia-container-tools"),
    ]
    with pytest.raises(BundleError) as caught:
        import_debs(debs, tmp_path / "debs")
    assert str(caught.value) == (
        "cannot order the bundle: dependency cycle between libnvidia-container-tools, "
        "libnvidia-container1, nvidia-container-toolkit"
    )
    assert not (tmp_path / "debs").exists()


def test_unsatisfied_in_bundle_dependency(tmp_path: Path) -> None:
    out = tmp_path / "in"
    debs = [
        _deb(out, "libnvidia-container1"),
        _deb(out, "libnvidia-container-tools", depends="libnvidia-container1 (>= 1.18.0-1)"),
        _deb(out, "nvidia-container-toolkit-base"),
        _deb(out, "nvidia-container-toolkit"),
    ]
    with pytest.raises(
        BundleError,
        match=r"libnvidia-container-tools 1.17.8-1 depends on libnvidia-container1 \(>= 1.18.0-1\), bundle has libnvidia-container1 1.17.8-1",
    ):
        import_debs(debs, tmp_path / "debs")


def test_pre_depends_orders_too(tmp_path: Path) -> None:
    out = tmp_path / "in"
    extra = out / "tree"
    debs = [
        _deb(out, "libnvidia-container1"),
        _deb(out, "libnvidia-container-tools", depends="libnvidia-container1"),
        _deb(out, "nvidia-container-toolkit"),
    ]
    (extra / "DEBIAN").mkdir(parents=True)
    (extra / "DEBIAN/control").write_text(
        "Package: nvidia-container-toolkit-base\nVersion: 1.17.8-1\nArchitecture: amd64\n"
        "Maintainer: t <t@invalid>\nDescription: test fixture\n"
        "Pre-Depends: nvidia-container-toolkit\n"
    )
    base = out / "base.deb"
    subprocess.run(
        ["dpkg-deb", "--build", str(extra), str(base)], check=True, stdout=subprocess.DEVNULL
    )
    m = import_debs([*debs, base], tmp_path / "debs")
    packages = [e.package for e in m.entries]
    assert packages.index("nvidia-container-toolkit") < packages.index(
        "nvidia-container-toolkit-base"
    )
    assert (
        m.entries[packages.index("nvidia-container-toolkit-base")].pre_depends
        == "nvidia-container-toolkit"
    )


def test_a_different_bundle_at_the_same_place_is_not_overwritten(tmp_path: Path) -> None:
    root = tmp_path / "debs"
    import_debs(build_standin_debs(V, "amd64", tmp_path / "real"), root)
    before = _snapshot(root)
    out = tmp_path / "other"
    other = [_deb(out, name) for name in ORDER]
    with pytest.raises(BundleError, match="a different bundle already exists at"):
        import_debs(other, root)
    assert _snapshot(root) == before


def test_reimport_restores_debs_missing_after_a_git_clone(
    release: tuple[Path, Path], tmp_path: Path
) -> None:
    m = import_sources([release[0]], tmp_path, release[1]).manifest
    before = _snapshot(tmp_path)
    for entry in m.entries:
        entry.path.unlink()
    result = import_sources([release[0]], tmp_path, release[1])
    assert result.changed
    assert _snapshot(tmp_path) == before


GENERATIONS = ("1.17.8", "1.18.2", "1.19.1", "1.20.0")


@pytest.mark.parametrize("version", GENERATIONS)
def test_each_generations_release_tarball_imports(version: str, tmp_path: Path) -> None:
    """NVIDIA's tarball layout and asset names are the same from 1.17 to 1.20
    (hack/prepare-artifacts.sh at each tag); what changes inside is the relations."""
    tarball, checksums = build_release_tarball(version, "arm64", tmp_path / "release")
    result = import_sources([tarball], tmp_path / "debs", checksums)
    assert result.skipped == (
        "libnvidia-container-dev",
        "libnvidia-container1-dbg",
        "nvidia-container-toolkit-operator-extensions",
    )
    m = load_manifest(tmp_path / "debs", version, "arm64")
    assert [e.package for e in m.entries] == ORDER
    assert {e.version for e in m.entries} == {f"{version}-1"}
    seccomp = ["libseccomp2 (>= 2.5)"] if version < "1.18" else []
    assert m.external_depends == ["libc6 (>= 2.27)", "libcap2 (>= 1:2.10)", *seccomp]
    verify_bundle(m)
