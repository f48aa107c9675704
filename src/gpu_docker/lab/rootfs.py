"""Cached Debian root filesystems that lab hosts boot from.

A debootstrap takes about a minute, so it runs once per machine and every host mounts the
result read-only as the lower layer of its own overlay. Each layer is built in a
``.partial`` directory and renamed into place only when complete, so an interrupted build
is rebuilt instead of being mistaken for a cache.

Two layers exist: ``bookworm`` (stock Debian 12 with docker.io 20.10) and ``trixie``, an
overlay upper directory on top of it holding trixie's docker.io 26 and docker-cli (kept
with bookworm's containerd and runc) for hosts that need ``dockerd --validate``.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from gpu_docker.lab.state import DockerFlavour

MIRROR = "http://deb.debian.org/debian"
SUITE = "bookworm"
PACKAGES = (
    "openssh-server",
    "python3",
    "gnupg",
    "ca-certificates",
    "curl",
    "iproute2",
    "procps",
    "apt-utils",
    "docker.io",
    "iptables",
)
TRIXIE_PACKAGES = ("docker.io/trixie", "docker-cli/trixie")


def _build_atomically(final: Path, build: Callable[[Path], None]) -> Path:
    """Run ``build(tmp)`` and rename ``tmp`` to ``final``; a stale ``tmp`` is discarded."""
    if final.is_dir():
        return final
    partial = final.with_name(final.name + ".partial")
    if partial.exists():
        shutil.rmtree(partial)
    partial.mkdir(parents=True)
    build(partial)
    partial.rename(final)
    return final


def _debootstrap(target: Path) -> None:
    """Debootstrap bookworm and strip what every host must not share."""
    subprocess.run(
        [
            "debootstrap",
            "--variant=minbase",
            f"--include={','.join(PACKAGES)}",
            SUITE,
            str(target),
            MIRROR,
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    # Host keys are made per host; hosts see only the lab's repository and have no DNS.
    for key in (target / "etc/ssh").glob("ssh_host_*"):
        key.unlink()
    (target / "etc/apt/sources.list").unlink(missing_ok=True)
    (target / "etc/resolv.conf").write_text("")
    for deb in (target / "var/cache/apt/archives").glob("*.deb"):
        deb.unlink()


@contextmanager
def _mounted_overlay(lower: Path, layer: Path) -> Iterator[Path]:
    """Mount ``layer/upper`` over ``lower`` with /proc and /dev for a chroot apt run."""
    upper, work, merged = layer / "upper", layer / "work", layer / "merged"
    for directory in (upper, work, merged):
        directory.mkdir(exist_ok=True)
    options = f"lowerdir={lower},upperdir={upper},workdir={work}"
    subprocess.run(["mount", "-t", "overlay", "overlay", "-o", options, str(merged)], check=True)
    mounted = [merged]
    try:
        subprocess.run(["mount", "-t", "proc", "proc", str(merged / "proc")], check=True)
        mounted.append(merged / "proc")
        subprocess.run(["mount", "--bind", "/dev", str(merged / "dev")], check=True)
        mounted.append(merged / "dev")
        yield merged
    finally:
        for point in reversed(mounted):
            subprocess.run(["umount", str(point)], check=True)


def _install_trixie_docker(base: Path, layer: Path) -> None:
    """Install trixie's docker.io and docker-cli on top of ``base`` into ``layer/upper``."""
    with _mounted_overlay(base, layer) as root:
        sources = root / "etc/apt/sources.list.d/gpu-docker-lab-build.list"
        sources.write_text(f"deb {MIRROR} bookworm main\ndeb {MIRROR} trixie main\n")
        # Prefer bookworm for everything not named, so containerd and runc stay bookworm's.
        prefs = root / "etc/apt/preferences.d/gpu-docker-lab-build"
        prefs.write_text("Package: *\nPin: release n=trixie\nPin-Priority: 100\n")
        resolv = root / "etc/resolv.conf"
        shutil.copyfile("/etc/resolv.conf", resolv)
        # Never start daemons in the build chroot.
        policy = root / "usr/sbin/policy-rc.d"
        policy.write_text("#!/bin/sh\nexit 101\n")
        policy.chmod(0o755)
        env = {"DEBIAN_FRONTEND": "noninteractive", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
        try:
            subprocess.run(
                ["chroot", str(root), "apt-get", "update", "-q", "-oAcquire::Languages=none"],
                check=True,
                env=env,
            )
            subprocess.run(
                [
                    "chroot",
                    str(root),
                    "apt-get",
                    "install",
                    "-y",
                    "-q",
                    # Recommends would pull in systemd; lab hosts have none, like the
                    # servers the deploy's `service docker restart` path is for.
                    "--no-install-recommends",
                    *TRIXIE_PACKAGES,
                ],
                check=True,
                env=env,
            )
        finally:
            for path in (sources, prefs, policy):
                path.unlink()
            resolv.write_text("")
            subprocess.run(["chroot", str(root), "apt-get", "clean"], check=True, env=env)
            for lists in (root / "var/lib/apt/lists").glob("*_dists_*"):
                lists.unlink()
    shutil.rmtree(layer / "work")
    (layer / "merged").rmdir()


def bookworm_base(cache: Path) -> Path:
    """The bookworm root filesystem, built on first use."""
    return _build_atomically(cache / "bookworm", _debootstrap)


def trixie_layer(cache: Path) -> Path:
    """The trixie docker overlay layer (its ``upper`` directory), built on first use."""
    base = bookworm_base(cache)
    layer = _build_atomically(
        cache / "trixie-docker", lambda tmp: _install_trixie_docker(base, tmp)
    )
    return layer / "upper"


def lower_dirs(cache: Path, docker: DockerFlavour) -> list[Path]:
    """The overlay lower directories, top first, for a host with this docker build."""
    if docker == "trixie":
        return [trixie_layer(cache), bookworm_base(cache)]
    return [bookworm_base(cache)]
