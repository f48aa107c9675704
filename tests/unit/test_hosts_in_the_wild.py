"""Pure rules behind "never leave apt or docker worse than found" (issue 12)."""

import json
from pathlib import Path

from gpu_docker import apt_sources, dockerd_flags, packages
from gpu_docker.facts.docker import HostDockerdStartup
from gpu_docker.packages import Selection, removal_plan

URL = "https://nvidia.github.io/libnvidia-container/stable/deb/$(ARCH)"
KEYRING = "/usr/share/keyrings/nvidia-container-toolkit-keyring.gpg"
OWN = "/etc/apt/sources.list.d/nvidia-container-toolkit.list"
PACKAGES = (
    "libnvidia-container1",
    "libnvidia-container-tools",
    "nvidia-container-toolkit-base",
    "nvidia-container-toolkit",
)


def test_an_old_list_without_signed_by_conflicts_and_only_its_line_is_disabled():
    text = "# old guide\ndeb https://nvidia.github.io/libnvidia-container/stable/deb/amd64 /\n"
    (found,) = apt_sources.conflicts(
        {"/etc/apt/sources.list.d/nvidia-docker.list": text}, URL, KEYRING, "amd64", OWN
    )
    assert found.describe().endswith("names the same repository with no signed-by")
    assert found.new_text == (
        f"# old guide\n# disabled by gpu-docker (conflicts with {OWN}): "
        "deb https://nvidia.github.io/libnvidia-container/stable/deb/amd64 /\n"
    )


def test_our_own_file_the_same_options_and_other_repositories_are_no_conflict():
    files = {
        OWN: "deb http://old /\n",
        "/etc/apt/sources.list": "deb http://deb.debian.org/debian bookworm main\n",
        "/etc/apt/sources.list.d/same.list": f"deb [signed-by={KEYRING}] {URL} /\n",
        "/etc/apt/sources.list.d/other-path.list": f"deb {URL.replace('stable', 'x')} /\n",
    }
    assert apt_sources.conflicts(files, URL, KEYRING, "amd64", OWN) == []


def test_a_deb822_stanza_for_the_repository_gets_enabled_no_and_others_stay():
    text = (
        "Types: deb\nURIs: http://deb.debian.org/debian\nSuites: trixie\nComponents: main\n\n"
        f"Types: deb\nURIs: {URL}\nSuites: /\nSigned-By: /etc/apt/trusted.gpg.d/nvidia.gpg\n"
    )
    (found,) = apt_sources.conflicts(
        {"/etc/apt/sources.list.d/x.sources": text}, URL, KEYRING, "amd64", OWN
    )
    debian, nvidia = found.new_text.split("\n\n")
    assert "Enabled" not in debian
    assert nvidia.endswith("Enabled: no\n") and nvidia.startswith("# disabled by gpu-docker")
    assert (
        apt_sources.entries("/x.sources", found.new_text)[0].uri == "http://deb.debian.org/debian"
    )
    assert len(apt_sources.entries("/x.sources", found.new_text)) == 1


def test_probe_failures_are_named_by_cause():
    r = "http://repo/stable/deb/$(ARCH)"
    cases = {
        "Err:1 http://repo InRelease\n  404  File not found [IP: 10.0.0.1 80]\n"
        "E: The repository 'http://repo ./ Release' does not have a Release file.": "404",
        "E: Release file for http://repo/InRelease is not valid yet (invalid for another "
        "730d 1h). Updates for this repository will not be applied.": "clock",
        "W: GPG error: http://repo InRelease: NO_PUBKEY 1234\n"
        "E: The repository 'http://repo InRelease' is not signed.": "not signed by the pinned key",
        "Err:1 http://nope InRelease\n  Temporary failure resolving 'nope'\n"
        "W: Failed to fetch http://nope/InRelease  Temporary failure resolving 'nope'": "DNS",
        "Err:1 http://repo InRelease\n  Could not connect to 10.0.0.1:80, connection refused\n"
        "W: Failed to fetch": "cannot be reached",
    }
    for output, cause in cases.items():
        line = apt_sources.probe_failure(output, r)
        assert line.startswith(f"{r}: ") and cause in line, line
    proxied = apt_sources.probe_failure(list(cases)[-1], r, proxy="http://127.0.0.1:9")
    assert "the proxy http://127.0.0.1:9 cannot be reached" in proxied


