"""dpkg on the host: its lock waited for, an interrupted run finished, holds respected,
an offline bundle installed, the toolkit removed.

Both install methods (apt, offline dpkg) follow the rules of :mod:`gpu_docker.packages`,
said before anything is written; a dpkg/apt lock held by another process
(unattended-upgrades at boot) is waited for up to ``dpkg_lock_timeout`` before the host
fails naming the holder.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator, Sequence
from typing import Any

from pyinfra import host
from pyinfra.api import QuoteString, StringCommand, operation

from gpu_docker import sh
from gpu_docker.bundle.manifest import BundleEntry
from gpu_docker.facts import host_state
from gpu_docker.facts.dpkg import DpkgAudit, DpkgDepends, InstalledPackages, PackageSelections
from gpu_docker.facts.files import DaemonJsonKept, RemoteSha256
from gpu_docker.operations.files import upload_deb
from gpu_docker.operations.util import WithConnectorArguments, fail
from gpu_docker.packages import downgrades, held_to_move, legacy_present, removal_plan


def lock_wait(timeout: int) -> StringCommand:
    """The command that waits for dpkg's and apt's locks (see ``sh/dpkg_lock.sh``)."""
    return sh.command("dpkg_lock", str(timeout))


def held_names(packages: Sequence[str]) -> str:
    """The held ones of ``packages``, space-separated: the argument of the install scripts
    (``sh/apt_install.sh``, ``sh/dpkg_install.sh``).

    The script releases them for its install and holds them again whatever the install
    did, then exits with the install's status (``held_step`` in ``sh/lib_dpkg.sh``): a
    failed install never leaves a hold released, and says so in one line.
    ``check_packages`` refused the host unless moving them was allowed.
    """
    selections = host_state.read(PackageSelections, packages=tuple(packages))
    return " ".join(sorted(name for name, sel in selections.items() if sel.want == "hold"))


@operation()
def repair(lock_wait: StringCommand | None = None) -> Generator[StringCommand | str, None, None]:
    """
    Finish an interrupted dpkg run (``dpkg --configure -a``) before apt or a bundle installs.

    + lock_wait: a command run first that waits for another apt or dpkg to finish

    A dpkg killed mid-install leaves packages unpacked or half-installed, and apt then
    refuses every install until ``dpkg --configure -a`` has run. Half-installed packages
    stay for the install that follows to reinstall. Nothing is done when the audit is clean.
    The lock wait and the run share one round trip; a failure ends in one line naming
    dpkg's error.

    **Example:**

    .. code:: python

        dpkg.repair(name="Finish an interrupted dpkg run, if any", lock_wait=dpkg.lock_wait(300))
    """
    if not host_state.read(DpkgAudit):
        host.noop("dpkg state is consistent")
        return
    # dpkg's output passed on, a failure ending in one line naming dpkg's error.
    configure = sh.command("dpkg_configure")
    yield configure if lock_wait is None else StringCommand(lock_wait, "&&", configure)


@operation()
def check_packages(
    packages: Sequence[str], wanted: str, release_holds: bool
) -> Generator[Any, None, None]:
    """
    Refuse to move held toolkit packages (unless allowed), and name a downgrade.

    + packages: the toolkit's packages
    + wanted: the deb version of the pin
    + release_holds: allowed to move held packages (the hold is put back afterwards)

    Runs before anything is written, so a refused host is left exactly as it was.

    **Example:**

    .. code:: python

        dpkg.check_packages(
            name="Check held and newer toolkit packages",
            packages=toolkit.PACKAGES,
            wanted="1.17.8-1",
            release_holds=False,
        )
    """
    selections = host_state.read(PackageSelections, packages=tuple(packages))
    held = held_to_move(selections, wanted)
    if held and not release_holds:
        yield from fail._inner(
            f"held packages would change: {', '.join(held)} (apt-mark showhold); nothing "
            f"installed: unhold them, or set release_holds=True to move them to {wanted} "
            "and hold them there"
        )
        return
    for name, version in downgrades(selections, wanted):
        host.log(f"gpu-docker: {name} {version} is newer than the pin: downgrading to {wanted}")
    host.noop("no held package in the way")


def _bundle_commands(
    entries: Sequence[BundleEntry], remote_dir: str, lock_timeout: int
) -> Iterator[Any]:
    """Upload the debs the host lacks (not already cached with the manifest's sha256), then
    wait for the lock and install them with dpkg (held packages released for it and held
    again, see ``held_names``); nothing when every package is installed at its version."""
    names = tuple(e.package for e in entries)
    installed = host_state.read(InstalledPackages, packages=names)
    needed = [e for e in entries if installed.get(e.package) != e.version]
    if not needed:
        host.noop(f"{len(entries)} bundle packages already installed at {entries[0].version}")
        return

    paths = {e.file: f"{remote_dir}/{e.file}" for e in needed}
    present = host_state.read(RemoteSha256, paths=tuple(paths.values()))
    held = held_names(names)  # read before anything is sent, as every fact here
    yield StringCommand("install", "-d", "-m", "0755", QuoteString(remote_dir))
    for entry in needed:
        remote = paths[entry.file]
        if present.get(remote) != entry.sha256:
            yield WithConnectorArguments(upload_deb, (str(entry.path), remote), {})
    # The lock wait right before dpkg, in its round trip: not before the uploads.
    install = sh.command(
        "dpkg_install", held, remote_dir, *(f"{e.file}={e.sha256}" for e in needed)
    )
    yield StringCommand(lock_wait(lock_timeout), "&&", install)


@operation()
def install_bundle(
    entries: Sequence[BundleEntry], remote_dir: str, lock_timeout: int
) -> Generator[Any, None, None]:
    """
    Install an offline bundle's debs with dpkg, in the manifest's order, once dpkg's lock
    is free.

    + entries: the manifest's entries, already verified on the controller, in install order
    + remote_dir: cache directory on the host; uploads are kept for the next run
    + lock_timeout: seconds to wait for another apt or dpkg to finish

    Packages already installed at their version are skipped; when none is left nothing is
    uploaded. A deb already in the cache with the manifest's sha256 is not uploaded again.
    ``dpkg -i`` only: no ``apt-get -f`` reaching for a network a restricted host lacks.
    Held packages are released and held again as with ``apt.install``; dpkg's output is
    passed on and a failure ends in one line naming dpkg's error.

    **Example:**

    .. code:: python

        dpkg.install_bundle(
            name="Install the bundle 1.17.8/amd64 with dpkg",
            entries=manifest.entries,
            remote_dir="/var/cache/gpu-docker/1.17.8/amd64",
            lock_timeout=300,
        )
    """
    yield from _bundle_commands(entries, remote_dir, lock_timeout)


@operation()
def remove_packages(
    packages: Sequence[str], pin: str, lock_wait: StringCommand
) -> Generator[StringCommand, None, None]:
    """
    Remove the toolkit packages and their apt pin; what a first attempt left is finished.

    + packages: in install order; purged in reverse
    + pin: the apt preferences file the deploy wrote
    + lock_wait: the command that waits for another apt or dpkg to finish

    Packages in any state count, half-installed and unpacked ones too (an interrupted
    install or removal), so a second rollback completes the first. Other installed
    packages that depend on the toolkit (``nvidia-container-toolkit-operator-extensions``,
    ``nvidia-docker2``) are removed first, their configuration kept, and named: dpkg would
    refuse to leave them broken, and stop half-way. A dpkg that stops anyway (killed, a
    maintainer script failing) fails the host with one line saying to run it again.

    **Example:**

    .. code:: python

        dpkg.remove_packages(
            name="Remove the toolkit packages",
            packages=toolkit.PACKAGES,
            pin=toolkit.APT_PIN,
            lock_wait=dpkg.lock_wait(300),
        )
    """
    plan = removal_plan(packages, host_state.read(DpkgDepends))
    has_pin = host_state.read(RemoteSha256, paths=(pin,)).get(pin)
    if not plan.purge and not has_pin:
        host.noop("no toolkit package installed, no pin")
        return
    yield lock_wait
    if plan.dependents:
        host.log(
            f"gpu-docker: also removing {', '.join(plan.dependents)} (they depend on the toolkit)"
        )
    yield sh.command("remove_packages", pin, " ".join(plan.dependents), *plan.purge)


@operation()
def restore_kept(daemon_json_path: str) -> Generator[StringCommand, None, None]:
    """
    Put back the daemon.json an interrupted legacy purge left aside, before anything else.

    + daemon_json_path: docker's daemon.json

    ``purge_legacy`` keeps the file through the purge as a hard link
    ``<path>.gpu-docker-<stamp>.keep``; a run that died before renaming it back (sshd
    killed, power lost) left the file only there, and the merge would write a fresh
    daemon.json without the operator's keys. So when daemon.json is gone, the latest link
    is renamed back (same inode: bytes, mode, owner) and named. Links that still are
    daemon.json (the run died before dpkg touched it) are removed; a link that differs
    from a daemon.json written since is left for the operator and named.

    **Example:**

    .. code:: python

        dpkg.restore_kept(
            name="Put back a daemon.json an interrupted purge left aside",
            daemon_json_path="/etc/docker/daemon.json",
        )
    """
    kept = host_state.read(DaemonJsonKept, path=daemon_json_path)
    for other in kept.differing():
        host.log(
            f"gpu-docker: {other} was left by an interrupted purge and is not "
            f"{daemon_json_path}: left as it is (compare them, then delete it)"
        )
    back = kept.to_put_back()
    if back is None and not kept.linked:
        host.noop(f"nothing left aside beside {daemon_json_path}")
        return
    if back is not None:
        host.log(
            f"gpu-docker: put back {daemon_json_path} from {back}, left there by an "
            "interrupted purge of the legacy packages"
        )
        yield StringCommand("mv", "-T", "--", QuoteString(back), QuoteString(daemon_json_path))
    if kept.linked:
        yield StringCommand("rm", "-f", "--", *(QuoteString(k) for k in kept.linked))


@operation()
def purge_legacy(
    packages: Sequence[str],
    daemon_json_path: str,
    keep: str,
    toolkit: Sequence[str],
    lock_wait: StringCommand,
) -> Generator[StringCommand, None, None]:
    """
    Purge NVIDIA's superseded packages, keeping daemon.json as it is.

    + packages: the legacy packages (``toolkit.LEGACY_PACKAGES``)
    + daemon_json_path: docker's daemon.json, which nvidia-docker2 may own as a conffile
    + keep: suffix of the hard link that keeps daemon.json across the purge
    + toolkit: the toolkit packages, marked manually installed once their dependent is gone
    + lock_wait: the command that waits for another apt or dpkg to finish

    NVIDIA superseded both with nvidia-container-toolkit (see ``toolkit.LEGACY_PACKAGES``
    for what NVIDIA says and where). Purged, not removed: a removed nvidia-docker2 keeps
    daemon.json registered as its conffile, and whoever purges it later loses the file.
    The file itself stays byte-, mode- and owner-identical (``sh/legacy_purge.sh``). The
    preview and the run name the packages; ``nvidia-docker`` goes with nvidia-docker2.

    **Example:**

    .. code:: python

        dpkg.purge_legacy(
            name="Purge NVIDIA's superseded packages",
            packages=toolkit.LEGACY_PACKAGES,
            daemon_json_path="/etc/docker/daemon.json",
            keep=".gpu-docker-20250101T000000Z.keep",
            toolkit=toolkit.PACKAGES,
            lock_wait=dpkg.lock_wait(300),
        )
    """
    selections = host_state.read(PackageSelections, packages=tuple(packages))
    present = legacy_present(selections)
    if not present:
        host.noop("no nvidia-docker2 or nvidia-container-runtime")
        return
    host.log(
        f"gpu-docker: purging {', '.join(present)}: superseded by nvidia-container-toolkit "
        f"(NVIDIA's final releases were empty meta packages; `nvidia-docker` goes, use "
        f"`docker run --gpus all`); {daemon_json_path} is kept as it is"
    )
    names = [entry.split(" ", 1)[0] for entry in present]
    yield lock_wait
    yield sh.command("legacy_purge", daemon_json_path, keep, " ".join(toolkit), *names)
