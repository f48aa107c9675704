"""Will dockerd start again after gpu-docker restarts it? Checked before anything changes.

dockerd refuses to start when a setting is given both as a flag of its command line and
in daemon.json (``the following directives are specified both as a flag and in the
configuration file: hosts``); docker.service's ``-H fd://`` with ``"hosts"`` in
daemon.json is the usual case. Nor does it start with a daemon.json the operator edited
after dockerd started and that dockerd rejects. A restart would then take docker down,
and putting the previous daemon.json back would not help: it is the same file. So the
running dockerd's arguments (``/proc/<pid>/cmdline``) are compared with the keys
daemon.json will have, and dockerd itself reads the current file: ``dockerd --validate``
on Docker 23+, an unprivileged load on older ones (docker 20.10: dockerd checks its whole
configuration before it finds it is not root, see ``dockerd_check`` in
``sh/lib_dockerd.sh``). A host that would not start again is refused with the key named,
nothing installed; one whose edit dockerd could not check is refused too, saying so.
Pure: the fact that reads the host is ``gpu_docker.facts.docker.HostDockerdStartup``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

#: Flags whose daemon.json key is not their own name (moby's ``opts.NamedOption``).
NAMED_OPTIONS = {
    "host": "hosts",
    "label": "labels",
    "dns-opt": "dns-opts",
    "insecure-registry": "insecure-registries",
    "registry-mirror": "registry-mirrors",
    "storage-opt": "storage-opts",
    "exec-opt": "exec-opts",
    "log-opt": "log-opts",
    "default-ulimit": "default-ulimits",
    "authorization-plugin": "authorization-plugins",
    "node-generic-resource": "node-generic-resources",
    "default-address-pool": "default-address-pools",
    "cdi-spec-dir": "cdi-spec-dirs",
    "add-runtime": "runtimes",
    "feature": "features",
}
#: dockerd's one-letter flags, by their long name.
SHORTHANDS = {
    "H": "host",
    "D": "debug",
    "l": "log-level",
    "s": "storage-driver",
    "G": "group",
    "b": "bridge",
    "p": "pidfile",
    "g": "graph",
}
#: Keys dockerd merges from both places instead of refusing (moby's ``skipDuplicates``).
MERGED = frozenset({"runtimes"})


#: How ``dockerd_check`` (``sh/lib_dockerd.sh``) begins its answer when dockerd could not
#: say whether it loads the file (neither its ``--validate`` nor the unprivileged load
#: older ones are asked with answered as dockerd does).
UNKNOWN = "unknown:"

#: Where gpu-docker notes that it reloaded the running dockerd: ``<dockerd pid> <epoch>``
#: (``date +%s.%N``; older versions wrote whole seconds, read the same way). A reload loads
#: daemon.json without changing dockerd's start time, and dockerd tells no one when it last
#: read its file; /run is emptied by a reboot, the pid ties it to one dockerd.
RELOADED_STAMP = "/run/gpu-docker/dockerd-reloaded"

#: Seconds before dockerd's start within which a change to daemon.json still counts as
#: made after it (``dockerd_start.sh`` uses the same). The start is derived from the clock,
#: /proc/uptime (10 ms steps) and clock ticks, and can be off by a tick or two; erring this
#: way calls a loaded file changed (a line said, a ``--validate`` run), never the reverse.
START_MARGIN = 0.05


@dataclass(frozen=True)
class DockerdStartup:
    """The running dockerd's arguments and start time, daemon.json's last change, what
    ``dockerd --validate`` says of the current file (empty when it was not run), and when
    gpu-docker last reloaded this dockerd (0: never; see :data:`RELOADED_STAMP`).

    Times are epoch seconds with their fraction (0: unknown): a converge writes the file
    and restarts dockerd within one second, which whole seconds cannot order.
    """

    args: tuple[str, ...] = ()
    started: float = 0.0
    changed: float = 0.0
    validate: str = ""
    reloaded: float = 0.0


def changed_since_start(startup: DockerdStartup) -> bool:
    """Whether daemon.json changed at or after dockerd started, or within
    :data:`START_MARGIN` before (the start is known to a tick or two only)."""
    return startup.changed >= startup.started - START_MARGIN


def flag_keys(args: Sequence[str]) -> dict[str, str]:
    """daemon.json key -> the flag as written, for every flag on dockerd's command line."""
    found: dict[str, str] = {}
    for arg in args:
        if arg.startswith("--"):
            name = arg[2:].split("=", 1)[0]
        elif arg.startswith("-") and len(arg) > 1:
            name = SHORTHANDS.get(arg[1], "")
        else:
            continue
        if name:
            found.setdefault(NAMED_OPTIONS.get(name, name), arg.split("=", 1)[0][:40])
    return found


def conflicts(args: Sequence[str], keys: Iterable[str]) -> list[tuple[str, str]]:
    """(key, flag) for each daemon.json key also given as a flag: dockerd would refuse."""
    flags = flag_keys(args)
    return [(key, flags[key]) for key in sorted(set(keys)) if key in flags and key not in MERGED]


def config_file(args: Sequence[str]) -> str | None:
    """The file dockerd was told to read instead of /etc/docker/daemon.json, if any."""
    for index, arg in enumerate(args):
        if arg == "--config-file" and index + 1 < len(args):
            return args[index + 1]
        if arg.startswith("--config-file="):
            return arg.split("=", 1)[1]
    return None


def problems(startup: DockerdStartup, keys: Iterable[str], path: str, configured: str) -> list[str]:
    """Why dockerd would not start again with ``keys`` in daemon.json (``path``, resolved
    from the ``daemon_json_path`` setting ``configured``), or would never read it; empty
    when it would."""
    other = config_file(startup.args)
    if other is not None and other not in (path, configured):
        return [
            f"dockerd runs with --config-file {other}, not {configured}: a merge there "
            f"would never be loaded (set daemon_json_path to {other}); nothing changed"
        ]
    found = [
        f"{path} sets {key!r} and dockerd runs with {flag}: dockerd refuses both "
        f"(remove one), so a restart would leave docker down; nothing changed"
        for key, flag in conflicts(startup.args, keys)
    ]
    if startup.validate.startswith(UNKNOWN):
        why = startup.validate[len(UNKNOWN) :].strip() or "no answer"
        found.append(
            f"{path} was changed since dockerd started and dockerd could not check it ({why}): "
            "a restart would load that unloaded edit untested; restart docker yourself to "
            "load it (or undo the edit), then run again; nothing changed"
        )
    elif startup.validate and startup.validate != "ok":
        found.append(
            f"{path} was changed since dockerd started and dockerd rejects it "
            f"({startup.validate}): a restart would leave docker down; fix it first, nothing changed"
        )
    return found


def unloaded_changes(startup: DockerdStartup, path: str) -> str:
    """The line for a daemon.json changed since dockerd last loaded it ('' if not).

    Read before the run changes anything, and said only where docker is restarted (the
    preview, and the run's line): then the operator's own edits take effect too. A file
    gpu-docker's reload loaded since dockerd started is not unloaded (the stamp is written
    after the reload settled, so a change up to the stamp counts as loaded; an older
    version's whole-second stamp reads as the start of its second, which errs towards
    saying the line).
    """
    if not startup.started or not changed_since_start(startup):
        return ""
    if startup.reloaded >= startup.started and startup.changed <= startup.reloaded:
        return ""
    return (
        f"{path} was changed after dockerd started: a restart also applies those unloaded changes"
    )