def test_a_hosts_key_conflicts_with_dash_h_in_every_spelling():
    for args in (["-H", "fd://"], ["-Hfd://"], ["--host=unix:///run/docker.sock"], ["--host", "x"]):
        assert dockerd_flags.conflicts(args, ["hosts", "debug"]) == [
            ("hosts", args[0].split("=")[0][:40])
        ]
    assert dockerd_flags.conflicts(["--containerd=/run/c.sock"], ["hosts"]) == []


def test_runtimes_merge_but_other_flag_keys_conflict():
    args = ["--add-runtime", "x=y", "--log-level=debug", "--data-root", "/d"]
    assert dockerd_flags.conflicts(args, ["runtimes", "log-level", "data-root"]) == [
        ("data-root", "--data-root"),
        ("log-level", "--log-level"),
    ]


def test_problems_name_the_key_and_a_latent_edit_dockerd_rejects():
    startup = dockerd_flags.DockerdStartup(("-H", "fd://"), 100.0, 200.0, "unknown key: bogus")
    daemon_json = "/etc/docker/daemon.json"
    first, second = dockerd_flags.problems(startup, ["hosts"], daemon_json, daemon_json)
    assert first.startswith("/etc/docker/daemon.json sets 'hosts' and dockerd runs with -H")
    assert "dockerd rejects it (unknown key: bogus)" in second


def test_an_edit_dockerd_could_not_check_refuses_the_host_saying_what_to_do():
    """Docker < 23 whose unprivileged load did not answer as dockerd does: the unloaded
    edit is named, with what to do, and nothing is installed."""
    startup = dockerd_flags.DockerdStartup(
        (), 100.0, 200.0, "unknown: chroot: Operation not permitted"
    )
    (line,) = dockerd_flags.problems(
        startup, [], "/etc/docker/daemon.json", "/etc/docker/daemon.json"
    )
    assert line == (
        "/etc/docker/daemon.json was changed since dockerd started and dockerd could not check "
        "it (chroot: Operation not permitted): a restart would load that unloaded edit "
        "untested; restart docker yourself to load it (or undo the edit), then run again; "
        "nothing changed"
    )
    assert dockerd_flags.unloaded_changes(startup, "/d.json").startswith(
        "/d.json was changed after"
    )
    assert (
        dockerd_flags.unloaded_changes(dockerd_flags.DockerdStartup((), 300.0, 200.0), "/d") == ""
    )


def test_a_file_gpu_dockers_reload_loaded_is_not_unloaded():
    def unloaded(changed: float, reloaded: float) -> bool:
        startup = dockerd_flags.DockerdStartup((), 100.0, changed, "", reloaded)
        return bool(dockerd_flags.unloaded_changes(startup, "/d.json"))

    assert unloaded(changed=200.0, reloaded=0.0)  # edited, never reloaded
    assert not unloaded(changed=200.0, reloaded=200.0)  # the stamp is written after the reload
    assert not unloaded(changed=200.4, reloaded=200.6)  # reloaded within the same second
    assert not unloaded(changed=200.0, reloaded=300.0)
    assert unloaded(changed=300.6, reloaded=300.4)  # edited again after, in the same second
    assert unloaded(changed=400.0, reloaded=300.0)
    assert unloaded(changed=200.0, reloaded=50.0)  # a stamp older than this dockerd counts not


def test_a_change_counts_from_a_margin_before_dockerds_start():
    """The start is derived from the clock, uptime and ticks (off by a tick or two): a
    change just before it counts as made after it; one clearly before does not."""

    def changed(at: float) -> bool:
        startup = dockerd_flags.DockerdStartup((), 1796148997.52, at)
        assert dockerd_flags.changed_since_start(startup) == bool(
            dockerd_flags.unloaded_changes(startup, "/d.json")
        )
        return dockerd_flags.changed_since_start(startup)

    assert not changed(1796148997.22)  # 0.3 s before start: the converge's own write
    assert not changed(1796148996.9)  # the same whole second would have called it changed
    assert changed(1796148997.52)  # the same instant
    assert changed(1796148997.9)  # after
    assert changed(1796148997.49)  # inside the margin: 30 ms before
    assert dockerd_flags.START_MARGIN == 0.05
    # No dockerd running (started unknown): nothing unloaded to speak of.
    assert not dockerd_flags.unloaded_changes(dockerd_flags.DockerdStartup(changed=5.0), "/d")


