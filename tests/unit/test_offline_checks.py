"""The deploy's offline preflight: every way a bundle can be wrong becomes one problem that
names the file, before anything reaches the host (the lab runs one such host end to end)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from gpu_docker.bundle.importer import import_debs
from gpu_docker.lab.standin import build_standin_debs
from gpu_docker.preflight import Package, Preflight, checked_bundle, offline_checks
from gpu_docker.settings import load_settings

V = load_settings("h", {}).toolkit_version  # the default pin: the bundle it looks for
BASE = f"nvidia-container-toolkit-base_{V}-1_amd64.deb"
READY = Preflight(
    os_id="debian",
    os_version="12",
    arch="amd64",
    driver="580.65.06",
    dockerd_version="Docker version 20.10.24",
    tools=frozenset({"dpkg", "docker", "curl", "gpg"}),
    packages={
        name: Package(name, version, "ii")
        for name, version in {
            "libc6": "2.36-9",
            "libcap2": "1:2.66-4",
            "libseccomp2": "2.5.4-1",
        }.items()
    },
)


def _remove_deb(amd64: Path) -> None:
    (amd64 / f"nvidia-container-toolkit_{V}-1_amd64.deb").unlink()


def _add_stray_file(amd64: Path) -> None:
    (amd64 / "notes.txt").write_text("copied here by hand\n")


def _edit_manifest(amd64: Path) -> None:
    path = amd64 / "manifest.json"
    manifest = json.loads(path.read_text())
    (entry,) = [e for e in manifest["packages"] if e["file"] == BASE]
    entry["version"] = "1.17.9-1"
    path.write_text(json.dumps(manifest, indent=2) + "\n")


def _only_arm64(amd64: Path) -> None:
    amd64.rename(amd64.with_name("arm64"))


@pytest.fixture
def root(tmp_path: Path) -> Path:
    checked_bundle.cache_clear()
    import_debs(build_standin_debs(V, "amd64", tmp_path / "src"), tmp_path / "debs")
    return tmp_path / "debs"


def test_intact_bundle_passes(root: Path) -> None:
    settings = load_settings("h", {"install_method": "offline", "bundle_dir": str(root)})
    manifest, problems = offline_checks(settings, READY, None)
    assert manifest is not None and manifest.version == V
    assert problems == []


@pytest.mark.parametrize(
    ("damage", "named"),
    [
        (_remove_deb, f"missing file: {{amd64}}/nvidia-container-toolkit_{V}-1_amd64.deb"),
        (_add_stray_file, "unexpected file: {amd64}/notes.txt"),
        (
            _edit_manifest,
            f"{{amd64}}/{BASE}: version is '{V}-1' in the package, manifest says '1.17.9-1'",
        ),
        (
            _only_arm64,
            f"no bundle manifest at {{amd64}}/manifest.json (bundles under {{root}}: {V}/arm64)",
        ),
    ],
    ids=["missing deb", "stray file", "edited manifest", "other arch only"],
)
def test_damaged_bundle_is_one_problem_naming_the_file(
    root: Path, damage: Callable[[Path], None], named: str
) -> None:
    amd64 = root / V / "amd64"
    damage(amd64)
    settings = load_settings("h", {"install_method": "offline", "bundle_dir": str(root)})
    manifest, problems = offline_checks(settings, READY, None)
    assert manifest is None
    (problem,) = problems
    assert problem.startswith("offline bundle: ")
    assert named.format(amd64=amd64, root=root) in problem


def test_missing_external_dependency_is_named(root: Path) -> None:
    without_libcap = Preflight(
        **{
            **READY.__dict__,
            "packages": {k: v for k, v in READY.packages.items() if k != "libcap2"},
        }
    )
    settings = load_settings("h", {"install_method": "offline", "bundle_dir": str(root)})
    _, problems = offline_checks(settings, without_libcap, None)
    assert any("libcap2" in p and "cannot fetch" in p for p in problems), problems
