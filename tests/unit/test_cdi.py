"""CDI decisions: generate only when missing or stale, units where the toolkit has them,
features.cdi only where docker can use it."""

import pytest

from gpu_docker.cdi import (
    SPEC_PATH,
    STAMP_PATH,
    CdiHost,
    daemon_json_owned,
    docker_supports_cdi,
    leftovers,
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
    units = {"refresh_units": True, "spec_exists": False, "stamp": ""}
    assert spec_action(host(**units))[0] == "refresh-units"
    # Enabled, but their spec is not there yet: started once more.
    assert spec_action(host(**units, refresh_enabled=True))[0] == "refresh-units"
    action, why = spec_action(host(**units, refresh_enabled=True, refresh_spec=True))
    assert (action, why) == (
        "none",
        "nvidia-cdi-refresh keeps the CDI spec current (/var/run/cdi/nvidia.yaml)",
    )


def test_when_the_units_take_over_gpu_dockers_own_spec_goes():
    """An upgrade from 1.17 to 1.18+ on a systemd host: our stamped spec in /etc/cdi would
    define the same devices as the units' spec."""
    facts = host(refresh_units=True, refresh_enabled=True, refresh_spec=True)
    action, why = spec_action(facts)
    assert action == "refresh-units" and "gpu-docker's own spec goes" in why
    assert leftovers(facts, action) == [SPEC_PATH, STAMP_PATH]
    # A spec in /etc/cdi that gpu-docker did not stamp is someone else's: left alone.
    theirs = host(refresh_units=True, refresh_enabled=True, refresh_spec=True, stamp="")
    assert spec_action(theirs)[0] == "none" and leftovers(theirs, "refresh-units") == []


def test_after_a_downgrade_the_units_spec_goes_and_ours_is_generated():
    """1.20 back to 1.17: the units are gone, their spec in /var/run/cdi is not, and CDI
    would prefer it over a fresh /etc/cdi spec."""
    facts = host(refresh_spec=True)
    action, why = spec_action(facts)
    assert action == "generate"
    assert why.endswith(
        "; the spec nvidia-cdi-refresh left at /var/run/cdi/nvidia.yaml goes (it would shadow it)"
    )
    assert leftovers(facts, action) == ["/var/run/cdi/nvidia.yaml"]
    assert leftovers(host(), "generate") == []


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


def test_where_the_refresh_service_would_not_run_gpu_docker_generates_the_spec():
    """NVIDIA's service generates only with nvidia-smi in /usr/bin or /usr/sbin and nvidia.ko
    in the module index: elsewhere (a driver under /usr/local/nvidia) the units would leave
    the host without a spec while the converge said they keep it."""
    skips = "nvidia-smi is in neither /usr/bin nor /usr/sbin"
    units = {"refresh_units": True, "refresh_enabled": True, "refresh_skips": skips}
    action, why = spec_action(host(**units, spec_exists=False, stamp=""))
    assert action == "generate"
    assert why.endswith(f"the toolkit's nvidia-cdi-refresh service would not ({skips})")
    # Once generated, a rerun leaves it alone: no change, as everywhere.
    assert spec_action(host(**units))[0] == "none"
