"""gpu-docker's pyinfra operations: each reads its facts when it runs, decides, yields.

Operations run twice in pyinfra 3: once while planning (to preview, ``--dry``) and again
when executing, reading the host afresh. Everything that depends on the host's current
state (daemon.json's content, which debs are installed) is therefore decided here, never
at the top of a deploy file. When there is nothing to do an operation says why with
``host.noop``.

Scripts are fixed strings; host data reaches them only as quoted positional arguments.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence
from io import StringIO
from pathlib import PurePosixPath
from typing import Any

from pyinfra import host, logger
from pyinfra.api import FileUploadCommand, FunctionCommand, QuoteString, StringCommand, operation
from pyinfra.api.arguments import ConnectorArguments
from pyinfra.api.host import Host
from pyinfra.api.operation import OperationMeta
from pyinfra.api.state import State
from pyinfra.operations.util.files import generate_color_diff

from gpu_docker import daemon_json, restart
from gpu_docker.bundle.manifest import BundleEntry
from gpu_docker.facts import (
    DpkgAudit,
    GpuDockerVerification,
    InstalledPackages,
    KeyringFingerprints,
    Preflight,
    RemoteFileText,
    RemoteSha256,
    script_command,
)
from gpu_docker.report import describe

BACKUP_TAG = "gpu-docker"


def backup_suffix(now: datetime.datetime | None = None) -> str:
    """The suffix of this run's daemon.json backup; one per run, shared by every host."""
    stamp = (now or datetime.datetime.now(datetime.timezone.utc)).strftime("%Y%m%dT%H%M%SZ")
    return f".{BACKUP_TAG}-{stamp}.bak"


def _fail_command(message: str) -> StringCommand:
    """A command that fails the host with one line on stderr: pyinfra prints it per host.

    ``printf %s``, not ``echo``: dash's echo turns a ``\\n`` in the message (a setting's
    repr) into a line break, splitting the one line.
    """
    return StringCommand(
        "printf", "'%s\\n'", QuoteString(f"gpu-docker: {message}"), ">&2;", "exit", "1"
    )


@operation()
def fail(message: str):
    """
    Fail this host with one clear line, changing nothing (the other hosts go on).

    + message: what is wrong and what to do about it
    """
    if not host.state.is_executing:  # a preview: no command runs to print the reason
        host.log_styled(f"gpu-docker: {message}", fg="red", log_func=logger.error)
    yield _fail_command(message)


_INSTALL_KEY = r"""
url=$1 expected=$2 keyring=$3
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
export GNUPGHOME="$tmp"
if ! curl -fsSL --max-time 30 -o "$tmp/key" -- "$url" 2>"$tmp/err"; then
    printf 'gpu-docker: %s\n' "could not fetch the apt key from $url: $(tail -n1 "$tmp/err")" >&2
    exit 1
fi
fpr=$(gpg --batch --show-keys --with-colons "$tmp/key" 2>/dev/null \
    | awk -F: '$1 == "pub" { p = 1; next } $1 == "fpr" && p { print toupper($10); exit }')
if [ "$fpr" != "$expected" ]; then
    printf 'gpu-docker: %s\n' "the key at $url has fingerprint ${fpr:-none}, expected $expected; nothing installed" >&2
    exit 1
fi
if grep -q -- '-----BEGIN PGP' "$tmp/key"; then
    gpg --batch --dearmor < "$tmp/key" > "$tmp/keyring" || exit 1
else
    cp "$tmp/key" "$tmp/keyring"
fi
install -D -o root -g root -m 0644 "$tmp/keyring" "$keyring"
"""


