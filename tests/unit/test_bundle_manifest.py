"""load_manifest and verify_bundle: what the deploy trusts before it installs anything."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gpu_docker.bundle.importer import import_debs
from gpu_docker.bundle.manifest import BundleError, Manifest, load_manifest, verify_bundle
from gpu_docker.lab.standin import build_standin_debs

V = "1.17.8"


@pytest.fixture
def bundle(tmp_path: Path) -> Manifest:
    return import_debs(build_standin_debs(V, "amd64", tmp_path / "src"), tmp_path / "debs")


def _edit(m: Manifest, change) -> None:
    data = json.loads(m.path.read_text())
    change(data)
    m.path.write_text(json.dumps(data))


def test_intact_bundle_verifies(bundle: Manifest) -> None:
    verify_bundle(bundle)


def test_missing_manifest_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(
        BundleError, match=f"no bundle manifest at {tmp_path}/1.17.8/amd64/manifest.json"
    ):
        load_manifest(tmp_path, "1.17.8-1", "amd64")


def test_missing_manifest_lists_the_bundles_the_root_holds(bundle: Manifest) -> None:
    """A wrong version or a missing architecture is told apart from a wrong bundle_dir."""
    root = bundle.directory.parent.parent
    with pytest.raises(BundleError) as err:
        load_manifest(root, V, "arm64")
    assert str(err.value).endswith(f"(bundles under {root}: {V}/amd64)")
    with pytest.raises(BundleError, match=r"\(bundles under .*: none\)$"):
        load_manifest(root / "nowhere", V, "amd64")


def test_invalid_json_names_the_path(bundle: Manifest) -> None:
    bundle.path.write_text("{not json")
    with pytest.raises(BundleError, match=f"unreadable manifest {bundle.path}"):
        load_manifest(bundle.directory.parent.parent, V, "amd64")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(format=2), "format 2 is not supported"),
        (lambda d: d.pop("packages"), "missing field 'packages'"),
        (lambda d: d.update(packages=[]), "lists no packages"),
        (lambda d: d.update(version="1.17.9"), "says 1.17.9/amd64 but sits in 1.17.8/amd64"),
        (lambda d: d["packages"][0].update(size="12"), "field 'size' must be int"),
        (
            lambda d: d["packages"][0].update(file="../../etc/passwd.deb"),
            "not a plain .deb file name",
        ),
        (lambda d: d["packages"][0].update(sha256="abc"), "is not 64 lowercase hex digits"),
        (lambda d: d["packages"].reverse(), "listed in install order"),
        (
            lambda d: d.update(
                packages=[
                    dict(d["packages"][1], order=0),
                    dict(d["packages"][0], order=1),
                    *d["packages"][2:],
                ]
            ),
            "libnvidia-container-tools \\(order 0\\) needs libnvidia-container1",
        ),
        (lambda d: d["packages"].append(dict(d["packages"][0], order=4)), "listed twice"),
        (lambda d: d["packages"][0].update(depends="libc6 ((("), "cannot parse"),
    ],
)
def test_hand_edited_manifest_structure_is_rejected(bundle: Manifest, change, message: str) -> None:
    _edit(bundle, change)
    with pytest.raises(BundleError, match=message) as caught:
        load_manifest(bundle.directory.parent.parent, V, "amd64")
    assert str(bundle.path) in str(caught.value)


def _verify_problems(m: Manifest) -> tuple[str, ...]:
    reloaded = load_manifest(m.directory.parent.parent, m.version, m.arch)
    with pytest.raises(BundleError) as caught:
        verify_bundle(reloaded)
    return caught.value.problems


def test_altered_deb_is_named(bundle: Manifest) -> None:
    target = bundle.entries[1].path
    data = bytearray(target.read_bytes())
    data[-1] ^= 0xFF
    target.write_bytes(bytes(data))
    problems = _verify_problems(bundle)
    assert len(problems) == 1
    assert problems[0].startswith(f"{target}: sha256 ")
    assert f"manifest says {bundle.entries[1].sha256}" in problems[0]


def test_truncated_deb_is_named_by_size(bundle: Manifest) -> None:
    target = bundle.entries[0].path
    target.write_bytes(target.read_bytes()[:-10])
    assert _verify_problems(bundle) == (
        f"{target}: size {bundle.entries[0].size - 10} bytes, manifest says {bundle.entries[0].size}",
    )


def test_missing_deb_is_named(bundle: Manifest) -> None:
    bundle.entries[3].path.unlink()
    assert _verify_problems(bundle) == (f"missing file: {bundle.entries[3].path}",)


def test_extra_file_is_named(bundle: Manifest) -> None:
    extra = bundle.directory / "libnvidia-container-dev_1.17.8-1_amd64.deb"
    extra.write_bytes(b"x")
    assert _verify_problems(bundle) == (f"unexpected file: {extra}",)


def test_every_problem_is_reported_not_just_the_first(bundle: Manifest) -> None:
    bundle.entries[0].path.unlink()
    bundle.entries[1].path.write_bytes(b"changed")
    (bundle.directory / "stray.txt").write_text("hi")
    problems = _verify_problems(bundle)
    assert [p.split(":")[0] for p in problems] == [
        "missing file",
        str(bundle.entries[1].path),
        "unexpected file",
    ]


def test_hand_edited_checksum_is_caught(bundle: Manifest) -> None:
    _edit(bundle, lambda d: d["packages"][2].update(sha256="0" * 64))
    (problem,) = _verify_problems(bundle)
    assert problem.startswith(f"{bundle.entries[2].path}: sha256 {bundle.entries[2].sha256}")


def test_hand_edited_version_is_caught_from_the_package_itself(bundle: Manifest) -> None:
    _edit(bundle, lambda d: d["packages"][0].update(version="1.17.9-1"))
    (problem,) = _verify_problems(bundle)
    assert problem == (
        f"{bundle.entries[0].path}: version is '1.17.8-1' in the package, manifest says '1.17.9-1'"
    )


def test_hand_edited_external_depends_is_caught(bundle: Manifest) -> None:
    _edit(bundle, lambda d: d["external_depends"].remove("libseccomp2 (>= 2.5)"))
    (problem,) = _verify_problems(bundle)
    assert "external_depends" in problem
    assert str(bundle.path) in problem


def test_entry_paths_are_absolute_even_for_a_relative_root(
    bundle: Manifest, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(bundle.directory.parent.parent.parent)
    m = load_manifest(Path("debs"), V, "amd64")
    assert m.entries[0].path == bundle.entries[0].path
    assert m.entries[0].path.is_absolute()
