"""What the config.toml operation yields for a host state: commands, or why none."""

from fake_host import fact

from gpu_docker.facts.files import RemoteFileText
from gpu_docker.files import RemoteFile
from gpu_docker.operations.runtime_config import merge
from gpu_docker.runtime_config import CONFIG_PATH

SHIPPED = '# shipped\n[nvidia-container-runtime]\nmode = "auto"  # the default\n'
OWNED = {"nvidia-container-runtime": {"mode": "legacy"}}
TEMP = "/etc/nvidia-container-runtime/.config.toml.gpu-docker.tmp"


def facts_at(path, text):
    return {fact(RemoteFileText, path=path): RemoteFile(path, path, text)}


def test_file_with_the_settings_is_left_alone(run_op):
    text = '[nvidia-container-runtime]\nmode = "legacy"\n'
    commands, host = run_op(merge, facts_at(CONFIG_PATH, text), owned=OWNED, backup=".b")
    assert commands == []
    assert host.noops == [f"{CONFIG_PATH} already has the runtime settings"]


def test_changed_file_is_swapped_in_with_a_backup_and_nothing_restarted(run_op):
    commands, host = run_op(merge, facts_at(CONFIG_PATH, SHIPPED), owned=OWNED, backup=".b")
    assert commands[0] == "mkdir -p /etc/nvidia-container-runtime"
    name, text, temp, target = commands[1]
    assert (name, temp, target) == ("upload_beside", TEMP, CONFIG_PATH)
    assert text == '# shipped\n[nvidia-container-runtime]\nmode = "legacy"  # the default\n'
    assert commands[2].endswith(f"gpu-docker {TEMP} {CONFIG_PATH} {CONFIG_PATH}.b")
    assert "chmod 0600" in commands[2]  # the backup's mode, in swap_in.sh
    assert len(commands) == 3  # no restart of any engine
    assert host.logs[0] == f"Will modify {CONFIG_PATH}"


def test_preview_shows_the_diff_and_says_no_restart(run_op):
    commands, host = run_op(
        merge, facts_at(CONFIG_PATH, SHIPPED), executing=False, owned=OWNED, backup=".b"
    )
    assert "no restart needed: the runtime reads it for each new container" in host.logs
    assert commands[1][0] == "upload_beside"


def test_missing_file_is_created(run_op):
    commands, host = run_op(merge, facts_at(CONFIG_PATH, None), owned=OWNED, backup=".b")
    assert commands[1][1] == '[nvidia-container-runtime]\nmode = "legacy"\n'
    assert host.logs[0] == f"Will create {CONFIG_PATH}"


def test_file_that_is_not_toml_fails_the_host_untouched(run_op):
    commands, _ = run_op(merge, facts_at(CONFIG_PATH, "mode = \n"), owned=OWNED, backup=".b")
    (command,) = commands
    assert f"gpu-docker: {CONFIG_PATH}: not valid TOML" in command
    assert "left untouched" in command
