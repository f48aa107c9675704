"""What the containerd operations yield for a host state: commands, or why none."""

from fake_host import Changed, Unchanged

from gpu_docker.containerd import ContainerdHost
from gpu_docker.facts.containerd import ContainerdFacts
from gpu_docker.operations import containerd
from gpu_docker.preflight import containerd_problems
from gpu_docker.settings import load_settings

SETTINGS = load_settings("h", {"container_engine": "containerd"})
MERGED = (
    'version = 2\n[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.nvidia]\n'
    'runtime_type = "io.containerd.runc.v2"\n\n'
    '[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.nvidia.options]\n'
    'BinaryName = "/usr/bin/nvidia-container-runtime"\n'
)


def facts(text, version="containerd 1.6.20", service="systemd"):
    target = "/etc/containerd/config.toml"
    return {ContainerdFacts: ContainerdHost(version, service, target, text)}


def apply_containerd(run_op, text, changed=True, settings=SETTINGS, service="systemd"):
    """containerd told to pick up its config.toml (``text``; changed or not)."""
    return run_op(
        containerd.apply,
        facts(text),
        changes=[Changed() if changed else Unchanged()],
        settings=settings,
        backup=".b",
        service=service,
    )


def test_config_with_the_runtime_is_left_alone(run_op):
    commands, host = run_op(containerd.merge, facts(MERGED), settings=SETTINGS, backup=".b")
    assert commands == []
    assert host.noops == ["/etc/containerd/config.toml already has the nvidia runtime"]


def test_new_config_is_checked_by_containerd_before_it_is_swapped_in(run_op):
    commands, host = run_op(
        containerd.merge, facts("version = 2\n"), settings=SETTINGS, backup=".b"
    )
    assert commands[0] == "mkdir -p /etc/containerd"
    assert commands[1][0] == "upload_beside"
    assert "BinaryName" in commands[1][1]
    temp = "/etc/containerd/.config.toml.gpu-docker.tmp"
    assert commands[2].endswith(
        f"gpu-docker {temp} /etc/containerd/config.toml nvidia /usr/bin/nvidia-container-runtime 0 0"
    )
    assert "config dump" in commands[2]
    assert commands[3].endswith(
        f"gpu-docker {temp} /etc/containerd/config.toml /etc/containerd/config.toml.b"
    )
    assert host.logs[0] == "Will modify /etc/containerd/config.toml"


def test_unmergeable_config_fails_the_host_naming_the_file(run_op):
    commands, _ = run_op(containerd.merge, facts("[plugins.cri]\n"), settings=SETTINGS, backup=".b")
    (command,) = commands
    assert "gpu-docker: /etc/containerd/config.toml: config version 1 is not supported" in command


def test_preflight_names_a_missing_containerd_or_service():
    assert containerd_problems(SETTINGS, ContainerdHost("", "", "/c", None)) == [
        "containerd is not installed (no containerd on PATH); set container_engine"
    ]
    (found,) = containerd_problems(SETTINGS, ContainerdHost("containerd 1.6", "", "/c", None))
    assert "no systemd unit and no /etc/init.d/containerd" in found
    assert (
        containerd_problems(SETTINGS, ContainerdHost("containerd 1.6", "initd", "/c", None)) == []
    )


def test_no_change_no_restart(run_op):
    commands, host = apply_containerd(run_op, MERGED, changed=False)
    assert commands == []
    assert host.noops == ["nothing changed: containerd left running"]


def test_restart_waits_on_the_configured_socket(run_op):
    text = MERGED + '[grpc]\naddress = "/run/k8s/containerd.sock"\n'
    commands, _ = apply_containerd(run_op, text, service="initd")
    (command,) = commands
    assert command.endswith(
        "gpu-docker /etc/containerd/config.toml .b /run/k8s/containerd.sock 60 initd"
    )


def test_restart_strategy_never_only_reports_it_pending(run_op):
    never = load_settings("h", {"container_engine": "containerd", "restart_strategy": "never"})
    commands, host = apply_containerd(run_op, MERGED, settings=never)
    assert commands == []
    assert host.logs == ["gpu-docker: containerd restart pending (restart_strategy=never)"]


DROP_IN = "/etc/containerd/conf.d/99-nvidia.toml"
IMPORTING = 'version = 2\nimports = ["/etc/containerd/conf.d/*.toml"]\n'


def dropped_in(drop_in, dump):
    target = "/etc/containerd/config.toml"
    found = ContainerdHost("containerd 1.7.24", "systemd", target, IMPORTING, dump, drop_in)
    return {ContainerdFacts: found}


def test_nvidias_drop_in_running_the_runtime_leaves_config_toml_alone(run_op):
    dump = f'imports = ["{DROP_IN}"]\nversion = 2\n' + MERGED.removeprefix("version = 2\n")
    commands, host = run_op(
        containerd.merge, dropped_in({DROP_IN: MERGED}, dump), settings=SETTINGS, backup=".b"
    )
    assert commands == []
    assert host.noops == [
        f"/etc/containerd/config.toml already has the nvidia runtime in effect (imports {DROP_IN})"
    ]


def test_a_drop_in_shadowing_the_edit_fails_the_host_naming_it(run_op):
    mirror = 'version = 2\n[plugins."io.containerd.grpc.v1.cri".registry]\nconfig_path = ""\n'
    dump = f'imports = ["{DROP_IN}"]\nversion = 2\n'
    commands, _ = run_op(
        containerd.merge, dropped_in({DROP_IN: mirror}, dump), settings=SETTINGS, backup=".b"
    )
    (command,) = commands
    assert f"{DROP_IN}, which it imports, replaces its" in command
