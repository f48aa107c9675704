"""The first process of a lab host: builds its filesystem view, then becomes its init.

Run by ``hosts.start`` as ``python -m gpu_docker.lab.boot SPEC`` in the host's network
namespace and a private mount namespace, so every mount made here disappears with the
host and nothing leaks into the controller's mount table. Both kinds of host mount the
overlay and write the files that make the shared rootfs this host (ssh keys, users).

- ``sysv``: under ``unshare --pid --fork`` it is PID 1 of a fresh pid namespace. It mounts
  what Debian's sshd and docker init scripts need in a chroot: /proc of the new pid
  namespace, a read-only sysfs with the real cgroup tree on top (dockerd creates cgroups),
  a small /dev with its own devpts, tmpfs /run, and the engines' stores (/var/lib/docker,
  containerd, containers) on plain directories because overlayfs refuses an overlayfs
  backing; then it chroots and execs the lab's init.
- ``systemd``: it execs ``systemd-nspawn --boot``, which makes the pid namespace, /proc,
  /sys, /dev and cgroups the way systemd expects and runs the release's systemd as PID 1.
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

from gpu_docker.lab import sh
from gpu_docker.lab.rootfs import SUDO_PASSWORD_USER

GUEST_INIT = Path(__file__).with_name("guest_init.py")
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# The engines' image stores, each on a plain directory of the host's own (under /var/lib):
# overlay2, containerd's overlayfs snapshotter and podman's overlay driver all refuse an
# overlayfs backing, which the host's root is.
STORES = ("docker", "containerd", "containers")

# The docker init script raises ulimits the sandbox does not allow (no CAP_SYS_RESOURCE
# beyond the controller's own limit); every LSB init script sources this directory:
# sh/ulimit_hook.sh. invoke-rc.d (apt-get install) starts daemons only where it sees an
# init and runlevel 2: sh/runlevel.sh.
SSHD_CONFIG = """\
# gpu-docker lab: one per-host ed25519 key, logins by key only, no DNS lookups.
HostKey /etc/ssh/ssh_host_ed25519_key
PermitRootLogin prohibit-password
PasswordAuthentication no
UseDNS no
"""
# dockerd in a systemd host: docker.service asks for unlimited open files and processes,
# which the sandbox cannot grant (no CAP_SYS_RESOURCE beyond the controller's limits), so
# systemd would refuse to start it; the drop-in keeps the limits the host already has.
DOCKER_SERVICE_DROPIN = """\
# gpu-docker lab: the sandbox cannot raise these limits; keep the host's.
[Service]
LimitNOFILE=
LimitNPROC=
LimitCORE=
"""
# nspawn mounts the cgroup v1 controllers read-only, and runc must create a cgroup per
# container in them: a oneshot unit makes them writable before containerd and docker start.
# Under a busy boot one remount has been seen not to take (every container then failed with
# runc's "mkdir /sys/fs/cgroup/cpuset/docker/...: read-only file system"), so each remount
# is proved by making and removing a probe cgroup, and only a controller that fails the
# probe is remounted again: a short bounded retry, no wait on the first try, so docker's
# start is not delayed on a good boot. A controller still read-only fails the unit naming
# it (docker starts anyway; lab up's own check then fails the lab naming the host). The
# probe's name is random: every host shares the machine's hierarchies (no cgroup
# namespace on v1) and hosts boot together. The script: sh/cgroups.sh, its one argument
# the remounts a controller gets.
CGROUPS_TRIES = 20
CGROUPS_UNIT = f"""\
[Unit]
Description=gpu-docker lab: writable cgroup controllers for containers
Before=containerd.service docker.service

[Service]
Type=oneshot
ExecStart=/usr/local/sbin/gpu-docker-lab-cgroups {CGROUPS_TRIES}

