"""The fleet report: one JSON record per host, a document a CI parses, a one-line table."""

import datetime
import json

from test_verify import MISMATCH, NO_DRIVER, check, verification

from gpu_docker.fleet_report import absent, document, record, table
from gpu_docker.toolkit import PACKAGES
from gpu_docker.verify import GpuState, describe

NOW = datetime.datetime(2025, 1, 31, 12, 0, tzinfo=datetime.timezone.utc)


def entry(name, report):
    _, problem = describe(report, "nvidia", None)
    return record(name, report, "nvidia", problem)


def test_a_verified_host_record_holds_what_a_ci_asks():
    report = verification(
        os="Debian GNU/Linux 12 (bookworm)",
        docker_version="20.10.24",
        packages={"nvidia-container-toolkit": "1.17.8-1"},
    )
    r = entry("a", report)
    assert r["status"] == "verified" and r["problem"] is None
    assert r["os"] == "Debian GNU/Linux 12 (bookworm)" and r["docker_version"] == "20.10.24"
    assert r["toolkit_packages"] == {"nvidia-container-toolkit": "1.17.8-1"}
    assert r["runtimes"] == ["io.containerd.runc.v2", "nvidia", "runc"]
    assert r["device_driver_registered"] is True and r["pending_restart"] is None
    assert r["gpus"] == [] and r["nvidia_smi"] is None
    (c,) = r["checks"]
    assert c["name"] == "gpus" and c["ok"] and c["exit"] == 0
    assert c["output"] == "ldconfig (Debian GLIBC 2.36-9+deb12u14) 2.36"
    json.dumps(r)  # serialisable as is


def test_failed_hosts_carry_their_problem_and_the_pending_restart():
    r = entry("b", verification(checks=(check(rc=125, output=NO_DRIVER),)))
    assert r["status"] == "failed"
    assert "could not select device driver" in r["problem"]
    assert r["device_driver_registered"] is False
    assert r["pending_restart"] == "docker run --gpus all found no device driver"
    assert r["checks"][0]["ok"] is False


def test_document_lists_every_host_and_those_not_verified():
    gpu = GpuState(smi="/usr/bin/nvidia-smi", smi_rc=18, smi_lines=MISMATCH)
    records = [
        entry("z", verification()),
        entry("m", verification(gpu=gpu)),
        absent("ghost", "unreachable", "could not connect"),
    ]
    doc = json.loads(json.dumps(document(records, NOW)))
    assert doc["generated_at"] == "2025-01-31T12:00:00Z"
    assert [h["host"] for h in doc["hosts"]] == ["ghost", "m", "z"]
    assert doc["verified"] == 1 and doc["not_verified"] == ["ghost", "m"]
    assert "Driver/library version mismatch" in doc["hosts"][1]["gpu_problem"]


def test_table_has_one_aligned_line_per_host_with_the_problem_last():
    records = [
        entry(
            "lab-1",
            verification(docker_version="26.1.5", packages=dict.fromkeys(PACKAGES, "1.17.8-1")),
        ),
        entry("lab-3", verification(packages=dict.fromkeys(PACKAGES, "1.20.0-1"))),
        entry("lab-22", verification(checks=(check(rc=125, output=NO_DRIVER),))),
        absent("ghost", "unreachable", "could not connect"),
    ]
    header, *lines = table(records)
    assert header.split() == [
        "host",
        "status",
        "docker",
        "toolkit",
        "CVEs",
        "--gpus",
        "gpus",
        "checks",
        "problem",
    ]
    assert len(lines) == 4
    ghost, lab1, lab22, lab3 = lines
    assert ghost.split()[:2] == ["ghost", "unreachable"] and ghost.endswith("could not connect")
    # 1.17.8 lacks the fix of CVE-2026-24260 (CVSS 8.5): the table marks the host.
    assert lab1.split() == [
        "lab-1",
        "verified",
        "26.1.5",
        "1.17.8-1",
        "1:CVSS8.5",
        "yes",
        "0",
        "docker/gpus:ok",
    ]
    assert lab3.split()[3:5] == ["1.20.0-1", "none"]
    assert lab22.split()[:8] == ["lab-22", "failed", "-", "-", "-", "NO", "0", "docker/gpus:FAIL"]
    assert 'could not select device driver ""' in lab22
    # Columns line up: every status starts where the header's does.
    assert {line.index(line.split()[1]) for line in lines} == {header.index("status")}
