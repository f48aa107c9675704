"""What the rootless operations yield for a user's state: commands as them, or why none."""

import base64
import json

from fake_host import Changed, Unchanged, fact

from gpu_docker.facts.rootless import RootlessBackups, RootlessDocker
from gpu_docker.operations.rootless import apply, merge, restore, verify
from gpu_docker.rootless import RootlessUser, UserBackups, problems
from gpu_docker.settings import load_settings

SETTINGS = load_settings("h", {"rootless_users": ["alice"]})
TARGET = "/home/alice/.config/docker/daemon.json"
AS_ALICE = (
    "runuser -u alice -- env HOME=/home/alice XDG_RUNTIME_DIR=/run/user/1002 "
    "DOCKER_HOST=unix:///run/user/1002/docker.sock sh -c "
)
MERGED = '{\n  "runtimes": {"nvidia": {"path": "nvidia-container-runtime", "args": []}}\n}\n'


def alice(text=None, unit="active", uid=1002):
    found = RootlessUser("alice", uid, "/home/alice", TARGET, text, "640", unit)
    return {fact(RootlessDocker, user="alice"): found}


def apply_as_alice(run_op, found, changed=True, settings=SETTINGS):
    """Alice's rootless docker told to pick up her daemon.json (changed or not)."""
    return run_op(
        apply,
        found,
        changes=[Changed() if changed else Unchanged()],
        settings=settings,
        user="alice",
        backup=".b",
    )


def test_merge_writes_as_alice_with_her_operator_keys_kept(run_op):
    commands, host = run_op(
        merge,
        alice('{"bridge": "none"}'),
        settings=SETTINGS,
        user="alice",
        backup=".b",
        docker_version="26.1.5",
    )
    (command,) = commands
    assert command.startswith(AS_ALICE)
    assert command.endswith(f" {TARGET} .b")
    encoded = command.split()[-3]
    written = json.loads(base64.b64decode(encoded))
    assert written == {
        "bridge": "none",
        "runtimes": {"nvidia": {"path": "nvidia-container-runtime", "args": []}},
    }
    assert host.logs[0] == f"Will modify {TARGET}"


def test_merged_file_is_left_alone(run_op):
    commands, host = run_op(
        merge, alice(MERGED), settings=SETTINGS, user="alice", backup=".b", docker_version="26.1.5"
    )
    assert commands == []
    assert host.noops == [f"{TARGET} already has the nvidia runtime"]


def test_unparseable_file_fails_the_host_untouched(run_op):
    commands, _ = run_op(
        merge, alice("{"), settings=SETTINGS, user="alice", backup=".b", docker_version="26.1.5"
    )
    (command,) = commands
    assert f"gpu-docker: {TARGET}:" in command and "left untouched" in command


def test_restart_only_on_change_through_her_systemd_manager(run_op):
    commands, host = apply_as_alice(run_op, alice(MERGED), changed=False)
    assert commands == [] and host.noops == [
        "nothing changed: alice's rootless docker left running"
    ]
    commands, _ = apply_as_alice(run_op, alice(MERGED))
    (command,) = commands
    assert command.startswith(AS_ALICE)
    assert "systemctl --user restart docker.service" in command
    assert command.endswith(f"gpu-docker alice {TARGET} .b nvidia 60")


def test_a_stopped_docker_or_no_manager_is_not_started(run_op):
    commands, host = apply_as_alice(run_op, alice(MERGED, unit="inactive"))
    assert commands == [] and "it reads the file when it starts" in host.noops[0]
    commands, host = apply_as_alice(run_op, alice(MERGED, unit=""))
    assert commands == [] and "loginctl enable-linger alice" in host.logs[0]


def test_never_reports_the_restart_pending(run_op):
    never = load_settings("h", {"rootless_users": ["alice"], "restart_strategy": "never"})
    commands, host = apply_as_alice(run_op, alice(MERGED), settings=never)
    assert commands == []
    assert host.logs == [
        "gpu-docker: alice's rootless docker restart pending (restart_strategy=never)"
    ]