[Install]
WantedBy=multi-user.target
"""
# nspawn's own seccomp filter and capability bounding set would refuse what dockerd and
# runc do (keyrings, mounts, network admin); the lab host is the sandbox here. dockerd
# also turns on IP forwarding at start, so the host's /proc/sys/net must be writable
# (it is the host's own network namespace; the rest of /proc/sys stays read-only).
NSPAWN_ENV = {"SYSTEMD_SECCOMP": "0", "SYSTEMD_NSPAWN_API_VFS_WRITABLE": "network"}
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
    init: str
    netns: str
    # sudo users whose authorized_keys get the controller's key too; opspw's password hash.
    users: list[str]
    password_hash: str

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
    for sub in ("upper", "work", "root", *STORES):
        (host_dir / sub).mkdir(exist_ok=True)
    lower = ":".join(spec.lower)
    options = f"lowerdir={lower},upperdir={host_dir / 'upper'},workdir={host_dir / 'work'}"
    _mount("-t", "overlay", "overlay", "-o", options, str(spec.root))


def _install_guest_files(spec: BootSpec) -> None:
    """Write the files that make the shared rootfs this particular host."""
    root, host_dir = spec.root, Path(spec.host_dir)
    if spec.init == "sysv":
        shutil.copyfile(GUEST_INIT, root / "usr/sbin/init")
        (root / "usr/sbin/init").chmod(0o755)
        _write(root / "usr/sbin/runlevel", sh.text("runlevel"), 0o755)
    else:
        units = root / "etc/systemd/system"
        _write(units / "docker.service.d/gpu-docker-lab.conf", DOCKER_SERVICE_DROPIN)
        _write(root / "usr/local/sbin/gpu-docker-lab-cgroups", sh.text("cgroups"), 0o755)
        _write(units / "gpu-docker-lab-cgroups.service", CGROUPS_UNIT)
        wants = units / "multi-user.target.wants/gpu-docker-lab-cgroups.service"
        wants.parent.mkdir(parents=True, exist_ok=True)
        wants.symlink_to("/etc/systemd/system/gpu-docker-lab-cgroups.service")
    # lib/, not usr/lib/: bullseye is not merged-/usr, and both paths work where it is.
    _write(root / "lib/lsb/init-functions.d/99-gpu-docker-lab", sh.text("ulimit_hook"))
    _write(root / "etc/ssh/sshd_config.d/gpu-docker-lab.conf", SSHD_CONFIG)
    for key in ("ssh_host_ed25519_key", "ssh_host_ed25519_key.pub"):
        shutil.copyfile(host_dir / key, root / "etc/ssh" / key)
    (root / "etc/ssh/ssh_host_ed25519_key").chmod(0o600)
    (root / "root/.ssh").mkdir(mode=0o700, exist_ok=True)
    _write(root / "root/.ssh/authorized_keys", spec.authorized_key, 0o600)
    _write(root / "etc/hostname", spec.name + "\n")
    _write(root / "etc/hosts", f"127.0.0.1 localhost\n127.0.1.1 {spec.name}\n")
    _install_users(spec)


def _install_users(spec: BootSpec) -> None:
    """Give the lab's sudo users the controller's key, and opspw its password."""
    root = spec.root
    ids = {
        fields[0]: (int(fields[2]), int(fields[3]))
        for fields in (line.split(":") for line in (root / "etc/passwd").read_text().splitlines())
    }
    for user in spec.users:
        keys = root / "home" / user / ".ssh/authorized_keys"
        _write(keys, spec.authorized_key, 0o600)
        os.chown(keys, *ids[user])
    if spec.password_hash:
        shadow = root / "etc/shadow"
        lines = []
        for line in shadow.read_text().splitlines():
            fields = line.split(":")
            if fields[0] == SUDO_PASSWORD_USER:
                fields[1] = spec.password_hash
            lines.append(":".join(fields))
        shadow.write_text("\n".join(lines) + "\n")


def _mount_kernel_filesystems(root: Path, state_dir: Path) -> None:
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
    for store in STORES:
        (root / "var/lib" / store).mkdir(parents=True, exist_ok=True)
        _mount("--bind", str(state_dir / store), str(root / "var/lib" / store))


def _exec_nspawn(spec: BootSpec) -> None:
    """Boot the host's systemd in its own pid namespace on the lab's network namespace."""
    argv = [
        "systemd-nspawn",
        f"--directory={spec.root}",
        f"--machine={spec.name}",
        "--boot",
        "--register=no",
        "--keep-unit",
        f"--network-namespace-path=/run/netns/{spec.netns}",
        "--capability=all",
        "--resolv-conf=off",
        "--timezone=off",
        "--link-journal=no",
        "--console=read-only",
        *(f"--bind={Path(spec.host_dir) / store}:/var/lib/{store}" for store in STORES),
    ]
    os.execvpe(argv[0], argv, {"PATH": PATH, "LANG": "C.UTF-8", **NSPAWN_ENV})


def boot(spec: BootSpec) -> None:
    """Assemble the host and exec its init; never returns."""
    _mount_overlay(spec)
    _install_guest_files(spec)
    if spec.init == "systemd":
        _exec_nspawn(spec)
    _mount_kernel_filesystems(spec.root, Path(spec.host_dir))
    socket.sethostname(spec.name)
    os.chroot(spec.root)
    os.chdir("/")
    os.execve("/usr/sbin/init", ["/sbin/init"], {"PATH": PATH, "LANG": "C.UTF-8"})


if __name__ == "__main__":
    boot(BootSpec(**json.loads(sys.argv[1])))
