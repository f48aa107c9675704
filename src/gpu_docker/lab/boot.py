"""The first process of a lab host: builds its filesystem view, then becomes its init.

Run by ``hosts.start`` as ``python -m gpu_docker.lab.boot SPEC`` under
``nsenter --net`` + ``unshare --mount --pid --uts --fork --kill-child``: it is PID 1 of a
fresh pid namespace with a private mount namespace, so every mount made here disappears
with the host and nothing leaks into the controller's mount table.

The mounts are what Debian's sshd and docker init scripts need in a chroot: /proc of the
new pid namespace, a read-only sysfs with the real cgroup tree on top (dockerd creates
cgroups), a small /dev with its own devpts, tmpfs /run, and /var/lib/docker on a plain
directory because overlay2 refuses an overlayfs backing.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import stat
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

GUEST_INIT = Path(__file__).with_name("guest_init.py")
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

# The docker init script raises ulimits the sandbox does not allow (no CAP_SYS_RESOURCE
# beyond the controller's own limit); every LSB init script sources this directory.
ULIMIT_HOOK = """\
# gpu-docker lab: ulimit failures must not stop init scripts inside the sandbox.
ulimit() { command ulimit "$@" 2>/dev/null || true; }
"""
# invoke-rc.d (apt-get install) starts daemons only where it sees an init and runlevel 2.
RUNLEVEL = "#!/bin/sh\necho N 2\n"
SSHD_CONFIG = """\
# gpu-docker lab: one per-host ed25519 key, root by key only, no DNS lookups.
HostKey /etc/ssh/ssh_host_ed25519_key
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UseDNS no
"""
DEVICES = {
    "null": (1, 3),
    "zero": (1, 5),
    "full": (1, 7),
    "random": (1, 8),
    "urandom": (1, 9),
    "tty": (5, 0),
}


@dataclass(frozen=True)
class BootSpec:
    """What the controller tells a host's first process; passed as one JSON argument."""

    name: str
    lower: list[str]
    host_dir: str
    authorized_key: str

    @property
    def root(self) -> Path:
        """Where the host's overlay is mounted (inside its own mount namespace only)."""
        return Path(self.host_dir) / "root"


def _mount(*args: str) -> None:
    subprocess.run(["mount", *args], check=True)


def _write(path: Path, text: str, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)


def _mount_overlay(spec: BootSpec) -> None:
    host_dir = Path(spec.host_dir)
    for sub in ("upper", "work", "root", "docker"):
        (host_dir / sub).mkdir(exist_ok=True)
    lower = ":".join(spec.lower)
    options = f"lowerdir={lower},upperdir={host_dir / 'upper'},workdir={host_dir / 'work'}"
    _mount("-t", "overlay", "overlay", "-o", options, str(spec.root))


def _install_guest_files(spec: BootSpec) -> None:
    """Write the files that make the shared rootfs this particular host."""
    root, host_dir = spec.root, Path(spec.host_dir)
    shutil.copyfile(GUEST_INIT, root / "usr/sbin/init")
    (root / "usr/sbin/init").chmod(0o755)
    _write(root / "usr/sbin/runlevel", RUNLEVEL, 0o755)
    _write(root / "usr/lib/lsb/init-functions.d/99-gpu-docker-lab", ULIMIT_HOOK)
    _write(root / "etc/ssh/sshd_config.d/gpu-docker-lab.conf", SSHD_CONFIG)
    for key in ("ssh_host_ed25519_key", "ssh_host_ed25519_key.pub"):
        shutil.copyfile(host_dir / key, root / "etc/ssh" / key)
    (root / "etc/ssh/ssh_host_ed25519_key").chmod(0o600)
    (root / "root/.ssh").mkdir(mode=0o700, exist_ok=True)
    _write(root / "root/.ssh/authorized_keys", spec.authorized_key, 0o600)
    _write(root / "etc/hostname", spec.name + "\n")
    _write(root / "etc/hosts", f"127.0.0.1 localhost\n127.0.1.1 {spec.name}\n")


def _mount_kernel_filesystems(root: Path, docker_dir: Path) -> None:
    _mount("-t", "proc", "proc", str(root / "proc"))
    _mount("-t", "sysfs", "-o", "ro,nosuid,nodev,noexec", "sysfs", str(root / "sys"))
    _mount("--rbind", "/sys/fs/cgroup", str(root / "sys/fs/cgroup"))
    dev = root / "dev"
    _mount("-t", "tmpfs", "-o", "mode=755,nosuid", "tmpfs", str(dev))
    for name, (major, minor) in DEVICES.items():
        os.mknod(dev / name, 0o666 | stat.S_IFCHR, os.makedev(major, minor))
        (dev / name).chmod(0o666)
    for sub in ("pts", "shm"):
        (dev / sub).mkdir()
    _mount(
        "-t", "devpts", "-o", "newinstance,ptmxmode=0666,mode=620,gid=5", "devpts", str(dev / "pts")
    )
    _mount("-t", "tmpfs", "-o", "mode=1777,nosuid,nodev", "tmpfs", str(dev / "shm"))
    os.symlink("pts/ptmx", dev / "ptmx")
    os.symlink("/proc/self/fd", dev / "fd")
    for number, name in enumerate(("stdin", "stdout", "stderr")):
        os.symlink(f"/proc/self/fd/{number}", dev / name)
    _mount("-t", "tmpfs", "-o", "mode=755,nosuid,nodev", "tmpfs", str(root / "run"))
    (root / "var/lib/docker").mkdir(parents=True, exist_ok=True)
    _mount("--bind", str(docker_dir), str(root / "var/lib/docker"))


def boot(spec: BootSpec) -> None:
    """Assemble the host and exec its init; never returns."""
    _mount_overlay(spec)
    _install_guest_files(spec)
    _mount_kernel_filesystems(spec.root, Path(spec.host_dir) / "docker")
    socket.sethostname(spec.name)
    os.chroot(spec.root)
    os.chdir("/")
    os.execve("/usr/sbin/init", ["/sbin/init"], {"PATH": PATH, "LANG": "C.UTF-8"})


if __name__ == "__main__":
    boot(BootSpec(**json.loads(sys.argv[1])))
