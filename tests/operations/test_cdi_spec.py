"""What the CDI operations yield: generate only a missing or stale spec, units where they exist."""

from gpu_docker.cdi import CdiHost, stamp_for
from gpu_docker.facts.cdi import CdiFacts
from gpu_docker.operations import cdi

CTK = "NVIDIA Container Toolkit CLI version 1.17.8"


def facts(**kwargs):
    values = {
        "driver": "550.54.15",
        "toolkit": CTK,
        "spec_exists": True,
        "stamp": stamp_for("550.54.15", CTK),
        "refresh_units": False,
        "refresh_enabled": False,
    }
    return {CdiFacts: CdiHost(**(values | kwargs))}


def test_current_spec_generates_nothing(run_op):
    commands, host = run_op(cdi.spec, facts())
    assert commands == [] and host.noops[0].startswith("CDI spec is current")


def test_stale_spec_is_generated_with_its_new_stamp(run_op):
    commands, host = run_op(cdi.spec, facts(driver="570.86.15"))
    (command,) = commands
    assert "nvidia-ctk cdi generate" in command
    assert command.endswith(
        "gpu-docker /etc/cdi/nvidia.yaml /var/lib/gpu-docker/cdi-nvidia.yaml.generated-for "
        f"'driver=570.86.15 toolkit={CTK}'"
    )
    assert host.logs[0].startswith("CDI spec is stale: generated for driver=550.54.15")


def test_refresh_units_are_enabled_instead(run_op):
    commands, _ = run_op(cdi.spec, facts(refresh_units=True, spec_exists=False))
    (command,) = commands
    assert "systemctl enable --now nvidia-cdi-refresh.path" in command
    assert "systemctl start nvidia-cdi-refresh.service" in command


def test_units_taking_over_remove_our_spec_first(run_op):
    commands, host = run_op(cdi.spec, facts(refresh_units=True, refresh_spec=True))
    assert commands[0] == (
        "rm -f /etc/cdi/nvidia.yaml /var/lib/gpu-docker/cdi-nvidia.yaml.generated-for"
    )
    assert "systemctl enable --now nvidia-cdi-refresh.path" in commands[1]
    assert len(commands) == 2
    assert "gpu-docker's own spec goes" in host.logs[0]


def test_generating_removes_the_spec_the_gone_units_left(run_op):
    commands, _ = run_op(cdi.spec, facts(refresh_spec=True, refresh_spec_path="/run/cdi/x.yaml"))
    assert commands[0] == "rm -f /run/cdi/x.yaml"
    assert "nvidia-ctk cdi generate" in commands[1]


def test_rollback_removes_the_units_spec_too(run_op):
    commands, _ = run_op(cdi.remove_spec, facts(spec_exists=False, stamp="", refresh_spec=True))
    assert commands == [
        "rm -f /etc/cdi/nvidia.yaml /var/lib/gpu-docker/cdi-nvidia.yaml.generated-for "
        "/var/run/cdi/nvidia.yaml"
    ]


def test_rollback_removes_spec_and_stamp_only_when_present(run_op):
    commands, _ = run_op(cdi.remove_spec, facts())
    assert commands == [
        "rm -f /etc/cdi/nvidia.yaml /var/lib/gpu-docker/cdi-nvidia.yaml.generated-for"
    ]
    commands, host = run_op(cdi.remove_spec, facts(spec_exists=False, stamp=""))
    assert commands == [] and host.noops == ["no CDI spec"]


def test_fact_reads_the_script_output():
    found = CdiFacts().process(["driver=550.54.15", f"toolkit={CTK}", "spec=1", "refresh=1"])
    assert found == CdiHost("550.54.15", CTK, True, "", True, False)
    found = CdiFacts().process(["refresh_spec_path=/run/cdi/x.yaml", "refresh_spec=1"])
    assert found.refresh_spec and found.refresh_spec_path == "/run/cdi/x.yaml"


def test_units_a_downgrade_left_running_are_stopped_before_their_spec_goes(run_op):
    commands, host = run_op(cdi.spec, facts(refresh_lingering=True))
    assert commands[:2] == [
        "systemctl stop nvidia-cdi-refresh.path nvidia-cdi-refresh.service",
        "rm -f /var/run/cdi/nvidia.yaml",
    ]
    assert "nvidia-ctk cdi generate" in commands[2]
    assert host.logs[0].endswith("still run: stopped")
