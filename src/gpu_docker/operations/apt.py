"""NVIDIA's apt repository on a host: probed before it is written, refreshed on its own.

A source that does not work (a wrong path, a wrong key, a clock behind, no DNS, a dead
proxy) must not be left in /etc/apt: from then on every ``apt-get update`` on the host
would fail, for every repository. So the key and the source are first tried in isolation
(``apt-get update`` of that one source into a scratch lists directory, with apt's
``Dir::Etc::sourcelist``/``sourceparts`` options); only when that works are conflicting
old NVIDIA sources disabled (backed up, named), the keyring installed and the source
written. The refreshes the converge runs afterwards read NVIDIA's source alone, so an
unrelated broken repository on the host does not fail it.
"""

from __future__ import annotations

from collections.abc import Generator, Mapping, Sequence
from io import StringIO
from typing import Any

from pyinfra import host, logger
from pyinfra.api import StringCommand, operation
from pyinfra.api.arguments import ConnectorArguments
from pyinfra.api.host import Host
from pyinfra.api.operation import OperationMeta
from pyinfra.api.state import State

from gpu_docker import apt_sources, sh
from gpu_docker.apt_sources import Conflict, probe_failure
from gpu_docker.facts import host_state
from gpu_docker.facts.apt import HostAptSources, KeyringFingerprints
from gpu_docker.facts.dpkg import InstalledPackages
from gpu_docker.facts.files import FileAge, RemoteFileText
from gpu_docker.facts.host_state import fact_key
from gpu_docker.operations.dpkg import held_names
from gpu_docker.operations.dpkg import lock_wait as dpkg_lock_wait
from gpu_docker.operations.util import WithConnectorArguments

#: Our own freshness stamp: the converge refreshes NVIDIA's source only, so apt's stamp
#: (``update-success-stamp``, the whole host) must not claim more.
REFRESH_STAMP = "/var/lib/apt/periodic/gpu-docker-update-stamp"


def only_source_options(list_path: str) -> list[str]:
    """apt options that make it read ``list_path`` and no other source."""
    return [
        f"-o Dir::Etc::sourcelist={list_path}",
        "-o Dir::Etc::sourceparts=-",
        "-o APT::Get::List-Cleanup=0",
    ]


def _error(message: str) -> None:
    host.log_styled(f"gpu-docker: {message}", fg="red", log_func=logger.error)


def _probe_and_commit(
    state: State,
    host: Host,
    key: tuple[str, str, str],
    repo_url: str,
    list_path: str,
    line: str,
    conflicts: Sequence[Conflict],
    proxy: str,
    backup: str,
    arguments: ConnectorArguments,
) -> bool:
    """Probe the source on the host; write it (and disable conflicts) only if it works.

    Runs as the operation does (``arguments``: ``_sudo`` and the rest), so a deploy that
    logs in as a sudo user writes /etc/apt as root.
    """
    url, fingerprint, keyring = key
    ok, out = host.run_shell_command(
        sh.command("apt_probe", url, fingerprint, keyring, repo_url), **arguments
    )
    lines = out.stdout_lines
    if not ok:
        said = [text for text in out.stderr_lines if text.startswith("gpu-docker:")]
        if said:
            _error(said[-1].removeprefix("gpu-docker: "))
        elif "probe_failed=1" in lines:
            cause = probe_failure("\n".join(lines), repo_url, proxy)
            _error(f"{cause}; /etc/apt left as it was")
        else:
            _error(f"could not probe {repo_url}: {(out.stderr_lines or ['?'])[-1]}")
        return False
    stage = next((text[6:] for text in lines if text.startswith("stage=")), "")
    for conflict in conflicts:
        temp = f"{conflict.file}.gpu-docker.tmp"
        if not host.put_file(StringIO(conflict.new_text), temp, **arguments):
            _error(f"could not upload the new {conflict.file}; left as it was")
            return False
        done, _ = host.run_shell_command(
            sh.command("replace_file", temp, conflict.file, conflict.file + backup), **arguments
        )
        if not done:
            _error(f"could not disable {conflict.file}; left as it was")
            return False
        host.log(
            f"gpu-docker: disabled the conflicting source {conflict.file} "
            f"(backup {conflict.file}{backup})"
        )
    done, out = host.run_shell_command(
        sh.command("apt_commit", stage, keyring, list_path, line, REFRESH_STAMP), **arguments
    )
    if not done:
        last = (out.stderr_lines or ["?"])[-1]
        if last.startswith("gpu-docker: "):
            _error(last.removeprefix("gpu-docker: "))
        else:
            _error(f"could not write {list_path} or {keyring}: {last}")
    return done


