"""The one-round-trip snapshot: each fact parsed by its own ``process`` from its fenced
part of the output, and answers given from it only while they still describe the host."""

from __future__ import annotations

import subprocess
from typing import Any

import pytest
from pyinfra.api import Config, Inventory, State
from pyinfra.api.command import StringCommand
from pyinfra.api.operation import OperationMeta
from pyinfra.api.state import StateOperationHostData, StateStage
from pyinfra.connectors.util import CommandOutput
from pyinfra.context import ctx_host, ctx_state

from gpu_docker.facts import host_state
from gpu_docker.facts.dpkg import DpkgAudit, InstalledPackages
from gpu_docker.facts.files import RemoteFileText
from gpu_docker.facts.host_state import MARK, HostState, fact_key
from gpu_docker.files import RemoteFile

DAEMON_JSON = fact_key(RemoteFileText, {"path": "/etc/docker/daemon.json"})
AUDIT = fact_key(DpkgAudit, {})
INSTALLED = fact_key(InstalledPackages, {"packages": ("libnvidia-container1",)})


def _fenced(*parts: tuple[list[str], int]) -> list[str]:
    """Output as the host prints it: each fact's lines between the marker and its status."""
    lines: list[str] = []
    for index, (output, status) in enumerate(parts):
        lines += [MARK, *output, f"{MARK}={index}={status}"]
    return lines


def test_command_runs_every_fact_command_in_turn() -> None:
    command = HostState().command(reads=(DAEMON_JSON, AUDIT)).get_raw_value()
    assert RemoteFileText().command(path="/etc/docker/daemon.json").get_raw_value() in command
    assert "dpkg --audit" in command
    assert command.index("base64") < command.index("dpkg --audit")
    assert f"{MARK}=0=$?" in command and f"{MARK}=1=$?" in command


def test_each_fact_is_parsed_from_its_own_lines() -> None:
    fact = HostState()
    fact.command(reads=(DAEMON_JSON, AUDIT, INSTALLED))
    values = fact.process(
        _fenced(
            (["target=/etc/docker/daemon.json", "meta=644 root root", "b64=e30K"], 0),
            ([], 0),
            (["libnvidia-container1\t1.17.8-1\tii "], 0),
        )
    )
    assert values[DAEMON_JSON] == RemoteFile(
        "/etc/docker/daemon.json", "/etc/docker/daemon.json", "{}\n", "644 root root"
    )
    assert values[AUDIT] == []  # no output: the fact's default, as pyinfra gives it
    assert values[INSTALLED] == {"libnvidia-container1": "1.17.8-1"}


def test_a_fact_whose_command_failed_is_left_out() -> None:
    fact = HostState()
    fact.command(reads=(AUDIT, INSTALLED))
    values = fact.process(_fenced((["dpkg: error"], 2), (["libnvidia-container1\t1\tii "], 0)))
    assert AUDIT not in values
    assert INSTALLED in values


@pytest.fixture
def lab_host() -> Any:
    """A real pyinfra host (never connected) whose facts come from a counter, not SSH."""
    state = State(Inventory((["gpu-1"], {})), Config())
    host = state.inventory.get_host("gpu-1")
    asked: list[Any] = []

    def get_fact(cls: Any, **kwargs: Any) -> Any:
        asked.append(fact_key(cls, kwargs))
        if cls is HostState:
            return {AUDIT: ["snapshot"]}
        return ["from the host"]

    host.get_fact = get_fact  # type: ignore[method-assign]
    host.asked = asked  # type: ignore[attr-defined]
    with ctx_state.use(state), ctx_host.use(host):
        yield host


def _executed_op(
    state: State, host: Any, commands: list[Any], op_hash: str = "op", confined: Any = None
) -> None:
    """An operation that ran ``commands`` on ``host``, having confined itself to the reads
    ``confined`` (when given), as it does from inside its generator."""
    if confined is not None:
        host.current_op_hash = op_hash
        host_state.confine(confined)
        host.current_op_hash = None
    meta = OperationMeta(op_hash, is_change=bool(commands))
    state.ops.setdefault(host, {})[op_hash] = StateOperationHostData(lambda: iter(()), {}, meta)
    meta.set_complete(True, commands, CommandOutput([]))


def _read_then_execute(host: Any, reads: list[Any], preview: bool = False) -> None:
    """The converge's one read at preparation, then execution: straight on (``-y``), or
    after a preview that asked to confirm."""
    host.state.current_stage = StateStage.Prepare
    host_state.take(reads)
    host.state.current_stage = StateStage.Execute
    host.state.check_for_changes = preview


