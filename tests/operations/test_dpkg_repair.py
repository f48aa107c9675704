"""dpkg.repair: nothing when dpkg's audit is clean; else the lock wait and ``dpkg
--configure -a`` in one round trip, a failure ending in one line (``sh/dpkg_configure.sh``,
run in tests/unit/test_dpkg_scripts.py)."""

from fake_host import fact

from gpu_docker import sh
from gpu_docker.facts.dpkg import DpkgAudit
from gpu_docker.operations import dpkg


def test_a_clean_audit_runs_nothing(run_op):
    commands, host = run_op(dpkg.repair, {fact(DpkgAudit): []}, lock_wait=dpkg.lock_wait(60))
    assert commands == []
    assert host.noops == ["dpkg state is consistent"]


def test_an_interrupted_run_is_finished_after_the_lock_wait_in_one_command(run_op):
    audit = {fact(DpkgAudit): ["The following packages are only half configured"]}
    commands, _ = run_op(dpkg.repair, audit, lock_wait=dpkg.lock_wait(60))
    configure = sh.command("dpkg_configure").get_raw_value()
    assert commands == [f"{dpkg.lock_wait(60).get_raw_value()} && {configure}"]
    commands, _ = run_op(dpkg.repair, audit)
    assert commands == [configure]
