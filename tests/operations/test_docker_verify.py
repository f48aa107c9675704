"""docker.verify: the host is read when the operation runs (a real verify may make the
probe image), a preview reads it with ``dry`` (makes nothing), and only a real run of the
verify deploy goes into the fleet report."""

from __future__ import annotations

from typing import Any

import pytest
from fake_host import fact

from gpu_docker import fleet_report, run
from gpu_docker.dockerd_gpus import DockerdGpus
from gpu_docker.facts import host_state
from gpu_docker.facts.docker import GpuDockerVerification
from gpu_docker.facts.host_state import fact_key
from gpu_docker.operations import docker
from gpu_docker.settings import Settings
from gpu_docker.toolkit import PACKAGES
from gpu_docker.verify import Check, Verification

PROBE = "gpu-docker-probe:2.36-9_deb12u14"
WOULD = f"docker run --rm --network none --pull never --gpus all {PROBE} /sbin/ldconfig --version"
# A host with the toolkit, whose dockerd started before the hook: not verified.
STALE = Verification(
    dockerd=DockerdGpus(
        pid="53", started_at=100.0, hook="/usr/bin/h", hook_ctime=150.0, runtimes=("nvidia",)
    ),
    probe_missing=PROBE,
    planned=(("gpus", WOULD),),
)


class Recorder:
    """Stands in for the run's fleet collector: what the operation added, and where to."""

    def __init__(self) -> None:
        self.added: list[tuple[dict[str, Any], str | None]] = []

    def add(self, entry: dict[str, Any], path: str | None) -> None:
        self.added.append((entry, path))


@pytest.fixture
def fleet(monkeypatch: pytest.MonkeyPatch) -> Recorder:
    recorder = Recorder()
    monkeypatch.setattr(fleet_report, "collector", lambda state: recorder)
    return recorder


def facts(dry: bool) -> dict[Any, Any]:
    key = fact(GpuDockerVerification, runtime_name="nvidia", image="", packages=PACKAGES, dry=dry)
    return {key: STALE}


def verify(run_op, executing: bool, **kwargs: Any):
    return run_op(
        docker.verify,
        facts(dry=not executing),
        executing=executing,
        runtime_name="nvidia",
        packages=PACKAGES,
        **kwargs,
    )


def test_preview_reads_the_host_without_making_the_probe_and_says_what_it_would_run(run_op, fleet):
    commands, host = verify(run_op, executing=False, fleet=True, report_path="r.json")
    assert f"preview: check --gpus all: would run `{WOULD}`" in host.logs
    assert any(
        line.startswith(f"preview: probe image {PROBE}: not on the host") for line in host.logs
    )
    # The verdict from dockerd's start and the hook's ctime: it would fail, naming why.
    (failing,) = commands
    assert "never registered the --gpus device driver" in failing
    assert fleet.added == []  # a preview verified nothing


def test_a_real_verify_reads_at_execution_and_goes_into_the_fleet_report(run_op, fleet):
    commands, _ = verify(run_op, executing=True, fleet=True, report_path="r.json")
    assert len(commands) == 1 and "gpu-docker: " in commands[0]
    ((entry, path),) = fleet.added
    assert path == "r.json"
    assert entry["status"] == "failed" and entry["device_driver_registered"] is False


def test_the_converges_preview_has_nothing_to_verify_yet(run_op, fleet):
    commands, host = run_op(
        docker.verify, {}, executing=False, runtime_name="nvidia", packages=PACKAGES
    )
    assert commands == [] and host.noops == ["verification runs once the changes are applied"]
    assert fleet.added == []


VERIFIED = Verification(
    dockerd=DockerdGpus(
        pid="53", started_at=200.0, hook="/usr/bin/h", hook_ctime=150.0, runtimes=("nvidia",)
    ),
    probe=PROBE,
    checks=(Check("gpus", 0, WOULD, "ldconfig (Debian GLIBC 2.36-9+deb12u14) 2.36\n"),),
)


@pytest.fixture
def early(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """What the converge's one read verified (the first item, if any), and the reads the
    operation looked it up with."""
    found: list[Any] = []

    def known(cls: type, **kwargs: Any) -> Any:
        found.append(fact_key(cls, kwargs))
        return found[0] if isinstance(found[0], Verification) else None

    monkeypatch.setattr(host_state, "known", known)
    return found


def test_a_converge_takes_the_verification_its_read_made_when_it_ran_every_check(run_op, early):
    """No fact table: asking the host again would fail the test."""
    early.insert(0, VERIFIED)
    commands, host = run_op(docker.verify, {}, runtime_name="nvidia", packages=PACKAGES)
    assert commands == [] and host.noops == ["verified"]
    asked = early[1]
    assert asked == run.verification_read(Settings())  # the read the converge made


def test_a_verification_the_read_could_not_finish_is_made_afresh(run_op, early):
    early.insert(0, STALE)  # no probe image yet: a preview could only say what it would run
    table = {
        fact(
            GpuDockerVerification, runtime_name="nvidia", image="", packages=PACKAGES, dry=False
        ): VERIFIED
    }
    commands, host = run_op(docker.verify, table, runtime_name="nvidia", packages=PACKAGES)
    assert commands == [] and host.noops == ["verified"]  # the host's answer, not the read's
