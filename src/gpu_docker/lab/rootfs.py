"""Cached Debian root filesystems that lab hosts boot from.

A debootstrap takes about a minute, so it runs once per machine and every host mounts the
result read-only as the lower layers of its own overlay:

- a **base** per Debian release (``bullseye``, ``bookworm``, ``trixie``): debootstrap of
  that release with its own docker.io (20.10.5, 20.10.24, 26.1.5), from its own archive;
- a **layer** per release and init on top of it: ``sudo`` and the lab's login users
  (``ops``: passwordless sudo; ``opspw``: sudo asks for a password the lab sets at boot),
  plus ``systemd``, ``systemd-sysv`` and ``dbus`` for hosts whose PID 1 is systemd (and,
  on trixie's, rootless docker's packages and Debian's podman).

The cache directory is shared by every lab on the machine (other slots, other checkouts).
Each entry is built under an exclusive lock in a ``.building`` directory and renamed into
place only when complete: an interrupted build is rebuilt instead of being mistaken for a
cache, and two labs starting together build it once instead of deleting each other's work.
"""

from __future__ import annotations

import fcntl
import hashlib
import shutil
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from gpu_docker.lab import sh
from gpu_docker.lab.state import Init, Release

MIRROR = "http://deb.debian.org/debian"
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
# trixie split the docker client out of docker.io (a Recommends, which debootstrap skips).
RELEASE_PACKAGES: dict[Release, tuple[str, ...]] = {
    "bullseye": (),
    "bookworm": (),
    "trixie": ("docker-cli",),
}
LAYER_PACKAGES: dict[Init, tuple[str, ...]] = {
    "sysv": ("sudo",),
    "systemd": ("sudo", "systemd", "systemd-sysv", "dbus"),
}
# Rootless docker on trixie's systemd hosts (docker.io ships dockerd-rootless.sh only in
# its contrib folder): user namespaces, the user's network, and `systemctl --user`.
ROOTLESS_PACKAGES: dict[tuple[Release, Init], tuple[str, ...]] = {
    ("trixie", "systemd"): ("uidmap", "rootlesskit", "slirp4netns", "dbus-user-session"),
}
# Debian's podman on trixie's systemd hosts (`container_engine=podman`: GPUs through CDI).
PODMAN_PACKAGES: dict[tuple[Release, Init], tuple[str, ...]] = {
    ("trixie", "systemd"): ("podman",),
}
# The lab's login users, made in the layer by sh/users.sh; their keys and opspw's password
# come at boot.
SUDO_USER = "ops"
SUDO_PASSWORD_USER = "opspw"
_USERS_ARGS = (SUDO_USER, SUDO_PASSWORD_USER)


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created if needed) for the block."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _build_atomically(final: Path, build: Callable[[Path], None]) -> Path:
    """Run ``build(tmp)`` and rename ``tmp`` to ``final``, once per machine.

    Under the lock a leftover ``.building`` directory can only be a dead build's. An older
    gpu-docker builds into ``.partial`` without the lock: if it finishes first, ours is
    dropped and its result used.
    """
    if final.is_dir():
        return final
    with _locked(final.with_name(f".{final.name}.lock")):
        if final.is_dir():
            return final
        partial = final.with_name(final.name + ".building")
        if partial.exists():
            shutil.rmtree(partial)
        partial.mkdir(parents=True)
        build(partial)
        try:
            partial.rename(final)
        except OSError:
            if not final.is_dir():
                raise
            shutil.rmtree(partial)
    return final


def _debootstrap(release: Release, target: Path) -> None:
    """Debootstrap ``release`` and strip what every host must not share."""
    packages = (*PACKAGES, *RELEASE_PACKAGES[release])
    subprocess.run(
        [
            "debootstrap",
            "--variant=minbase",
            f"--include={','.join(packages)}",
            release,
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


def _install_layer(release: Release, init: Init, base: Path, layer: Path) -> None:
    """Install the init's packages from ``release``'s archive and add the login users."""
    with _mounted_overlay(base, layer) as root:
        sources = root / "etc/apt/sources.list.d/gpu-docker-lab-build.list"
        sources.write_text(f"deb {MIRROR} {release} main\n")
        resolv = root / "etc/resolv.conf"
        shutil.copyfile("/etc/resolv.conf", resolv)
        # Never start daemons in the build chroot.
        policy = root / "usr/sbin/policy-rc.d"
        policy.write_text(sh.text("policy_rc"))
        policy.chmod(0o755)
        env = {"DEBIAN_FRONTEND": "noninteractive", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}

        def chroot(*argv: str) -> None:
            subprocess.run(["chroot", str(root), *argv], check=True, env=env)

        try:
            chroot("apt-get", "update", "-q", "-oAcquire::Languages=none")
            # No Recommends: hosts get exactly the init asked for, nothing else.
            chroot(
                "apt-get",
                "install",
                "-y",
                "-q",
                "--no-install-recommends",
                *_layer_packages(release, init),
            )
            chroot("sh", "-c", sh.text("users"), "sh", *_USERS_ARGS)
        finally:
            for path in (sources, policy):
                path.unlink()
            resolv.write_text("")
            chroot("apt-get", "clean")
            for lists in (root / "var/lib/apt/lists").glob("*_dists_*"):
                lists.unlink()
    shutil.rmtree(layer / "work")
    (layer / "merged").rmdir()


def base(cache: Path, release: Release) -> Path:
    """The release's root filesystem, built on first use."""
    return _build_atomically(cache / release, lambda tmp: _debootstrap(release, tmp))


def _layer_packages(release: Release, init: Init) -> tuple[str, ...]:
    """What the layer installs: the init's packages, rootless docker's and podman where
    they run."""
    return (
        *LAYER_PACKAGES[init],
        *ROOTLESS_PACKAGES.get((release, init), ()),
        *PODMAN_PACKAGES.get((release, init), ()),
    )


def _layer_name(release: Release, init: Init) -> str:
    """The layer's cache name: what it installs is in the name, so a change rebuilds it."""
    recipe = "\n".join((*_layer_packages(release, init), sh.text("users"), *_USERS_ARGS))
    digest = hashlib.sha256(recipe.encode()).hexdigest()[:10]
    return f"{release}-{init}-{digest}"


def layer(cache: Path, release: Release, init: Init) -> Path:
    """The init layer (its ``upper`` directory) over the release's base, built on first use."""
    lower = base(cache, release)
    built = _build_atomically(
        cache / _layer_name(release, init),
        lambda tmp: _install_layer(release, init, lower, tmp),
    )
    return built / "upper"


def lower_dirs(cache: Path, release: Release, init: Init) -> list[Path]:
    """The overlay lower directories, top first, for a host of this release and init."""
    return [layer(cache, release, init), base(cache, release)]