@operation()
def repository(
    key_url: str,
    fingerprint: str,
    keyring: str,
    repo_url: str,
    list_path: str,
    line: str,
    backup: str,
) -> Generator[Any, None, None]:
    """
    Install NVIDIA's key and source, tried in isolation first; disable conflicting sources.

    + key_url, fingerprint, keyring: the armored key, its pinned fingerprint, the keyring
    + repo_url: the flat repository (``$(ARCH)`` expanded by apt)
    + list_path, line: gpu-docker's source list file and its one line
    + backup: suffix of the backups of source files that get disabled

    Nothing happens when the keyring holds the key, the list is already the line and no
    other file names the repository with other options. Otherwise the key is fetched and
    checked, and ``apt-get update`` runs for this source alone into a scratch directory;
    a failure fails the host with one line naming the cause and /etc/apt untouched. On
    success the indexes it fetched go into apt's lists with the refresh stamp, so the
    ``refresh`` that follows a new source has nothing left to fetch.

    **Example:**

    .. code:: python

        apt.repository(
            name="Add the toolkit apt source",
            key_url="https://nvidia.github.io/libnvidia-container/gpgkey",
            fingerprint="C95B321B61E88C1809C4F759DDCAE044F796ECB0",
            keyring="/usr/share/keyrings/nvidia-container-toolkit-keyring.gpg",
            repo_url="https://nvidia.github.io/libnvidia-container/stable/deb/$(ARCH)",
            list_path=toolkit.SOURCE_LIST,
            line=toolkit.source_line(keyring, repo_url),
            backup=backup_suffix(),
        )
    """
    sources = host_state.read(HostAptSources)
    conflicts = apt_sources.conflicts(sources.files, repo_url, keyring, sources.arch, list_path)
    has_key = fingerprint in host_state.read(KeyringFingerprints, path=keyring)
    current = host_state.read(RemoteFileText, path=list_path).text
    if has_key and current == line + "\n" and not conflicts:
        host.noop(f"{list_path} and {keyring} in place, no conflicting source")
        return
    # The probe updates a scratch directory; the commit writes apt's sources and keyring,
    # moves the probe's indexes into apt's lists and touches the refresh stamp.
    host_state.confine(
        [
            fact_key(HostAptSources, {}),
            fact_key(KeyringFingerprints, {"path": keyring}),
            fact_key(RemoteFileText, {"path": list_path}),
            fact_key(FileAge, {"path": REFRESH_STAMP}),
        ]
    )
    if not host.state.is_executing:
        host.log(f"{repo_url} will be tried on its own before {list_path} is written")
        for conflict in conflicts:
            host.log(f"will disable {conflict.describe()} (kept as {conflict.file}{backup})")
    yield WithConnectorArguments(
        _probe_and_commit,
        ((key_url, fingerprint, keyring), repo_url, list_path, line, conflicts, sources.proxy),
        {"backup": backup},
    )


