"""`bundle fetch` against a mirror served by http.server on 127.0.0.1."""

from __future__ import annotations

import functools
import io
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from gpu_docker.bundle.errors import BundleError
from gpu_docker.bundle.fetch import DEFAULT_BASE_URL, asset_url, fetch_release
from gpu_docker.cli import main
from gpu_docker.lab.standin import build_release_tarball

V = "1.17.8"


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        """Keep pytest output clean."""


@pytest.fixture
def mirror(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A release mirror laid out like GitHub's: <base>/v<V>/<asset>."""
    served = tmp_path / "served"
    build_release_tarball(V, "amd64", served / f"v{V}")
    handler = functools.partial(_Quiet, directory=str(served))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v{{version}}/", served
    finally:
        server.shutdown()
        server.server_close()


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_default_url_is_nvidias_github_release() -> None:
    assert asset_url(DEFAULT_BASE_URL, V, "x.tar.gz") == (
        "https://github.com/NVIDIA/nvidia-container-toolkit/releases/download/v1.17.8/x.tar.gz"
    )


def test_fetch_downloads_verifies_and_imports(mirror: tuple[str, Path], tmp_path: Path) -> None:
    log = io.StringIO()
    result = fetch_release(f"{V}-1", "amd64", tmp_path / "debs", mirror[0], stream=log)
    assert result.changed
    assert [e.order for e in result.manifest.entries] == [0, 1, 2, 3]
    assert result.manifest.directory == tmp_path / "debs" / V / "amd64"
    lines = log.getvalue().splitlines()
    assert lines[0].startswith(f"downloading nvidia-container-toolkit_{V}_deb_amd64.tar.gz (")
    assert lines[1].startswith(f"downloaded nvidia-container-toolkit_{V}_deb_amd64.tar.gz: ")
    checksums = mirror[1] / f"v{V}" / f"nvidia-container-toolkit_{V}_checksums.txt"
    size = checksums.stat().st_size
    assert lines[3] == f"downloaded {checksums.name}: {size} bytes"


def test_progress_bar_on_a_terminal(mirror: tuple[str, Path], tmp_path: Path) -> None:
    tty = _Tty()
    fetch_release(V, "amd64", tmp_path / "debs", mirror[0], stream=tty)
    text = tty.getvalue()
    assert f"\rnvidia-container-toolkit_{V}_deb_amd64.tar.gz [" in text
    assert "] 100% " in text
    assert "downloading" not in text


def test_fetch_twice_is_a_no_op(mirror: tuple[str, Path], tmp_path: Path) -> None:
    fetch_release(V, "amd64", tmp_path, mirror[0], stream=io.StringIO())
    assert not fetch_release(V, "amd64", tmp_path, mirror[0], stream=io.StringIO()).changed


def test_tampered_mirror_changes_nothing(mirror: tuple[str, Path], tmp_path: Path) -> None:
    base, served = mirror
    tarball = served / f"v{V}" / f"nvidia-container-toolkit_{V}_deb_amd64.tar.gz"
    tarball.write_bytes(tarball.read_bytes() + b"\0")
    with pytest.raises(BundleError, match=r"checksum mismatch for .*_deb_amd64\.tar\.gz"):
        fetch_release(V, "amd64", tmp_path / "debs", base, stream=io.StringIO())
    assert not (tmp_path / "debs").exists()


def test_missing_release_names_the_url(mirror: tuple[str, Path], tmp_path: Path) -> None:
    with pytest.raises(BundleError) as caught:
        fetch_release("9.9.9", "amd64", tmp_path / "debs", mirror[0], stream=io.StringIO())
    url = (
        mirror[0].replace("{version}", "9.9.9") + "nvidia-container-toolkit_9.9.9_deb_amd64.tar.gz"
    )
    assert str(caught.value) == f"download failed: {url}: HTTP 404 File not found"


def test_cli_fetch(
    mirror: tuple[str, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    code = main(["bundle", "fetch", V, "--arch", "amd64", "--base-url", mirror[0]])
    out, err = capsys.readouterr()
    assert code == 0
    assert out.startswith(f"imported {V}/amd64: 4 packages into {tmp_path}/files/debs/{V}/amd64")
    assert "downloading" in err
    code = main(["bundle", "fetch", V, "--arch", "arm64", "--base-url", mirror[0]])
    _, err = capsys.readouterr()
    assert code == 2
    assert err.splitlines()[-1].startswith("gpu-docker bundle fetch: error: download failed: ")
    assert "Traceback" not in err


@pytest.mark.parametrize("version", ["1.18.2", "1.19.1", "1.20.0"])
def test_fetch_takes_each_newer_generations_assets(version: str, tmp_path: Path) -> None:
    served = tmp_path / "served"
    build_release_tarball(version, "amd64", served / f"v{version}")
    handler = functools.partial(_Quiet, directory=str(served))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}/v{{version}}/"
        result = fetch_release(version, "amd64", tmp_path / "debs", base, stream=io.StringIO())
    finally:
        server.shutdown()
        server.server_close()
    assert result.changed and result.manifest.version == version
    assert [e.package for e in result.manifest.entries][-1] == "nvidia-container-toolkit"
