"""Reliability: a bad setting, bundle or key stops its host alone, in one run over 7 hosts.

Each host gets its own case through the temporary inventory: a typo'd key; an offline
bundle missing for the version, or damaged (a deb altered, on the host's own copy of the
lab's bundle); a key whose fingerprint is not the pinned one, a key URL where nothing
listens. Every such host must fail with one line naming the cause (the key, the file, the
fingerprint) and be left exactly as it was: /etc/apt, /usr/share/keyrings, /etc/docker,
dpkg's status and the dockerd pid compared before and after. In the same run the good
hosts converge: a fingerprint written with spaces in lower case, and a relative
``bundle_dir`` while pyinfra runs from another working directory (it resolves against the
project, not the cwd).

One host per path through the deploy: the other bad settings (a wrong type, a float
version, an unknown install method) and damaged bundles (a missing deb, a stray file, a
hand-edited manifest, another architecture only) take the same path and are unit-tested
in tests/unit/test_settings.py and tests/unit/test_bundle_manifest.py.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hosts_state import (
    PACKAGES,
    PROJECT,
    docker_runtimes,
    dpkg_state,
    host_lines,
    lab_of,
    output,
    pyinfra,
    snapshot,
    summary,
    write_inventory,
)

from gpu_docker.lab.inventory import LAB_TOOLKIT_VERSION as PIN
from gpu_docker.lab.layout import SUBNETS
from gpu_docker.lab.lifecycle import VERSIONS
from gpu_docker.lab.repo import free_port
from gpu_docker.lab.state import LabState

pytestmark = pytest.mark.lab

VERSION = PIN
SOURCE_LIST = "/etc/apt/sources.list.d/nvidia-container-toolkit.list"
KEYRING = "/usr/share/keyrings/nvidia-container-toolkit-keyring.gpg"
STEP_SETTINGS = "gpu-docker | Check settings"
STEP_PREFLIGHT = "gpu-docker | Preflight"
STEP_KEY = (
    "gpu-docker | Install NVIDIA Container Toolkit (apt) | "
    "Add the toolkit apt source (tried on its own first, key fingerprint checked)"
)
Damage = Callable[[Path], None]


def _alter_deb(amd64: Path) -> None:
    """One byte flipped inside a deb: same size, another sha256."""
    deb = amd64 / f"libnvidia-container1_{VERSION}-1_amd64.deb"
    data = bytearray(deb.read_bytes())
    data[len(data) // 2] ^= 0xFF
    deb.write_bytes(bytes(data))


def _untouched(amd64: Path) -> None:
    """An intact copy, for the host that must find it through a relative path."""


@dataclass(frozen=True)
class Case:
    """One host's settings and what the run must leave on it.

    ``refused`` are the pieces of the host's one ``gpu-docker:`` line (``{bundle}`` is the
    host's bundle copy, ``{lab_bundle}`` the lab's); none means the host must converge.
    ``damage`` makes the host its own copy of the lab's bundle, changed this way.
    """

    host: str
    data: dict[str, Any] = field(default_factory=dict)
    refused: tuple[str, ...] = ()
    step: str = ""
    damage: Damage | None = None


SPACED_FINGERPRINT = "lab-online-2"
WRONG_KEY = "lab-online-3"
UNREACHABLE_KEY = "lab-online-4"
RELATIVE_BUNDLE = "lab-restricted-2"
CASES = [
    Case(
        "lab-online-1",
        {"toolkit_verison": VERSION},
        ("setting 'toolkit_verison': unknown setting (did you mean 'toolkit_version'?)",),
        STEP_SETTINGS,
    ),
    Case(SPACED_FINGERPRINT),  # fingerprint in spaced lower case: set in setup()
    Case(
        WRONG_KEY,  # apt_key_url: the lab's wrong key, set in setup()
        refused=("the key at {wrong_key_url} has fingerprint ", "nothing installed"),
        step=STEP_KEY,
    ),
    Case(
        UNREACHABLE_KEY,  # apt_key_url: a closed port on the lab's own bridge
        refused=("could not fetch the apt key from {closed_url}: curl: (7)",),
        step=STEP_KEY,
    ),
    Case(
        "lab-restricted-1",
        {"toolkit_version": "1.16.0"},
        (
            "offline bundle: no bundle manifest at {lab_bundle}/1.16.0/amd64/manifest.json "
            "(bundles under {lab_bundle}: " + ", ".join(f"{v}/amd64" for v in VERSIONS) + ")",
        ),
        STEP_PREFLIGHT,
    ),
    Case(RELATIVE_BUNDLE, damage=_untouched),  # bundle_dir made relative in setup()
    Case(
        "lab-restricted-3",
        refused=(
            "offline bundle: ",
            f"{{bundle}}/{VERSION}/amd64/libnvidia-container1_{VERSION}-1_amd64.deb: sha256 ",
        ),
        step=STEP_PREFLIGHT,
        damage=_alter_deb,
    ),
]


@pytest.fixture(scope="module")
def lab() -> Iterator[LabState]:
    with lab_of(online=4, restricted=3) as state:
        yield state


def _spaced_lower(fingerprint: str) -> str:
    """``2B77 0DA8 ...`` in lower case, as gpg prints it and operators paste it."""
    return " ".join(fingerprint[i : i + 4] for i in range(0, 40, 4)).lower()


@pytest.fixture(scope="module")
def setup(lab, host_exec, tmp_path_factory) -> dict[str, Any]:
    """Bundle copies, the inventory, snapshots, then the one run from another directory."""
    gateway = SUBNETS["online"].gateway
    words = {
        "lab_bundle": lab.bundle_dir,
        "wrong_key_url": lab.wrong_key_url,
        "closed_url": f"http://{gateway}:{free_port(gateway)}/gpgkey",
    }
    bundles: dict[str, Path] = {}
    data: dict[str, dict[str, Any]] = {}
    for case in CASES:
        data[case.host] = dict(case.data)
        if case.damage is not None:
            root = tmp_path_factory.mktemp(f"bundle-{case.host}")
            amd64 = root / VERSION / "amd64"
            shutil.copytree(Path(lab.bundle_dir) / VERSION / "amd64", amd64)
            case.damage(amd64)
            bundles[case.host] = root
            data[case.host]["bundle_dir"] = str(root)
    data[SPACED_FINGERPRINT]["apt_key_fingerprint"] = _spaced_lower(lab.key_fingerprint)
    data[WRONG_KEY]["apt_key_url"] = lab.wrong_key_url
    data[UNREACHABLE_KEY]["apt_key_url"] = words["closed_url"]
    cwd = tmp_path_factory.mktemp("elsewhere")
    relative = os.path.relpath(bundles[RELATIVE_BUNDLE], PROJECT)
    assert not (cwd / relative).exists()  # resolved against the cwd, it would be missing
    data[RELATIVE_BUNDLE]["bundle_dir"] = relative

    before = {case.host: snapshot(lab, host_exec, case.host) for case in CASES}
    inventory = write_inventory(tmp_path_factory.mktemp("inv") / "inventory.py", lab, data, {})
    run = pyinfra(inventory, cwd=cwd)
    return {"run": run, "before": before, "words": words, "bundles": bundles}


def _expected(case: Case, setup: dict[str, Any]) -> list[str]:
    words = {**setup["words"], "bundle": str(setup["bundles"].get(case.host, ""))}
    return [piece.format(**words) for piece in case.refused]


@pytest.mark.parametrize("case", [c for c in CASES if c.refused], ids=lambda c: c.host)
def test_bad_setting_bundle_or_key_fails_its_host_alone_naming_the_cause(
    lab, host_exec, setup, case
):
    run = setup["run"]
    (line,) = host_lines(run, case.host)
    assert line.startswith("gpu-docker: "), line
    for piece in _expected(case, setup):
        assert piece in line, (piece, line)
    assert summary(run)[case.host] == f"failed at: {case.step}"
    assert snapshot(lab, host_exec, case.host) == setup["before"][case.host]


def test_refused_key_writes_no_keyring_and_no_source(lab, host_exec, setup):
    """Nothing of the key or the repository is left on a host whose key was refused."""
    for host in (WRONG_KEY, UNREACHABLE_KEY):
        found = host_exec(lab, host, f"ls {KEYRING} {SOURCE_LIST} 2>&1; true").stdout
        assert found.count("No such file") == 2, (host, found)


def test_wrong_key_line_names_both_fingerprints(lab, setup):
    (line,) = host_lines(setup["run"], WRONG_KEY)
    assert line.endswith(f", expected {lab.key_fingerprint}; nothing installed"), line
    assert lab.key_fingerprint not in line.split(" expected ")[0]


@pytest.mark.parametrize("case", [c for c in CASES if not c.refused], ids=lambda c: c.host)
def test_good_hosts_in_the_same_run_converge(lab, host_exec, setup, case):
    run = setup["run"]
    assert case.host not in summary(run), output(run)
    assert host_lines(run, case.host) == []
    status, audit = dpkg_state(lab, host_exec, case.host)
    assert status == dict.fromkeys(PACKAGES, f"ii{VERSION}-1") and audit == "", (status, audit)
    assert "nvidia" in (docker_runtimes(lab, host_exec, case.host) or [])


def test_spaced_lower_case_fingerprint_installs_the_pinned_key(lab, host_exec, setup):
    keyring = host_exec(
        lab,
        SPACED_FINGERPRINT,
        f"GNUPGHOME=$(mktemp -d) gpg --batch --show-keys --with-colons {KEYRING} | grep '^fpr'",
    )
    assert keyring.returncode == 0, keyring.stderr
    assert lab.key_fingerprint in keyring.stdout.upper()


def test_relative_bundle_dir_is_read_from_the_project_not_the_cwd(lab, host_exec, setup):
    listing = host_exec(lab, RELATIVE_BUNDLE, f"ls /var/cache/gpu-docker/{VERSION}/amd64")
    assert sorted(listing.stdout.split()) == sorted(
        p.name for p in (setup["bundles"][RELATIVE_BUNDLE] / VERSION / "amd64").glob("*.deb")
    )


def test_run_fails_overall_naming_exactly_the_refused_hosts(setup):
    run = setup["run"]
    assert run.returncode != 0
    assert sorted(summary(run)) == sorted(c.host for c in CASES if c.refused)