@operation()
def apt_keyring(url: str, fingerprint: str, path: str):
    """
    Install a repository key as a dearmored keyring, only if its fingerprint is the pinned one.

    + url: where the armored (or binary) public key is served
    + fingerprint: expected primary key fingerprint, 40 hex digits, upper case
    + path: keyring file that the source list's ``signed-by`` names

    The key is fetched and checked on the host; a mismatch fails the host and writes nothing.
    An existing keyring that already holds the fingerprint is left alone (no download).

    **Example:**

    .. code:: python

        apt_keyring(
            url="https://nvidia.github.io/libnvidia-container/gpgkey",
            fingerprint="C95B321B61E88C1809C4F759DDCAE044F796ECB0",
            path="/usr/share/keyrings/nvidia-container-toolkit-keyring.gpg",
        )
    """
    if fingerprint in host.get_fact(KeyringFingerprints, path=path):
        host.noop(f"{path} already holds key {fingerprint}")
        return
    yield script_command(_INSTALL_KEY, url, fingerprint, path)


@operation()
def daemon_json_merge(path: str, owned: Mapping[str, Any], backup: str):
    """
    Merge the settings gpu-docker owns into daemon.json, keeping everything else.

    + path: daemon.json (a symlink is followed: the target is edited, the link stays)
    + owned: the object rendered from ``templates/daemon.json.j2``
    + backup: suffix of the backup copy of the previous file (see ``backup_suffix``)

    Read and merged when the operation runs, so the merge sees the file as it is then.
    Written only when the parsed content changes: a temp file beside the target, mode
    0644 root, then an atomic rename; the old content is kept as ``<target><backup>``
    (mode 0600), or an ``.absent`` marker when there was no file, for rollback.
    A file we cannot merge is left untouched and the host fails with the reason.
    """
    current = host.get_fact(RemoteFileText, path=path)
    try:
        result = daemon_json.merge(current.text, owned)
    except daemon_json.DaemonJsonError as exc:
        yield from fail._inner(f"{current.target}: {exc}; left untouched, fix it and run again")
        return
    if not result.changed:
        host.noop(f"{current.target} already has the owned settings")
        return

    if host.state.config.DIFF:
        host.log(f"Will {'modify' if current.text is not None else 'create'} {current.target}")
        old_lines = (current.text or "").splitlines(keepends=True)
        for line in generate_color_diff(old_lines, result.text.splitlines(keepends=True)):
            logger.info("  %s", line)

    target = PurePosixPath(current.target)
    temp = str(target.with_name(f".{target.name}.{BACKUP_TAG}.tmp"))
    yield StringCommand("mkdir", "-p", QuoteString(str(target.parent)))
    yield _WithConnectorArguments(_upload_beside, (result.text, temp, str(target)), {})
    yield script_command(_SWAP_IN, temp, str(target), str(target) + backup)


_UPLOAD_FAILED = r"""
rm -f -- "$1"
df -Pk -- "$2" 2>/dev/null | awk 'NR == 2 { print $4 }'
"""


class _WithConnectorArguments(FunctionCommand):
    """A ``FunctionCommand`` that hands the operation's connector arguments (``_sudo``...) on.

    pyinfra's own drops them, so an upload made from one runs as the SSH login user and
    fails on /etc/docker when the deploy logs in as a sudo user; the function gets them as
    ``arguments``, as pyinfra's ``FileUploadCommand`` passes them to ``put_file``.
    """

    def execute(self, state: State, host: Host, connector_arguments: ConnectorArguments) -> Any:
        return self.function(state, host, *self.args, arguments=connector_arguments, **self.kwargs)


def _upload_beside(
    state: State, host: Host, text: str, temp: str, target: str, arguments: ConnectorArguments
) -> bool:
    """Upload the new daemon.json to ``temp``, beside its target, or fail the host cleanly.

    An upload that fails (a full disk, most often) would leave a truncated temp file and
    pyinfra's "size mismatch in put!"; instead the partial file is removed, the target is
    untouched, and the one line printed says why, with the free space left.
    """
    try:
        if host.put_file(StringIO(text), temp, **arguments):
            return True
        error = "the upload failed"
    except OSError as exc:
        error = str(exc)
    parent = str(PurePosixPath(target).parent)
    ok, output = host.run_shell_command(script_command(_UPLOAD_FAILED, temp, parent), **arguments)
    free = output.stdout.strip() if ok else ""
    needed = len(text.encode())
    if free.isdigit() and int(free) * 1024 < needed:
        cause = (
            f"no space left on the device holding {parent} ({free} KiB free, {needed} bytes needed)"
        )
    else:
        cause = f"could not write {temp} ({error})"
    host.log_styled(
        f"gpu-docker: {cause}; {target} left untouched", fg="red", log_func=logger.error
    )
    return False


