"""Can the running dockerd serve --gpus, and what docker must do: parsing and decisions."""

import pytest

from gpu_docker.dockerd_gpus import (
    RELOAD_IS_NOT_ENOUGH,
    DockerdGpus,
    parse_dockerd_gpus,
    plan_apply,
)

# Captured on a lab host (bookworm, docker 20.10) whose dockerd restarted after the hook.
CAPTURED = [
    "dockerd_pid=1556",
    "dockerd_start_ticks=57157",
    "clk_tck=100",
    "clock=1796138595.747093046 591.09",
    "dockerd_path=/sbin:/bin:/usr/sbin:/usr/bin:/usr/local/sbin:/usr/local/bin",
    "hook=/bin/nvidia-container-runtime-hook",
    "hook_ctime=1796138560.3713830340",
    'daemon_runtimes={"io.containerd.runc.v2":{"path":"runc"},"nvidia":'
    '{"path":"nvidia-container-runtime"},"runc":{"path":"runc"}}',
]
BOOT = 1796138595.747093046 - 591.09
RUNTIMES = ("io.containerd.runc.v2", "nvidia", "runc")


def dockerd(started: float = 100.0, hook_ctime: float | None = 50.0, **kwargs) -> DockerdGpus:
    base = {
        "pid": "53",
        "started_at": started,
        "path": "/usr/sbin:/usr/bin",
        "hook": "/usr/bin/nvidia-container-runtime-hook",
        "hook_ctime": hook_ctime,
        "runtimes": RUNTIMES,
    }
    return DockerdGpus(**(base | kwargs))


def test_captured_output_places_dockerd_start_on_the_wall_clock():
    found = parse_dockerd_gpus(CAPTURED)
    assert found.pid == "1556"
    assert found.started_at == pytest.approx(BOOT + 571.57)
    assert found.hook == "/bin/nvidia-container-runtime-hook"
    assert found.hook_ctime == pytest.approx(1796138560.371383034)
    assert found.runtimes == RUNTIMES
    # The hook was installed 11 s before this dockerd started: it serves --gpus.
    assert found.missing_driver() is None


def test_hook_newer_than_dockerd_means_no_device_driver():
    found = parse_dockerd_gpus(
        [line for line in CAPTURED if not line.startswith("hook_ctime")]
        + [f"hook_ctime={BOOT + 571.60}"]  # 30 ms after dockerd started
    )
    reason = found.missing_driver()
    assert reason is not None
    assert "dockerd (pid 1556) started at" in reason
    assert "before /bin/nvidia-container-runtime-hook appeared" in reason
    assert "never registered the --gpus device driver" in reason


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        (DockerdGpus(), "dockerd is not running"),
        (dockerd(hook="", hook_ctime=None), "nvidia-container-runtime-hook is not on its PATH"),
        (dockerd(started=None), "is unknown"),
        (dockerd(started=100.0, hook_ctime=100.0), "never registered"),
    ],
)
def test_reasons_a_dockerd_cannot_serve_gpus(state, expected):
    assert expected in (state.missing_driver() or "")


def test_docker_that_does_not_answer_has_no_runtimes():
    found = parse_dockerd_gpus(["dockerd_pid=9", "docker_error=Cannot connect"])
    assert found.runtimes is None and found.docker_error == "Cannot connect"
    assert found.stale_runtimes(["nvidia"]) == []


def test_nothing_to_do_when_nothing_changed_and_the_driver_is_registered():
    plan = plan_apply("restart", False, dockerd(), ["nvidia"])
    assert plan.action == "none" and plan.lines() == []


@pytest.mark.parametrize("strategy", ["restart", "reload"])
def test_a_change_uses_the_strategy_when_the_driver_is_there(strategy):
    plan = plan_apply(strategy, True, dockerd(), ["nvidia"])
    assert (plan.action, plan.note) == (strategy, "")
    assert plan.reasons == ("the toolkit or daemon.json changed",)


def test_reload_becomes_restart_when_only_a_restart_registers_the_driver():
    plan = plan_apply("reload", True, dockerd(hook="", hook_ctime=None), ["nvidia"])
    assert plan.action == "restart"
    assert plan.note == RELOAD_IS_NOT_ENOUGH
    assert plan.lines()[-1] == RELOAD_IS_NOT_ENOUGH
    assert any("dockerd cannot serve --gpus" in line for line in plan.lines())


def test_a_dockerd_without_the_driver_is_restarted_with_no_file_changed():
    plan = plan_apply("restart", False, dockerd(started=10.0), ["nvidia"])
    assert plan.action == "restart"
    assert len(plan.reasons) == 1 and plan.reasons[0].startswith("dockerd cannot serve --gpus")


def test_a_runtime_missing_from_the_running_daemon_is_reloaded():
    plan = plan_apply("reload", False, dockerd(runtimes=("runc",)), ["nvidia"])
    assert plan.action == "reload"
    assert plan.reasons == ("the running dockerd does not list runtime(s) nvidia of daemon.json",)


def test_never_leaves_the_host_pending_and_says_why():
    plan = plan_apply("never", False, dockerd(started=10.0), ["nvidia"])
    assert plan.action == "pending"
    message = plan.pending_message()
    assert message.startswith("docker restart pending (restart_strategy=never): dockerd cannot")
    assert message.endswith("not converged until docker is restarted")
    assert plan_apply("never", False, dockerd(), ["nvidia"]).action == "none"


def test_a_hook_upgraded_in_place_is_not_a_missing_driver_when_dockerd_serves_gpus():
    newer = [line for line in CAPTURED if not line.startswith("hook_ctime")]
    newer.append(f"hook_ctime={BOOT + 600}")
    served = parse_dockerd_gpus([*newer, "gpus_probe_rc=0", "gpus_probe="])
    assert served.live_registered is True and served.missing_driver() is None
    refused = parse_dockerd_gpus(
        [
            *newer,
            "gpus_probe_rc=125",
            'gpus_probe=docker: Error response from daemon: could not select device driver ""',
        ]
    )
    assert refused.live_registered is False
    assert "never registered" in (refused.missing_driver() or "")
