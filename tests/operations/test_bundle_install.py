"""An offline bundle's install: nothing uploaded when installed, only the debs whose
checksum differs uploaded, dpkg after the lock wait, holds released and put back in
dpkg's one command."""

from pathlib import Path

from fake_host import fact

from gpu_docker import sh
from gpu_docker.bundle.manifest import BundleEntry
from gpu_docker.facts.dpkg import InstalledPackages, PackageSelections
from gpu_docker.facts.files import RemoteSha256
from gpu_docker.operations import dpkg
from gpu_docker.packages import Selection


def entries(tmp_path: Path):
    names = ["libnvidia-container1", "libnvidia-container-tools"]
    return [
        BundleEntry(
            file=f"{n}_1.17.8-1_amd64.deb",
            package=n,
            version="1.17.8-1",
            arch="amd64",
            size=1,
            sha256=f"{i}" * 64,
            order=i,
            depends="",
            directory=tmp_path,
        )
        for i, n in enumerate(names, 1)
    ]


def test_bundle_already_installed_uploads_nothing(run_op, tmp_path):
    installed = {"libnvidia-container1": "1.17.8-1", "libnvidia-container-tools": "1.17.8-1"}
    commands, host = run_op(
        dpkg.install_bundle,
        {fact(InstalledPackages, packages=list(installed)): installed},
        entries=entries(tmp_path),
        remote_dir="/var/cache/gpu-docker/1.17.8/amd64",
        lock_timeout=300,
    )
    assert commands == []
    assert host.noops == ["2 bundle packages already installed at 1.17.8-1"]


def test_bundle_uploads_only_debs_whose_checksum_differs_and_installs_in_order(run_op, tmp_path):
    cache = "/var/cache/gpu-docker/1.17.8/amd64"
    debs = entries(tmp_path)
    paths = [f"{cache}/{d.file}" for d in debs]
    commands, _ = run_op(
        dpkg.install_bundle,
        {
            fact(InstalledPackages, packages=[d.package for d in debs]): {},
            fact(RemoteSha256, paths=paths): {paths[0]: debs[0].sha256},
            fact(PackageSelections, packages=[d.package for d in debs]): {},
        },
        entries=debs,
        remote_dir=cache,
        lock_timeout=300,
    )
    lock = dpkg.lock_wait(300).get_raw_value()
    assert commands[0] == f"install -d -m 0755 {cache}"
    assert commands[1] == ("upload_deb", str(debs[1].path), f"{cache}/{debs[1].file}")
    assert len(commands) == 3
    order = [f"{d.file}={d.sha256}" for d in debs]
    # The lock wait right before dpkg, in its round trip; no held package.
    assert commands[2].startswith(f"{lock} && sh -c ")
    assert commands[2].endswith(f"gpu-docker '' {cache} {order[0]} {order[1]}")


def test_held_packages_are_released_for_the_install_and_held_again(run_op, tmp_path):
    cache = "/var/cache/gpu-docker/1.17.8/amd64"
    debs = entries(tmp_path)
    paths = [f"{cache}/{d.file}" for d in debs]
    names = [d.package for d in debs]
    commands, _ = run_op(
        dpkg.install_bundle,
        {
            fact(InstalledPackages, packages=names): {},
            fact(RemoteSha256, paths=paths): {
                p: d.sha256 for p, d in zip(paths, debs, strict=True)
            },
            fact(PackageSelections, packages=names): {
                names[0]: Selection("1.17.7-1", "hi", "hold")
            },
        },
        entries=debs,
        remote_dir=cache,
        lock_timeout=300,
    )
    # Every deb cached: no upload. Release, dpkg and re-hold are one command, so a failed
    # dpkg cannot skip the re-hold (sh/dpkg_install.sh, tests/unit/test_dpkg_scripts.py).
    mkdir, install = commands
    lock = dpkg.lock_wait(300).get_raw_value()
    assert mkdir == f"install -d -m 0755 {cache}"
    order = [f"{d.file}={d.sha256}" for d in debs]
    script = sh.command("dpkg_install", names[0], cache, *order).get_raw_value()
    assert install == f"{lock} && {script}"