_SWAP_IN = r"""
tmp=$1 target=$2 backup=$3
chown root:root "$tmp" && chmod 0644 "$tmp" || { rm -f "$tmp"; exit 1; }
if [ -e "$target" ]; then
    cp -p -- "$target" "$backup.part" && chown root:root "$backup.part" && chmod 0600 "$backup.part" \
        && mv -f -- "$backup.part" "$backup"
else
    : > "$backup.absent" && chmod 0600 "$backup.absent"
fi || { rm -f "$tmp" "$backup.part"; printf 'gpu-docker: %s\n' "could not back up $target" >&2; exit 1; }
mv -f -- "$tmp" "$target"
"""


@operation()
def dpkg_repair():
    """
    Finish an interrupted dpkg run (``dpkg --configure -a``) before apt or a bundle installs.

    A dpkg killed mid-install leaves packages unpacked or half-installed, and apt then
    refuses every install until ``dpkg --configure -a`` has run. Half-installed packages
    stay for the install that follows to reinstall. Nothing is done when the audit is clean.
    """
    if not host.get_fact(DpkgAudit):
        host.noop("dpkg state is consistent")
        return
    yield "DEBIAN_FRONTEND=noninteractive dpkg --force-confold --configure -a"


_START_DOCKER = r"""
init=$1 timeout=$2
reset_failed() { systemctl reset-failed docker.socket; systemctl reset-failed docker.service; }
timeout 10 docker info >/dev/null 2>&1 && exit 0
# A docker.service that failed to start too often is refused by systemd until reset.
if [ "$init" = systemd ]; then reset_failed; systemctl start docker; else service docker start; fi >/dev/null 2>&1
i=0
while [ "$i" -lt $((timeout * 5)) ]; do
    timeout 10 docker info >/dev/null 2>&1 && exit 0
    sleep 0.2; i=$((i + 1))
done
printf 'gpu-docker: %s\n' "docker was not running and did not answer within ${timeout}s of starting it ($(timeout 10 docker info 2>&1 | tail -n1))" >&2
exit 1
"""


@operation()
def start_docker(init: str, timeout: int):
    """
    Start docker, which was not running when the deploy began, and wait until it answers.

    + init: ``systemd`` or ``sysv`` (the init script)
    + timeout: seconds to wait for ``docker info`` to answer

    Installing the toolkit and registering the runtime need a running docker to verify
    against; the preflight fails the host instead when ``start_docker`` is off.
    """
    yield script_command(_START_DOCKER, init, str(timeout))


_DPKG_INSTALL = r"""
dir=$1; shift
cd "$dir" || exit 1
for entry in "$@"; do
    file=${entry%%=*} sum=${entry#*=}
    echo "$sum  $file" | sha256sum -c --quiet - >/dev/null 2>&1 || {
        printf 'gpu-docker: %s\n' "$dir/$file does not match the bundle manifest; not installed" >&2
        exit 1
    }
done
files=""
for entry in "$@"; do files="$files ${entry%%=*}"; done
# shellcheck disable=SC2086  # file names come from the manifest, checked above
DEBIAN_FRONTEND=noninteractive dpkg --force-confold -i $files
"""