@operation()
def refresh(
    fetched: OperationMeta,
    changes: Sequence[OperationMeta],
    wanted: dict[str, str],
    cache_time: int,
    list_path: str,
    lock_wait: StringCommand,
) -> Generator[StringCommand, None, None]:
    """
    ``apt-get update`` of NVIDIA's source alone: when it or the pin changed, or packages
    are due and the last refresh is older than ``cache_time``.

    + fetched: the repository operation: when it runs, its probe fetches the source's
      indexes into apt's lists, and a second fetch seconds later is only cost
    + changes: the pin operation: a new pin (a version bump) needs lists that hold the
      version, however fresh the last refresh
    + wanted: package -> deb version the install will ask for
    + cache_time: seconds a refresh of the source stays fresh enough to install from
    + list_path: gpu-docker's source list, the only one read
    + lock_wait: the command that waits for apt's and dpkg's locks first (``dpkg.lock_wait``)

    apt exits 0 when a fetch failed (no DNS, a dead proxy): any ``E:`` or ``W:`` line fails
    the host with one line quoting it, and the stamp is not touched; a refresh forced by a
    change removes the stamp first, so a failed one is not skipped on the next run.

    **Example:**

    .. code:: python

        apt.refresh(
            name="Refresh NVIDIA's apt source if needed",
            fetched=repository,
            changes=[pin],
            wanted={"nvidia-container-toolkit": "1.17.8-1"},
            cache_time=86400,
            list_path=toolkit.SOURCE_LIST,
            lock_wait=dpkg.lock_wait(300),
        )
    """
    if fetched.changed:
        host.noop("the source's probe just fetched its indexes: no apt-get update")
        return
    forced = any(meta.changed for meta in changes)
    if not forced:
        installed = host_state.read(InstalledPackages, packages=tuple(wanted))
        if all(installed.get(name) == version for name, version in wanted.items()):
            host.noop("packages already at the pinned version: no apt-get update")
            return
        age = host_state.read(FileAge, path=REFRESH_STAMP)
        if age is not None and age < cache_time:
            host.noop(f"{list_path} refreshed less than {cache_time}s ago")
            return
    # apt's lists and the stamp are all it changes; no fact reads the lists.
    host_state.confine([fact_key(FileAge, {"path": REFRESH_STAMP})])
    # One round trip: the lock wait, the update, then its stamp (only once it fetched
    # without an E: or W: line; a forced refresh removes the stamp first).
    options = [word for option in only_source_options(list_path) for word in option.split(" ", 1)]
    yield StringCommand(
        lock_wait,
        "&&",
        sh.command("apt_refresh", REFRESH_STAMP, "1" if forced else "0", *options),
    )


@operation()
def install(versions: Mapping[str, str], lock_timeout: int) -> Generator[Any, None, None]:
    """
    Install the packages at their versions with apt, once dpkg's lock is free.

    + versions: package -> deb version
    + lock_timeout: seconds to wait for another apt or dpkg to finish

    Held packages are released for the install and held again after it, whatever it did,
    in the same command (``dpkg.check_packages`` refused the host first unless
    ``release_holds`` allowed it). apt's output is passed on and a failure ends in one line
    naming apt's error (and that the holds were put back).
    With every package already at its version nothing is done, and apt's own list of
    installed packages (one more round trip) is not read.

    **Example:**

    .. code:: python

        apt.install(
            name="Install the toolkit packages at 1.17.8-1",
            versions={name: "1.17.8-1" for name in toolkit.PACKAGES},
            lock_timeout=300,
        )
    """
    installed = host_state.read(InstalledPackages, packages=tuple(versions))
    wanted = [
        f"{name}={version}" for name, version in versions.items() if installed.get(name) != version
    ]
    if not wanted:
        host.noop(f"{len(versions)} packages already installed at their versions")
        return
    # What pyinfra's apt.packages runs for these, without its read of apt's whole package
    # list: the installed versions are known already. After the lock wait, in its round
    # trip; held packages released for apt and held again whatever it did.
    held = held_names(tuple(versions))
    install = sh.command("apt_install", held, str(lock_timeout), *wanted)
    yield StringCommand(dpkg_lock_wait(lock_timeout), "&&", install)
