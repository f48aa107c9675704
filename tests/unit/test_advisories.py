"""NVIDIA's security bulletins as data: each entry at its boundary versions, the pin check,
the verify report's marks, and ``gpu-docker advisories``."""

import json
from pathlib import Path

import pytest
from test_verify import verification

from gpu_docker import advisories, preflight
from gpu_docker.advisories import BULLETINS, AdvisoryError
from gpu_docker.cli import main
from gpu_docker.engine_verify import EngineReport, describe_engine
from gpu_docker.fleet_report import engine_record, record
from gpu_docker.settings import load_settings
from gpu_docker.toolkit import PACKAGES
from gpu_docker.verify import describe, installed_toolkit

# (bulletin, the last affected version, the first fixed one), as NVIDIA's bulletins state
# them (5599: NVIDIA's release notes' 1.17.3, later than the bulletin's 1.17.1).
BOUNDARIES = [
    (5582, "1.16.1", "1.16.2", {"CVE-2024-0132", "CVE-2024-0133"}),
    (5585, "1.16.2", "1.17.0", {"CVE-2024-0134"}),
    (5599, "1.17.2", "1.17.3", {"CVE-2024-0135", "CVE-2024-0136", "CVE-2024-0137"}),
    (5616, "1.17.3", "1.17.4", {"CVE-2025-23359"}),
    (5659, "1.17.7", "1.17.8", {"CVE-2025-23266", "CVE-2025-23267"}),
    (5850, "1.19.0", "1.19.1", {"CVE-2026-24260"}),
]


def bulletin(answer_id):
    return next(b for b in BULLETINS if b.answer_id == answer_id)


@pytest.mark.parametrize(("answer_id", "last", "fixed", "cves"), BOUNDARIES)
def test_each_bulletin_affects_up_to_its_last_version_and_not_from_its_fix(
    answer_id, last, fixed, cves
):
    entry = bulletin(answer_id)
    assert {cve.id for cve in entry.cves} == cves
    assert (entry.last_affected, entry.fixed) == (last, fixed)
    assert entry.affects(last) and entry.affects(f"{last}-1")
    assert not entry.affects(fixed) and not entry.affects(f"{fixed}-1")
    # A release candidate of the fixed version comes before it (Debian's ~ rule).
    assert entry.affects(f"{fixed}~rc.1-1")
    assert entry.url.endswith(f"a_id/{answer_id}")


def test_every_entry_is_complete():
    assert [b.answer_id for b in BULLETINS] == [row[0] for row in BOUNDARIES]
    for entry in BULLETINS:
        assert entry.title.startswith("Security Bulletin: NVIDIA Container Toolkit")
        assert entry.published <= advisories.SOURCE_AS_OF <= advisories.CHECKED
        for cve in entry.cves:
            assert 0 < cve.cvss <= 10 and cve.vector.startswith("AV:") and cve.summary


def test_the_issue_examples():
    assert "CVE-2024-0132" in advisories.cve_ids(advisories.affecting("1.16.1"))
    assert "CVE-2025-23266" in advisories.cve_ids(advisories.affecting("1.17.7"))
    assert advisories.cve_ids(advisories.affecting("1.17.8")) == ["CVE-2026-24260"]
    assert advisories.cve_ids(advisories.affecting("1.18.2")) == ["CVE-2026-24260"]
    assert advisories.affecting("1.19.1") == [] and advisories.affecting("1.20.0") == []


def test_the_default_pin_has_no_open_bulletin():
    default = load_settings("h", {}).toolkit_version
    assert advisories.affecting(default) == []


def test_the_first_version_with_every_fix_is_the_highest_fix():
    found = advisories.affecting("1.16.1")
    assert advisories.first_safe(found) == "1.19.1"
    assert advisories.first_safe(advisories.affecting("1.17.3")) == "1.19.1"
    assert advisories.first_safe([bulletin(5616)]) == "1.17.4"
    line = advisories.summary("1.17.7-1", advisories.affecting("1.17.7-1"))
    assert line.startswith("toolkit 1.17.7 is affected by NVIDIA security bulletins: ")
    assert "CVE-2025-23266, CVE-2025-23267, CVE-2026-24260 (highest CVSS 9.0)" in line
    assert line.endswith("the first version with every fix is 1.19.1")


@pytest.mark.parametrize("bad", ["", "latest", "v1.17.8", "x.y"])
def test_a_string_that_is_no_version_is_refused(bad):
    with pytest.raises(AdvisoryError, match="is not a toolkit version"):
        advisories.affecting(bad)


