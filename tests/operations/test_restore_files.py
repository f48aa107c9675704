"""The rollback's restore of a file gpu-docker replaced (daemon.json, a config.toml)."""

from fake_host import fact

from gpu_docker.facts.files import FileBackups, RemoteFileText
from gpu_docker.files import BackupListing, RemoteFile
from gpu_docker.operations.files import restore

CONF = "/etc/containerd/config.toml"
BACKUP = f"{CONF}.gpu-docker-20250101T000000Z.bak"


def host_with(backups: tuple[str, ...], current: str | None = "new\n", old: str = "old\n"):
    return {
        fact(FileBackups, path=CONF): BackupListing(CONF, backups),
        fact(RemoteFileText, path=CONF): RemoteFile(CONF, CONF, current),
        fact(RemoteFileText, path=BACKUP): RemoteFile(BACKUP, BACKUP, old),
    }


def test_the_backup_is_put_back_keeping_the_current_file(run_op):
    commands, _ = run_op(
        restore, host_with((BACKUP,)), path=CONF, wanted="latest", keep=".k", required=False
    )
    (command,) = commands
    assert command.endswith(f" {CONF} {BACKUP} {CONF}.k")


def test_a_file_already_back_is_left_alone(run_op):
    commands, host = run_op(
        restore, host_with((BACKUP,), current="old\n"), path=CONF, wanted="latest", keep=".k"
    )
    assert commands == []
    assert host.noops == [f"{CONF} already is the backup from 20250101T000000Z"]


def test_no_backup_is_nothing_to_do_unless_required(run_op):
    commands, host = run_op(
        restore, host_with(()), path=CONF, wanted="latest", keep=".k", required=False
    )
    assert commands == []
    assert host.logs == [f"no gpu-docker backup of {CONF}: nothing to roll back to"]
    commands, host = run_op(restore, host_with(()), path=CONF, wanted="latest", keep=".k")
    (command,) = commands
    assert "gpu-docker: no gpu-docker backup of" in command and host.logs == []


def test_a_stamp_that_did_not_change_the_file_is_said_not_restored(run_op):
    commands, host = run_op(
        restore,
        host_with((BACKUP,)),
        path=CONF,
        wanted="20240101T000000Z",
        keep=".k",
        required=False,
    )
    assert commands == []
    assert host.logs == [f"no backup of {CONF} from 20240101T000000Z (there are: 20250101T000000Z)"]
