"""What each of gpu-docker's deploys does first on a host, when it runs (never on import).

A run's set-up is shared by every host: one backup stamp per controller run (so every
host's backups carry the same name), the guard that keeps one host's lost SSH connection
from ending the run for all (:mod:`gpu_docker.connection`), and the closing summary
(:mod:`gpu_docker.summary`). Each host's settings are read and validated from its data,
and the converge reads the host once (:func:`read_host`).
"""

from __future__ import annotations

import shlex
import weakref

from pyinfra import host, state
from pyinfra.api.state import State

from gpu_docker import cdi, nvml, summary, toolkit
from gpu_docker.connection import contain_connection_loss
from gpu_docker.facts import host_state
from gpu_docker.facts.apt import HostAptSources, KeyringFingerprints
from gpu_docker.facts.cdi import CdiFacts
from gpu_docker.facts.containerd import ContainerdFacts
from gpu_docker.facts.docker import GpuDockerVerification, HostDockerdStartup, RunningDockerd
from gpu_docker.facts.dpkg import DpkgAudit, InstalledPackages, PackageSelections
from gpu_docker.facts.files import DaemonJsonKept, FileAge, RemoteFileText
from gpu_docker.facts.host_state import Read, fact_key
from gpu_docker.facts.nvml import NvmlFacts
from gpu_docker.facts.preflight import HostPreflight
from gpu_docker.files import backup_suffix
from gpu_docker.operations.apt import REFRESH_STAMP
from gpu_docker.operations.util import fail
from gpu_docker.settings import Settings, SettingsError, load_settings

_RUN_STAMPS: weakref.WeakKeyDictionary[State, str] = weakref.WeakKeyDictionary()


def start(done: str) -> str:
    """Set up the run for this host: the SSH-loss guard, and the summary saying how many
    hosts ended ``done`` (``converged``, ``verified``...).

    Returns the backup suffix of this run (one per pyinfra state, shared by every host).
    """
    contain_connection_loss()
    backup = _RUN_STAMPS.setdefault(host.state, backup_suffix())
    summary.register(state, done)
    return backup


def host_settings() -> Settings:
    """This host's validated settings (group data, host data and ``--data`` combined)."""
    return load_settings(host.name, host.data.dict())


def settings_or_fail() -> Settings | None:
    """This host's settings, or ``None`` after failing the host with the bad key named."""
    try:
        return host_settings()
    except SettingsError as exc:
        fail(name="Check settings", message=exc.problem)
        return None


def verification_read(settings: Settings) -> Read:
    """The converge's verification as its one-round-trip read asks it: a preview's
    (``dry``: it makes, pulls and removes nothing), which the ``verify`` operation takes
    only when it ran every check and nothing has changed the host since."""
    return fact_key(
        GpuDockerVerification,
        {
            "runtime_name": settings.runtime_name,
            "image": settings.smoke_test_image or "",
            "packages": toolkit.PACKAGES,
            "dry": True,
        },
    )


def converge_reads(settings: Settings, verification: bool = False) -> list[Read]:
    """Every fact the converge and its operations read on a host as found, with the
    arguments they read it with.

    ``verification`` adds the verification too. It is only worth its ``docker run`` where
    the operations will run without a preview first (``-y``): a host they leave unchanged
    is then verified by this very read, one round trip in all. A host they change, or a
    run that previews and asks, verifies afresh (see :mod:`gpu_docker.facts.host_state`).
    """
    packages = {"packages": toolkit.PACKAGES}
    reads = [
        fact_key(HostPreflight, {}),
        fact_key(PackageSelections, packages),
        fact_key(InstalledPackages, packages),
        fact_key(DpkgAudit, {}),
        fact_key(RemoteFileText, {"path": toolkit.APT_PIN}),
        fact_key(PackageSelections, {"packages": toolkit.LEGACY_PACKAGES}),
        fact_key(DaemonJsonKept, {"path": settings.daemon_json_path}),
    ]
    if settings.install_method != "offline":
        reads += [
            fact_key(HostAptSources, {}),
            fact_key(KeyringFingerprints, {"path": settings.apt_keyring_path}),
            fact_key(RemoteFileText, {"path": toolkit.SOURCE_LIST}),
            fact_key(FileAge, {"path": REFRESH_STAMP}),
        ]
    if settings.uses_docker:
        path = settings.daemon_json_path
        reads += [
            fact_key(RemoteFileText, {"path": path}),
            fact_key(HostDockerdStartup, {"path": path, "validate": None}),
            fact_key(NvmlFacts, {}),
            fact_key(RemoteFileText, {"path": nvml.UDEV_RULE_PATH}),
            fact_key(RunningDockerd, {}),
        ]
    if settings.uses_containerd:
        reads.append(fact_key(ContainerdFacts, {"path": settings.containerd_config_path}))
    if settings.uses_cdi:
        reads.append(fact_key(CdiFacts, {"spec": cdi.SPEC_PATH, "stamp": cdi.STAMP_PATH}))
    if verification and settings.uses_docker:
        reads.append(verification_read(settings))
    return reads


def at_the_pin(settings: Settings) -> str:
    """The shell test that passes where every toolkit package is installed at the pin.

    It guards the reads of the converge's ``-y`` runs that only operations after the
    install use (the early verification, the running dockerd): a host off the pin is
    changed by the install, which every read after it asks the host again, so on that host
    they would be cost and nothing else.
    """
    each = f"ii {settings.deb_version};"
    wanted = shlex.quote(each * len(toolkit.PACKAGES))
    names = " ".join(shlex.quote(name) for name in toolkit.PACKAGES)
    listed = f"dpkg-query -W -f='${{db:Status-Abbrev}}${{Version}};' {names} 2>/dev/null"
    return f'[ "$({listed})" = {wanted} ]'


def read_host(settings: Settings) -> None:
    """Read everything the converge decides from in one round trip, before it decides
    anything: :func:`converge_reads`, answered by ``host_state.read`` until the host
    changes (see :mod:`gpu_docker.facts.host_state`). With ``-y``, the reads only
    operations after the install use run only on a host already at the pin
    (:func:`at_the_pin`); a preview reads them all, for its own decisions."""
    applying = not state.check_for_changes
    late = [verification_read(settings), fact_key(RunningDockerd, {})]
    guards = {read: at_the_pin(settings) for read in late} if applying else {}
    host_state.take(converge_reads(settings, verification=applying), guards)
