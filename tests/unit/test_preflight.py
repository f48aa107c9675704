"""Preflight: each unready host gets sentences an operator can act on."""

from dataclasses import replace

import pytest

from gpu_docker.facts.preflight import HostPreflight
from gpu_docker.preflight import Preflight, problems
from gpu_docker.settings import Settings

READY = Preflight(
    os_id="debian",
    os_version="12",
    arch="amd64",
    driver="580.65.06",
    dockerd_version="Docker version 26.1.5",
    tools=frozenset({"curl", "gpg", "dpkg", "docker"}),
)


def test_a_ready_host_has_no_problems():
    assert problems(Settings(), READY) == []


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"os_id": "centos", "os_version": "9"}, "unsupported OS centos 9"),
        ({"os_version": "10"}, "unsupported OS debian 10"),
        ({"arch": "ppc64el"}, "unsupported architecture ppc64el"),
        ({"driver": ""}, "no NVIDIA driver"),
        ({"dockerd_version": ""}, "docker is not installed"),
        ({"tools": frozenset({"dpkg", "docker"})}, "the apt install needs curl and gpg"),
    ],
)
def test_unready_hosts_are_explained(change, expected):
    found = problems(Settings(), replace(READY, **change))
    assert len(found) == 1
    assert found[0].startswith(expected)


def test_driver_may_be_waived_for_image_baking():
    assert problems(Settings(require_driver=False), replace(READY, driver="")) == []


def test_offline_hosts_do_not_need_curl_or_gpg_but_need_the_bundles_dependencies():
    host = replace(READY, tools=frozenset({"dpkg", "docker"}))
    found = problems(Settings(install_method="offline"), host, unmet=["libseccomp2 (>= 2.5)"])
    assert found == [
        "the offline bundle needs packages the host lacks and cannot fetch: libseccomp2 (>= 2.5)"
    ]


def test_preflight_fact_parses_one_round_trip_of_output():
    output = [
        "os_id=ubuntu",
        "os_version=24.04",
        "arch=arm64",
        "driver=580.65.06",
        "gpus=8",
        "dockerd=Docker version 26.1.5, build 411e817",
        "validate=1",
        "init=systemd",
        "tool=curl",
        "tool=docker",
        'docker_info=26.1.5|false|3|{"nvidia":{},"runc":{}}',
        "pkg=libc6\t2.39-0ubuntu8\tii ",
        "pkg=nvidia-container-toolkit\t1.17.8-1\tiF ",
    ]
    facts = HostPreflight().process(output)
    assert (facts.os_id, facts.os_version, facts.arch, facts.gpus) == (
        "ubuntu",
        "24.04",
        "arm64",
        8,
    )
    assert facts.docker_validate and facts.init == "systemd"
    assert facts.docker is not None
    assert facts.docker.runtimes == ("nvidia", "runc")
    assert facts.docker.containers_running == 3 and not facts.docker.live_restore
    assert facts.tools == {"curl", "docker"}
    assert facts.installed_versions() == {"libc6": "2.39-0ubuntu8"}


def test_preflight_fact_reports_docker_that_does_not_answer():
    facts = HostPreflight().process(["docker_error=Cannot connect to the Docker daemon"])
    assert facts.docker is None
    assert facts.docker_error == "Cannot connect to the Docker daemon"