def test_verify_runs_gpus_all_as_alice(run_op):
    (command,), _ = run_op(verify, alice(MERGED), user="alice")
    assert command.startswith(AS_ALICE)
    assert "--gpus all" in command and "probe_image()" in command


def test_preflight_names_a_missing_user_and_a_bad_file():
    missing = RootlessUser("bob", None, "", "/.config/docker/daemon.json", None, "", "")
    assert problems(SETTINGS, missing, "26.1.5") == [
        "rootless_users: there is no user 'bob' on this host"
    ]
    bad = RootlessUser("alice", 1002, "/home/alice", TARGET, "[1,", "644", "active")
    (line,) = problems(SETTINGS, bad, "26.1.5")
    assert line.startswith(f"{TARGET}: ") and "left untouched" in line


def alice_backups(*texts: tuple[str, str | None]):
    """alice's state plus her backups (stamp -> text; ``None``: an .absent marker)."""
    found = alice(MERGED)
    paths = {
        f"{TARGET}.gpu-docker-{stamp}.bak" + ("" if text is not None else ".absent"): text
        for stamp, text in texts
    }
    found[fact(RootlessBackups, user="alice", target=TARGET)] = UserBackups(TARGET, paths)
    return found


def test_rollback_restores_her_latest_backup_as_her(run_op):
    facts = alice_backups(("20250101T000000Z", None), ("20250201T000000Z", '{"bridge": "none"}'))
    commands, host = run_op(restore, facts, user="alice", wanted="latest", keep=".k")
    (command,) = commands
    assert command.startswith(AS_ALICE)
    backup = f"{TARGET}.gpu-docker-20250201T000000Z.bak"
    # Her file's current mode is the fallback for a backup kept without its .mode.
    assert command.endswith(f" {TARGET} {backup} {TARGET}.k 640")
    assert host.logs[0] == f"Will restore {TARGET} (backup from 20250201T000000Z)"


def test_rollback_to_a_run_that_created_her_file_removes_it(run_op):
    facts = alice_backups(("20250101T000000Z", None))
    commands, _ = run_op(restore, facts, user="alice", wanted="20250101T000000Z", keep=".k")
    assert commands[0].endswith(f"{TARGET}.gpu-docker-20250101T000000Z.bak.absent {TARGET}.k 640")


def test_rollback_without_her_backup_or_her_is_nothing_to_do_said(run_op):
    commands, host = run_op(restore, alice_backups(), user="alice", wanted="latest", keep=".k")
    assert commands == []
    assert host.logs == [f"no gpu-docker backup of {TARGET}: nothing to roll back to"]
    commands, host = run_op(restore, alice(uid=None), user="alice", wanted="latest", keep=".k")
    assert commands == []
    assert host.logs == ["there is no user 'alice' on this host: nothing to roll back"]


def test_rollback_restart_only_waits_for_her_docker_to_answer(run_op):
    commands, _ = run_op(
        apply,
        alice(MERGED),
        changes=[Changed()],
        settings=SETTINGS,
        user="alice",
        backup=".k",
        runtime_name="",
    )
    (command,) = commands
    assert command.endswith(f"alice {TARGET} .k '' 60")


def test_cdi_sets_features_cdi_in_alices_daemon_json_where_her_docker_reads_it(run_op):
    cdi = load_settings("h", {"rootless_users": ["alice"], "cdi": True})
    for version, expected in (("26.1.5", {"cdi": True}), ("20.10.24+dfsg1", None)):
        commands, _ = run_op(
            merge, alice("{}"), settings=cdi, user="alice", backup=".b", docker_version=version
        )
        (command,) = commands
        written = json.loads(base64.b64decode(command.split()[-3]))
        assert written.get("features") == expected