def test_held_packages_block_only_when_they_would_move_and_downgrades_are_named():
    selections = {
        "libnvidia-container1": Selection("1.17.8-1", "hi", "hold"),
        "nvidia-container-toolkit": Selection("1.18.1-1", "hi", "hold"),
        "nvidia-container-toolkit-base": Selection("1.18.1-1", "ii", "install"),
    }
    assert packages.held_to_move(selections, "1.17.8-1") == ["nvidia-container-toolkit"]
    assert packages.downgrades(selections, "1.17.8-1") == [
        ("nvidia-container-toolkit", "1.18.1-1"),
        ("nvidia-container-toolkit-base", "1.18.1-1"),
    ]


def test_removal_covers_half_installed_packages_and_names_other_dependents():
    states = {
        "libnvidia-container1": ("ii", "libc6, "),
        "libnvidia-container-tools": ("iU", "libnvidia-container1 (>= 1.17.8-1), "),
        "nvidia-container-toolkit-base": ("pi", ", "),
        "nvidia-container-toolkit": ("un", ", "),
        "nvidia-container-toolkit-operator-extensions": (
            "ii",
            "nvidia-container-toolkit-base (= 1.17.8-1), ",
        ),
        "nvidia-docker2": ("rc", "nvidia-container-toolkit (>= 1.13), "),
        "libnvidia-container1-dbg": ("ii", "libnvidia-container1 (= 1.17.8-1), "),
        "nvidia-container-toolkit-baseline": ("ii", "libc6, "),
    }
    plan = removal_plan(PACKAGES, states)
    assert plan.purge == (
        "nvidia-container-toolkit-base",
        "libnvidia-container-tools",
        "libnvidia-container1",
    )
    assert plan.dependents == (
        "libnvidia-container1-dbg",
        "nvidia-container-toolkit-operator-extensions",
    )


def test_captured_startups_say_unloaded_only_for_the_operators_edit():
    """The lab host's converged file, touched later, then reloaded by gpu-docker (its stamp
    to the nanosecond, or an older version's whole second): tests/facts cases."""
    cases = Path(__file__).parents[1] / "facts/docker.HostDockerdStartup"
    fact = HostDockerdStartup()
    verdicts = {
        case: bool(
            dockerd_flags.unloaded_changes(
                fact.process(json.loads((cases / f"{case}.json").read_text())["output"]), "/d"
            )
        )
        for case in ("running", "edited", "reloaded", "whole_second_stamp")
    }
    assert verdicts == {
        "running": False,  # written 0.26 s before the restart: loaded
        "edited": True,
        "reloaded": False,
        "whole_second_stamp": False,
    }


def test_a_dockerd_reading_another_config_file_is_refused_naming_it():
    """A merge into daemon.json would never be loaded: every run would restart docker,
    miss the runtime, roll back and fail. Refused before anything changes instead."""
    daemon_json = "/etc/docker/daemon.json"
    other = dockerd_flags.DockerdStartup(("--config-file", "/srv/docker.json"), 100.0, 50.0)
    (line,) = dockerd_flags.problems(other, ["runtimes"], daemon_json, daemon_json)
    assert line.startswith("dockerd runs with --config-file /srv/docker.json, not " + daemon_json)
    assert "set daemon_json_path to /srv/docker.json" in line
    same = dockerd_flags.DockerdStartup((f"--config-file={daemon_json}",), 100.0, 50.0)
    assert dockerd_flags.problems(same, ["runtimes"], daemon_json, daemon_json) == []
    # daemon_json_path a symlink: dockerd may name the link or the file it resolves to
    linked = dockerd_flags.DockerdStartup(("--config-file", "/srv/real.json"), 100.0, 50.0)
    assert dockerd_flags.problems(linked, ["runtimes"], "/srv/real.json", daemon_json) == []