def test_answers_from_the_snapshot_until_a_command_ran(lab_host: Any) -> None:
    state = lab_host.state
    state.current_stage = StateStage.Prepare
    host_state.take([AUDIT])
    assert host_state.read(DpkgAudit) == ["snapshot"]
    assert host_state.read(InstalledPackages, packages=("x",)) == ["from the host"]

    state.current_stage = StateStage.Execute
    state.check_for_changes = False  # -y: execution follows the reads without a pause
    _executed_op(state, lab_host, [])
    assert host_state.read(DpkgAudit) == ["snapshot"]
    _executed_op(state, lab_host, [StringCommand("true")])
    assert host_state.read(DpkgAudit) == ["from the host"]


def test_execution_after_a_confirmed_preview_reads_afresh(lab_host: Any) -> None:
    _read_then_execute(lab_host, [AUDIT], preview=True)
    assert host_state.read(DpkgAudit) == ["from the host"]


def test_an_operation_confined_to_some_reads_leaves_the_others_standing(lab_host: Any) -> None:
    """The apt pin's write changes what the pin reads, not dpkg's audit: only the pin is
    asked again. An operation that did not confine itself may change anything."""
    state = lab_host.state
    pin = fact_key(RemoteFileText, {"path": "/etc/apt/preferences.d/nvidia-container-toolkit"})
    lab_host.get_fact = lambda cls, **kwargs: (
        {AUDIT: ["snapshot"], pin: "old pin"} if cls is HostState else ["from the host"]
    )
    _read_then_execute(lab_host, [AUDIT, pin])
    _executed_op(state, lab_host, [StringCommand("true")], "pin", confined=[pin])
    assert host_state.read(DpkgAudit) == ["snapshot"]
    assert host_state.read(RemoteFileText, path=pin[1][0][1]) == ["from the host"]
    assert host_state.known(RemoteFileText, path=pin[1][0][1]) is None

    _executed_op(state, lab_host, [StringCommand("true")], "install")  # not confined
    assert host_state.read(DpkgAudit) == ["from the host"]


def test_a_confined_operation_that_ran_nothing_changes_nothing(lab_host: Any) -> None:
    _read_then_execute(lab_host, [AUDIT])
    _executed_op(lab_host.state, lab_host, [], "pin", confined=[AUDIT])
    assert host_state.read(DpkgAudit) == ["snapshot"]


def test_a_read_older_than_max_age_is_asked_again(lab_host: Any, monkeypatch) -> None:
    """--serial: a fleet's last host executes long after every host was read."""
    now = [1000.0]
    monkeypatch.setattr(host_state.time, "monotonic", lambda: now[0])
    _read_then_execute(lab_host, [AUDIT])
    now[0] += host_state.MAX_AGE
    assert host_state.read(DpkgAudit) == ["snapshot"]
    now[0] += 1
    assert host_state.read(DpkgAudit) == ["from the host"]
    assert host_state.known(DpkgAudit) is None


def _run_locally(command: StringCommand) -> list[str]:
    """The snapshot command run by this machine's shell, as a host's would run it."""
    out = subprocess.run(
        ["sh", "-c", command.get_raw_value()], capture_output=True, text=True, check=True
    )
    return out.stdout.splitlines()


@pytest.mark.parametrize(("test", "kept"), [("true", True), ("false", False)])
def test_a_guarded_read_runs_only_where_its_test_passes(test: str, kept: bool) -> None:
    """A read whose guard fails is left out, as a failed one: asked when it is needed."""
    fact = HostState()
    output = _run_locally(fact.command(reads=(AUDIT,), guards=((AUDIT, test),)))
    assert (AUDIT in fact.process(output)) is kept


def test_a_guard_shared_by_reads_runs_once(tmp_path: Any) -> None:
    """Both late reads of a converge share one test (the toolkit at the pin): one
    dpkg-query per host, not one per read."""
    runs = tmp_path / "runs"
    test = f"echo ran >> {runs}"
    fact = HostState()
    output = _run_locally(
        fact.command(reads=(AUDIT, INSTALLED), guards=((AUDIT, test), (INSTALLED, test)))
    )
    assert runs.read_text() == "ran\n"
    assert {AUDIT, INSTALLED} <= fact.process(output).keys()