@operation()
def install_bundle(entries: Sequence[BundleEntry], remote_dir: str):
    """
    Install an offline bundle's debs with dpkg, in the manifest's order.

    + entries: the manifest's entries, already verified on the controller, in install order
    + remote_dir: cache directory on the host; uploads are kept for the next run

    Packages already installed at their version are skipped; when none is left nothing is
    uploaded. A deb already in the cache with the manifest's sha256 is not uploaded again.
    ``dpkg -i`` only: no ``apt-get -f`` reaching for a network a restricted host lacks.
    """
    names = tuple(e.package for e in entries)
    installed = host.get_fact(InstalledPackages, packages=names)
    needed = [e for e in entries if installed.get(e.package) != e.version]
    if not needed:
        host.noop(f"{len(entries)} bundle packages already installed at {entries[0].version}")
        return

    paths = {e.file: f"{remote_dir}/{e.file}" for e in needed}
    present = host.get_fact(RemoteSha256, paths=tuple(paths.values()))
    yield StringCommand("install", "-d", "-m", "0755", QuoteString(remote_dir))
    for entry in needed:
        remote = paths[entry.file]
        if present.get(remote) != entry.sha256:
            yield FileUploadCommand(
                str(entry.path), remote, remote_temp_filename=host.get_temp_filename(remote)
            )
    yield script_command(_DPKG_INSTALL, remote_dir, *(f"{e.file}={e.sha256}" for e in needed))


_APPLY = r"""
strategy=$1 conf=$2 backup=$3 runtime=$4 timeout=$5 init=$6 validate=$7 live=$8
say() { printf 'gpu-docker: %s\n' "$*" >&2; }
target=$(readlink -f -- "$conf" 2>/dev/null) || target=$conf
# Put back the file this run replaced (the backup carries this run's suffix); say what it did.
restore() {
    if [ -f "$target$backup" ]; then
        cp -p -- "$target$backup" "$target.restore" && mv -f -- "$target.restore" "$target" \
            && restored="previous daemon.json restored"
    elif [ -f "$target$backup.absent" ]; then
        rm -f -- "$target" && restored="new daemon.json removed (there was none before)"
    else
        restored="daemon.json was not changed by this run"
    fi
}
# systemd refuses a start after StartLimitBurst failed ones (docker.service restarts a
# dockerd that dies with a bad daemon.json by itself): forget them, or the rollback's
# restart is refused and docker stays down.
reset_failed() { systemctl reset-failed docker.socket; systemctl reset-failed docker.service; }
control() {
    if [ "$init" = systemd ]; then reset_failed; systemctl "$1" docker; else service docker "$1"; fi >/dev/null 2>&1
}
restart() { control restart || control start; }
reload() {
    if [ "$init" = systemd ]; then systemctl reload docker; else kill -HUP "$(cat /var/run/docker.pid)"; fi
}
info() { timeout 10 docker info --format "$1" 2>/dev/null; }
answers() { timeout 10 docker info >/dev/null 2>&1; }
# An empty runtime name (a rollback) asks only that docker answers.
has_runtime() {
    [ -z "$runtime" ] && return 0
    case $(info '{{json .Runtimes}}') in *"\"$runtime\""*) return 0 ;; esac
    return 1
}
# dockerd's last complaint, from its log, for the one-line failure.
# Under systemd only dockerd's own lines (_SYSTEMD_UNIT), not systemd's "Failed to start".
why() {
    if [ "$init" = systemd ]; then journalctl _SYSTEMD_UNIT=docker.service -n 30 --no-pager -o cat 2>/dev/null
    else tail -n 30 /var/log/docker.log 2>/dev/null; fi \
        | grep -iE 'level=(error|fatal)|unable to|failed' | tail -n 1 | cut -c 1-300
}
# Wait until docker lists the runtime (0), answers without it for 3 s (2: it read a config
# without it), or has no dockerd process for 3 s or stays silent past the timeout (1).
# Polled every 0.2 s: a restart is usually done in about a second, and every host waits.
settle() {
    i=0 up=0 gone=0
    while [ "$i" -lt $((timeout * 5)) ]; do
        if answers; then
            has_runtime && return 0
            up=$((up + 1)) gone=0
            [ "$up" -ge 15 ] && return 2
        elif pgrep -x dockerd >/dev/null 2>&1; then
            gone=0
        else
            gone=$((gone + 1))
            [ "$gone" -ge 15 ] && return 1
        fi
        sleep 0.2
        i=$((i + 1))
    done
    return 1
}
if [ "$validate" = 1 ] && [ -f "$target" ]; then
    if ! out=$(dockerd --validate --config-file "$target" 2>&1); then
        restore
        say "dockerd --validate rejected the new $target: $(echo "$out" | tail -n 1); $restored, docker not restarted"
        exit 1
    fi
fi
if [ "$strategy" = reload ] && answers; then
    action=reload
    reload
else
    action=restart
    if [ "$live" = 1 ] && answers && [ "$(info '{{.LiveRestoreEnabled}}')" != true ]; then
        # live-restore only spares containers if the running dockerd has it: switch it on live.
        reload
        i=0
        while [ "$i" -lt 10 ] && [ "$(info '{{.LiveRestoreEnabled}}')" != true ]; do sleep 1; i=$((i + 1)); done
    fi
    restart
fi
settle
case $? in
    0) exit 0 ;;
    2) what="docker answered without runtime $runtime after the $action" ;;
    *) what="docker did not come back within ${timeout}s after the $action" ;;
esac
reason=$(why)
restore
if [ "$action" = reload ] && answers; then reload; else restart; fi
i=0
while [ "$i" -lt $((timeout * 5)) ] && ! answers; do sleep 0.2; i=$((i + 1)); done
if answers; then
    say "$what${reason:+ (dockerd: $reason)}; $restored and docker ${action}ed: it runs as before"
else
    say "$what${reason:+ (dockerd: $reason)}; $restored, but docker is still down: check it now"
fi
exit 1
"""


