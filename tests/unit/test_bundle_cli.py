"""`gpu-docker bundle import|verify|list`: exit codes and what the operator reads."""

from __future__ import annotations

from pathlib import Path

import pytest

from gpu_docker.cli import main
from gpu_docker.lab.standin import build_release_tarball

V = "1.17.8"


@pytest.fixture(scope="module")
def release(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return build_release_tarball(V, "amd64", tmp_path_factory.mktemp("release"))


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An operator's checkout: cwd with files/debs resolved against it."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["bundle", *argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


def _import(capsys: pytest.CaptureFixture[str], release: tuple[Path, Path], *extra: str) -> None:
    code, _, err = _run(capsys, "import", str(release[0]), "--checksums", str(release[1]), *extra)
    assert (code, err) == (0, "")


def test_import_reports_order_and_host_requirements(
    workdir: Path, release: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _run(capsys, "import", str(release[0]), "--checksums", str(release[1]))
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0] == f"imported {V}/amd64: 4 packages into {workdir}/files/debs/{V}/amd64"
    assert lines[1] == f"  1. libnvidia-container1_{V}-1_amd64.deb"
    assert lines[4] == f"  4. nvidia-container-toolkit_{V}-1_amd64.deb"
    assert lines[5] == (
        "host must already have: libc6 (>= 2.27), libcap2 (>= 1:2.10), libseccomp2 (>= 2.5)"
    )
    assert (workdir / "files/debs" / V / "amd64/manifest.json").is_file()


def test_second_import_says_nothing_changed(
    workdir: Path, release: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    _import(capsys, release)
    code, out, _ = _run(capsys, "import", str(release[0]))
    assert code == 0
    assert out.splitlines()[0].endswith("nothing changed")


def test_import_names_the_packages_it_skips(
    workdir: Path, release: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _run(capsys, "import", str(release[0]))
    assert code == 0
    assert out.splitlines()[-1] == (
        "skipped (not needed on a runtime host): libnvidia-container-dev, "
        "libnvidia-container1-dbg, nvidia-container-toolkit-operator-extensions"
    )


def test_import_error_is_one_line_and_exit_2(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    junk = workdir / "download.tar.gz"
    junk.write_text("not really")
    code, out, err = _run(capsys, "import", str(junk))
    assert code == 2
    assert out == ""
    assert err == f"gpu-docker bundle import: error: not a tarball: {junk}\n"
    assert not (workdir / "files").exists()


def test_import_into_a_chosen_bundle_dir(
    workdir: Path, release: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    _import(capsys, release, "--bundle-dir", "elsewhere")
    assert (workdir / "elsewhere" / V / "amd64/manifest.json").is_file()
    assert not (workdir / "files").exists()


def test_verify_ok(
    workdir: Path, release: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    _import(capsys, release)
    code, out, err = _run(capsys, "verify")
    assert (code, err) == (0, "")
    assert out.startswith(f"ok   {V}/amd64: 4 packages, ")


def test_verify_names_the_bad_file_and_exits_1(
    workdir: Path, release: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    _import(capsys, release)
    bad = workdir / "files/debs" / V / "amd64" / f"nvidia-container-toolkit_{V}-1_amd64.deb"
    bad.unlink()
    code, out, err = _run(capsys, "verify", V)
    assert code == 1
    assert out == ""
    assert err == f"FAIL {V}/amd64\n  missing file: {bad}\n"


def test_verify_only_the_version_asked_for(
    workdir: Path, release: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    _import(capsys, release)
    broken = workdir / "files/debs/1.18.0/amd64"
    broken.mkdir(parents=True)
    (broken / "manifest.json").write_text("{}")
    assert _run(capsys, "verify", f"{V}-1")[0] == 0
    code, _, err = _run(capsys, "verify")
    assert code == 1
    assert f"FAIL 1.18.0/amd64\n  invalid manifest {broken}/manifest.json" in err


def test_verify_unknown_version_exits_1(
    workdir: Path, release: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    _import(capsys, release)
    code, _, err = _run(capsys, "verify", "9.9.9")
    assert code == 1
    assert err == f"no bundle for version 9.9.9 under {workdir}/files/debs\n"


@pytest.mark.parametrize("command", ["verify", "list"])
def test_missing_bundle_dir_is_named(
    workdir: Path, command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = _run(capsys, command, "--bundle-dir", "nowhere")
    assert code == 2
    assert err == (
        f"gpu-docker bundle {command}: error: bundle directory {workdir}/nowhere does not exist\n"
    )


def test_list_shows_versions_sizes_and_completeness(
    workdir: Path,
    release: tuple[Path, Path],
    tmp_path_factory: pytest.TempPathFactory,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _import(capsys, release)
    arm = build_release_tarball("1.18.0", "arm64", tmp_path_factory.mktemp("arm"))
    _import(capsys, arm)
    deb = workdir / "files/debs/1.18.0/arm64/libnvidia-container1_1.18.0-1_arm64.deb"
    deb.unlink()
    code, out, err = _run(capsys, "list")
    assert (code, err) == (0, "")
    header, first, second = out.splitlines()
    assert header.split() == ["VERSION", "ARCH", "PACKAGES", "SIZE", "STATUS"]
    assert first.split()[:3] == [V, "amd64", "4"]
    assert first.endswith("KiB  complete")
    assert second.split()[:3] == ["1.18.0", "arm64", "4"]
    assert second.endswith(f"incomplete: missing file: {deb}")


def test_list_sorts_by_debian_version(
    workdir: Path, tmp_path_factory: pytest.TempPathFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    for version in ("1.17.10", "1.17.9"):
        _import(capsys, build_release_tarball(version, "amd64", tmp_path_factory.mktemp(version)))
    _, out, _ = _run(capsys, "list")
    assert [line.split()[0] for line in out.splitlines()[1:]] == ["1.17.9", "1.17.10"]


def test_list_empty_root(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (workdir / "files/debs").mkdir(parents=True)
    code, out, _ = _run(capsys, "list")
    assert code == 0
    assert out == f"no bundles under {workdir}/files/debs\n"
