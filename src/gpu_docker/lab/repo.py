"""The lab's signed apt repository and offline bundles, built from stand-in packages.

The online hosts must exercise the same path as against nvidia.github.io: a flat
repository at ``<root>/stable/deb/amd64/`` whose InRelease is signed by a key the deploy
fetches from ``<root>/gpgkey`` and checks by fingerprint. A second key at
``<root>/gpgkey-wrong`` lets tests prove that a fingerprint mismatch is refused. The
restricted hosts get the same packages as offline bundles in ``<state>/debs``.

Test fixture: ``<root>/future-dated/deb/amd64/`` is a copy of the repository whose
Release is dated in the future (signed by the same key), as a host whose clock is behind
sees a real one: apt refuses it as "not valid yet".
"""

from __future__ import annotations

import gzip
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from gpu_docker.bundle.importer import import_debs
from gpu_docker.lab.standin import build_standin_debs

ARCH = "amd64"
REPO_SUBDIR = f"stable/deb/{ARCH}"
KEY_NAME = "gpu-docker lab repository (TEST KEY) <lab@gpu-docker.invalid>"
WRONG_KEY_NAME = "gpu-docker lab wrong key (TEST KEY) <wrong@gpu-docker.invalid>"
#: Test fixture: the copy with a Release a clock two years behind would see.
FUTURE_SUBDIR = f"future-dated/deb/{ARCH}"
FUTURE_DATE = "Sat, 01 Jan 2039 00:00:00 UTC"
RELEASE_FIELDS = {
    "Origin": "gpu-docker-lab",
    "Label": "gpu-docker lab stand-in of NVIDIA's repository",
}


@dataclass(frozen=True)
class Repo:
    """A built repository: its served root and the fingerprint of its signing key."""

    root: Path
    fingerprint: str


def _gpg(home: Path, *args: str) -> str:
    return subprocess.run(
        ["gpg", "--homedir", str(home), "--batch", "--quiet", *args],
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def _new_key(home: Path, name: str) -> str:
    """Generate a passphrase-less ed25519 signing key; return its fingerprint."""
    _gpg(home, "--passphrase", "", "--quick-gen-key", name, "ed25519", "sign", "never")
    listing = _gpg(home, "--with-colons", "--list-keys", name)
    return next(line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr:"))


def _index_and_sign(
    directory: Path, home: Path, fingerprint: str, fields: Mapping[str, str] = RELEASE_FIELDS
) -> None:
    """Write Packages, Packages.gz, Release, InRelease and Release.gpg like NVIDIA's."""
    packages = subprocess.run(
        ["apt-ftparchive", "packages", "."],
        cwd=directory,
        check=True,
        capture_output=True,
    ).stdout
    (directory / "Packages").write_bytes(packages)
    (directory / "Packages.gz").write_bytes(gzip.compress(packages, mtime=0))
    options = [f"-oAPT::FTPArchive::Release::{key}={value}" for key, value in fields.items()]
    release = subprocess.run(
        ["apt-ftparchive", *options, "release", "."],
        cwd=directory,
        check=True,
        capture_output=True,
    ).stdout
    (directory / "Release").write_bytes(release)
    sign = ["--yes", "--local-user", fingerprint]
    _gpg(home, *sign, "--clearsign", "-o", str(directory / "InRelease"), str(directory / "Release"))
    _gpg(home, *sign, "-abs", "-o", str(directory / "Release.gpg"), str(directory / "Release"))


def build(state_dir: Path, versions: list[str]) -> Repo:
    """Build the signed repository under ``<state>/repo`` and bundles under ``<state>/debs``."""
    home = state_dir / "gnupg"
    home.mkdir(mode=0o700)
    root = state_dir / "repo"
    directory = root / REPO_SUBDIR
    directory.mkdir(parents=True)
    try:
        fingerprint = _new_key(home, KEY_NAME)
        wrong = _new_key(home, WRONG_KEY_NAME)
        (root / "gpgkey").write_text(_gpg(home, "--armor", "--export", fingerprint))
        (root / "gpgkey-wrong").write_text(_gpg(home, "--armor", "--export", wrong))
        for version in versions:
            # The importer keeps the runtime packages; the repository has -dev/-dbg too.
            debs = build_standin_debs(version, ARCH, directory, extras=True)
            import_debs(debs, state_dir / "debs")
        _index_and_sign(directory, home, fingerprint)
        future = root / FUTURE_SUBDIR
        future.mkdir(parents=True)
        for deb in directory.glob("*.deb"):
            (future / deb.name).hardlink_to(deb)
        _index_and_sign(future, home, fingerprint, {**RELEASE_FIELDS, "Date": FUTURE_DATE})
    finally:
        # The agent gpg started would outlive the lab otherwise.
        stop_gpg_agent(home)
    return Repo(root=root, fingerprint=fingerprint)


def stop_gpg_agent(home: Path) -> None:
    """Stop the gpg-agent (and friends) that gpg started for ``home``."""
    if home.is_dir():
        subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "all"], check=False)


def free_port(address: str) -> int:
    """A TCP port nothing listens on at ``address``."""
    with socket.socket() as probe:
        probe.bind((address, 0))
        port: int = probe.getsockname()[1]
        return port


def serve(root: Path, address: str, port: int, log: Path) -> int:
    """Serve ``root`` over HTTP on ``address:port`` only, detached; return the pid."""
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "http.server", str(port), "--bind", address],
            cwd=root,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection((address, port), timeout=0.5).close()
            return process.pid
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"the lab repository did not start on {address}:{port}; see {log}")