def test_cli_names_the_cves_and_exits_1_when_affected(capsys):
    assert main(["advisories", "1.16.1"]) == 1
    out = capsys.readouterr().out
    assert "CVE-2024-0132" in out and "a_id/5582" in out and "fixed in 1.16.2" in out
    assert main(["advisories", "1.17.7"]) == 1
    assert "CVE-2025-23266" in capsys.readouterr().out


def test_cli_exits_0_for_a_version_with_every_fix(capsys):
    assert main(["advisories", "1.20.0"]) == 0
    out = capsys.readouterr().out
    assert "no NVIDIA security bulletin affects it" in out and "CVE" not in out


def test_cli_lists_every_bulletin_without_a_version_and_speaks_json(capsys):
    assert main(["advisories"]) == 0
    out = capsys.readouterr().out
    assert all(f"a_id/{row[0]}" in out for row in BOUNDARIES)
    assert main(["advisories", "--json", "1.19.0-1"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert [c["cve"] for c in doc["cves"]] == ["CVE-2026-24260"]
    assert doc["cves"][0]["fixed"] == "1.19.1" and doc["cves"][0]["cvss"] == 8.5


def test_cli_refuses_a_bad_version_in_one_line(capsys):
    assert main(["advisories", "one.two"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["gpu-docker advisories: 'one.two' is not a toolkit version like '1.20.0'"]


def test_a_vulnerable_pin_warns_by_default_and_refuse_fails_the_host():
    warn = load_settings("h", {"toolkit_version": "1.18.2"})
    assert "CVE-2026-24260" in preflight.pin_exposure(warn)
    facts = preflight.Preflight(
        os_id="debian",
        os_version="12",
        arch="amd64",
        driver="580.95.05",
        dockerd_version="20.10.24",
        tools=frozenset({"docker", "dpkg", "curl", "gpg"}),
    )
    assert preflight.problems(warn, facts) == []
    refuse = load_settings("h", {"toolkit_version": "1.18.2", "vulnerable_pin": "refuse"})
    (problem,) = preflight.problems(refuse, facts)
    assert "CVE-2026-24260 (highest CVSS 8.5)" in problem
    assert problem.endswith("pin 1.19.1 or newer (vulnerable_pin=refuse)")
    safe = load_settings("h", {"toolkit_version": "1.19.1", "vulnerable_pin": "refuse"})
    assert preflight.pin_exposure(safe) == "" and preflight.problems(safe, facts) == []


def test_vulnerable_pin_takes_only_its_two_values():
    with pytest.raises(Exception, match="vulnerable_pin"):
        load_settings("h", {"vulnerable_pin": "ignore"})


def test_verify_names_the_installed_toolkits_open_cves_and_the_report_carries_them():
    old = verification(packages=dict.fromkeys(PACKAGES, "1.17.7-1"))
    lines, problem = describe(old, "nvidia", None)
    assert problem is None  # GPU containers work: the host is verified, and marked
    (security,) = [line for line in lines if line.startswith("security: ")]
    assert "CVE-2025-23266" in security and "CVE-2026-24260" in security
    r = record("a", old, "nvidia", problem)
    assert r["toolkit_version"] == "1.17.7"
    assert {c["cve"] for c in r["open_cves"]} == {
        "CVE-2025-23266",
        "CVE-2025-23267",
        "CVE-2026-24260",
    }
    current = verification(packages=dict.fromkeys(PACKAGES, "1.20.0-1"))
    lines, _ = describe(current, "nvidia", None)
    assert not any(line.startswith("security: ") for line in lines)
    assert record("b", current, "nvidia", None)["open_cves"] == []
    assert record("c", verification(packages={}), "nvidia", None)["open_cves"] is None


def test_a_mixed_install_is_judged_by_its_oldest_package():
    mixed = dict.fromkeys(PACKAGES, "1.20.0-1") | {"libnvidia-container1": "1.19.0-1"}
    assert installed_toolkit(verification(packages=mixed)) == "1.19.0"


def test_the_docs_table_is_generated_from_the_data():
    page = (Path(__file__).parents[2] / "docs" / "toolkit-versions.md").read_text()
    assert advisories.markdown_table() in page, "paste advisories.markdown_table() into the page"


def test_containerd_and_podman_hosts_carry_the_same_security_fields_and_line():
    old = EngineReport(
        engine="podman", base=verification(packages=dict.fromkeys(PACKAGES, "1.18.2-1"))
    )
    entry = engine_record("p", "podman", old, None)
    assert entry["toolkit_version"] == "1.18.2"
    assert [c["cve"] for c in entry["open_cves"]] == ["CVE-2026-24260"]
    lines, _ = describe_engine(old)
    assert any(line.startswith("security: toolkit 1.18.2 is affected") for line in lines)
