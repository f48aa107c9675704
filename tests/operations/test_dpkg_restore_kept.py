"""dpkg.restore_kept: a daemon.json that an interrupted legacy purge left only as its
``.keep`` link is renamed back (and named) before the merge could write a fresh one;
leftover links that still are daemon.json are removed; one that differs is named, kept."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from fake_host import fact

from gpu_docker import sh
from gpu_docker.facts.files import DaemonJsonKept
from gpu_docker.files import KeptAside
from gpu_docker.operations import dpkg

PATH = "/etc/docker/daemon.json"
OLD = f"{PATH}.gpu-docker-20250101T000000Z.keep"
NEW = f"{PATH}.gpu-docker-20250202T000000Z.keep"


def restore(run_op, kept, executing=True):
    return run_op(
        dpkg.restore_kept,
        {fact(DaemonJsonKept, path=PATH): kept},
        executing=executing,
        daemon_json_path=PATH,
    )


def test_nothing_is_done_without_a_keep(run_op):
    commands, host = restore(run_op, KeptAside(present=True, keeps=(), linked=()))
    assert commands == [] and host.logs == []
    assert host.noops == [f"nothing left aside beside {PATH}"]


@pytest.mark.parametrize("executing", [False, True])
def test_a_gone_daemon_json_is_put_back_from_the_latest_keep_and_named(run_op, executing):
    commands, host = restore(
        run_op, KeptAside(present=False, keeps=(NEW,), linked=()), executing=executing
    )
    assert commands == [f"mv -T -- {NEW} {PATH}"]
    assert host.logs == [
        f"gpu-docker: put back {PATH} from {NEW}, left there by an interrupted purge "
        "of the legacy packages"
    ]


def test_a_keep_that_still_is_daemon_json_is_removed_quietly(run_op):
    commands, host = restore(run_op, KeptAside(present=True, keeps=(OLD,), linked=(OLD,)))
    assert commands == [f"rm -f -- {OLD}"] and host.logs == []


def test_an_older_or_differing_keep_is_named_and_left(run_op):
    commands, host = restore(run_op, KeptAside(present=False, keeps=(OLD, NEW), linked=()))
    assert commands == [f"mv -T -- {NEW} {PATH}"]
    assert host.logs[0] == (
        f"gpu-docker: {OLD} was left by an interrupted purge and is not {PATH}: "
        "left as it is (compare them, then delete it)"
    )
    commands, host = restore(run_op, KeptAside(present=True, keeps=(OLD,), linked=()))
    assert commands == [] and len(host.logs) == 1 and OLD in host.logs[0]


def test_a_path_with_a_space_and_a_semicolon_is_quoted(run_op):
    path = "/etc/my docker/daemon.json;touch /tmp/pwned"
    keep = f"{path}.gpu-docker-20250101T000000Z.keep"
    commands, _ = run_op(
        dpkg.restore_kept,
        {DaemonJsonKept: KeptAside(present=False, keeps=(keep,), linked=())},
        daemon_json_path=path,
    )
    assert commands == [f"mv -T -- '{keep}' '{path}'"]


def test_the_fact_script_tells_a_link_that_still_is_daemon_json_from_one_that_is_not(
    tmp_path: Path,
):
    """The fact's own script on this machine: what legacy_purge.sh leaves when it dies
    before dpkg ran (still the file) and after dpkg deleted the file (the only copy)."""
    conf = tmp_path / "daemon.json"
    conf.write_text("{}\n")
    os.link(conf, f"{conf}.gpu-docker-20250101T000000Z.keep")
    Path(f"{conf}.gpu-docker-20250202T000000Z.keep").write_text('{"other": 1}\n')

    def read() -> KeptAside:
        command = sh.command("list_kept", str(conf)).get_raw_value()
        lines = subprocess.run(
            ["sh", "-c", command], capture_output=True, text=True, check=True
        ).stdout.splitlines()
        found = DaemonJsonKept()
        found.command(path=str(conf))
        return found.process(lines)

    kept = read()
    assert kept.present and kept.linked == (f"{conf}.gpu-docker-20250101T000000Z.keep",)
    assert kept.differing() == (f"{conf}.gpu-docker-20250202T000000Z.keep",)
    conf.unlink()
    kept = read()
    assert not kept.present and kept.linked == ()
    assert kept.to_put_back() == f"{conf}.gpu-docker-20250202T000000Z.keep"
