"""CDI decisions: generate only when missing or stale, units where the toolkit has them,
features.cdi only where docker can use it."""

import pytest

from gpu_docker.cdi import (
    CdiHost,
    daemon_json_owned,
    docker_supports_cdi,
    spec_action,
    stamp_for,
)

DRIVER, CTK = "550.54.15", "NVIDIA Container Toolkit CLI version 1.17.8"


def host(**kwargs):
    values = {
        "driver": DRIVER,
        "toolkit": CTK,
        "spec_exists": True,
        "stamp": stamp_for(DRIVER, CTK),
        "refresh_units": False,
        "refresh_enabled": False,
    }
    return CdiHost(**(values | kwargs))


def test_a_current_spec_is_left_alone():
    assert spec_action(host()) == ("none", f"CDI spec is current ({stamp_for(DRIVER, CTK)})")


def test_a_missing_spec_is_generated():
    assert spec_action(host(spec_exists=False, stamp=""))[0] == "generate"


@pytest.mark.parametrize(
    "changed",
    [{"driver": "570.86.15"}, {"toolkit": "NVIDIA Container Toolkit CLI version 1.18.1"}],
)
def test_a_driver_or_toolkit_change_makes_the_spec_stale(changed):
    action, why = spec_action(host(**changed))
    assert action == "generate"
    assert why.startswith(f"CDI spec is stale: generated for {stamp_for(DRIVER, CTK)}, now ")


def test_a_spec_we_did_not_stamp_is_regenerated_once():
    assert spec_action(host(stamp="")) == (
        "generate",
        f"CDI spec is stale: generated for unknown versions, now {stamp_for(DRIVER, CTK)}",
    )


def test_no_driver_no_spec():
    action, why = spec_action(host(driver="", spec_exists=False))
    assert action == "none" and why.startswith("no CDI spec made: no NVIDIA driver")


def test_refresh_units_are_enabled_instead_of_generating_by_hand():
    assert spec_action(host(refresh_units=True))[0] == "refresh-units"
    assert spec_action(host(refresh_units=True, refresh_enabled=True))[0] == "none"
    assert spec_action(host(refresh_units=True, refresh_enabled=True, spec_exists=False))[0] == (
        "refresh-units"
    )


@pytest.mark.parametrize(
    ("docker", "supported"),
    [
        ("26.1.5", True),
        ("25.0.0", True),
        ("Docker version 28.2.1, build 1234", True),
        ("Docker version 20.10.24+dfsg1, build 297e128", False),
        ("24.0.7", False),
        ("", False),
    ],
)
def test_features_cdi_only_where_docker_reads_it(docker, supported):
    assert docker_supports_cdi(docker) is supported
    expected = {"features": {"cdi": True}} if supported else {}
    assert daemon_json_owned(True, docker) == expected
    assert daemon_json_owned(False, docker) == {}