@operation()
def apply_to_docker(
    changes: Sequence[OperationMeta],
    strategy: str,
    daemon_json_path: str,
    backup: str,
    runtime_name: str,
    timeout: int,
    preflight: Preflight,
    live_restore: bool = False,
):
    """
    Make docker pick up a new toolkit or daemon.json: only when something changed.

    + changes: the operations whose change calls for it (install, daemon.json)
    + strategy: ``restart``, ``reload`` (SIGHUP; running containers survive) or ``never``
    + daemon_json_path, backup: the file and this run's backup suffix, for the rollback
    + runtime_name: docker must list it afterwards (empty: docker must only answer)
    + timeout: seconds to wait for docker to answer
    + preflight: the preflight fact (init system, ``dockerd --validate``, what docker runs now)
    + live_restore: the new daemon.json turns live-restore on: switch it on live first,
      so the restart itself already spares the running containers

    The preview says per host what will happen to its running containers. Where dockerd
    has ``--validate`` (Docker 23+) the file is checked first: rejected, the previous file
    is put back and docker is not touched. If docker does not list the runtime in time,
    the previous daemon.json is put back, docker restarted (or reloaded) again, and the
    host fails saying so: it ends as it began.
    """
    if not any(meta.changed for meta in changes):
        host.noop("nothing changed: docker left running")
        return
    if not host.state.is_executing:
        for line in restart.preview(strategy, preflight, live_restore):
            host.log(line)
    if strategy == "never":
        host.log_styled("gpu-docker: docker restart pending (restart_strategy=never)", fg="yellow")
        return
    yield script_command(
        _APPLY,
        strategy,
        daemon_json_path,
        backup,
        runtime_name,
        str(timeout),
        preflight.init,
        "1" if preflight.docker_validate else "0",
        "1" if live_restore else "0",
    )


@operation()
def verify(runtime_name: str, smoke_test_image: str | None = None):
    """
    Report whether GPU containers work on this host, after the changes are applied.

    + runtime_name: docker must list it
    + smoke_test_image: image with nvidia-smi; run with ``--gpus all`` where a GPU exists

    Changes nothing; fails the host when docker does not list the runtime or the smoke
    test fails. Where there is no GPU it says so rather than pretending.
    """
    if not host.state.is_executing:
        host.noop("verification runs once the changes are applied")
        return
    report = host.get_fact(
        GpuDockerVerification, runtime_name=runtime_name, image=smoke_test_image or ""
    )
    lines, problem = describe(report, runtime_name, smoke_test_image)
    for line in lines:
        host.log(line)
    if problem:
        yield from fail._inner(problem)
    else:
        host.noop("verified")
