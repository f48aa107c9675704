"""Settings: one declaration, validated once per host, errors that name host and key."""

from pathlib import Path

import pytest

from gpu_docker.settings import (
    NVIDIA_KEY_FINGERPRINT,
    Settings,
    SettingsError,
    load_settings,
    settings_table,
)


def test_empty_data_gives_the_documented_defaults():
    settings = load_settings("gpu-01", {})
    assert settings == Settings()
    assert settings.toolkit_version == "1.17.8"
    assert settings.apt_key_fingerprint == NVIDIA_KEY_FINGERPRINT
    assert settings.require_driver is True


def test_typo_is_an_error_naming_host_key_and_the_likely_meaning():
    with pytest.raises(SettingsError) as err:
        load_settings("gpu-01", {"toolkit_verison": "1.17.8"})
    assert str(err.value) == (
        "gpu-01: setting 'toolkit_verison': unknown setting (did you mean 'toolkit_version'?)"
    )


def test_pyinfra_connector_data_is_not_ours_to_reject():
    settings = load_settings("gpu-01", {"ssh_user": "root", "_sudo": True, "ssh_port": 22})
    assert settings == Settings()


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("require_driver", "yes", "must be true or false, got 'yes'"),
        ("restart_timeout", "60", "must be an integer, got '60'"),
        ("restart_timeout", True, "must be an integer, got True"),
        ("install_method", "scp", "must be one of `apt` or `offline`, got 'scp'"),
        ("daemon_json_extra", "[1", "not a JSON object"),
        ("daemon_json_extra", [1], "must be an object, got list"),
        ("restart_timeout", 0, "must be positive, got 0"),
        ("daemon_json_path", "etc/docker/daemon.json", "must be an absolute path"),
        ("runtime_name", "runc", "'runc' is reserved by docker"),
        ("toolkit_version", "latest", "'latest' is not a version like '1.17.8'"),
        ("apt_key_url", "http://mirror/gpgkey;touch /tmp/x", "is not a URL"),
        ("apt_repo_url", "http://mirror/ /\ndeb [trusted=yes] http://evil", "is not a URL"),
        ("apt_repo_url", "mirror.example/deb", "is not a URL"),
        ("apt_keyring_path", "/usr/share/keyrings/a b.gpg", "cannot be named in an apt source"),
    ],
)
def test_wrong_values_name_host_and_key(key, value, message):
    with pytest.raises(SettingsError) as err:
        load_settings("gpu-07", {key: value})
    assert str(err.value).startswith(f"gpu-07: setting {key!r}: ")
    assert message in str(err.value)


def test_version_parsed_as_float_says_to_quote_it():
    with pytest.raises(SettingsError, match="parsed as a float: quote it"):
        load_settings("gpu-01", {"toolkit_version": 1.17})


@pytest.mark.parametrize(
    ("given", "deb", "upstream"),
    [("1.17.8", "1.17.8-1", "1.17.8"), ("1.18.1-1", "1.18.1-1", "1.18.1")],
)
def test_deb_revision_is_handled(given, deb, upstream):
    settings = load_settings("h", {"toolkit_version": given})
    assert (settings.deb_version, settings.upstream_version) == (deb, upstream)


def test_fingerprint_with_spaces_and_lower_case_is_normalised():
    spaced = "c95b 321b 61e8 8c18 09c4  f759 ddca e044 f796 ecb0"
    assert load_settings("h", {"apt_key_fingerprint": spaced}).apt_key_fingerprint == (
        NVIDIA_KEY_FINGERPRINT
    )


def test_short_fingerprint_is_refused():
    with pytest.raises(SettingsError, match="not a 40-hex-digit fingerprint"):
        load_settings("h", {"apt_key_fingerprint": "F796ECB0"})


def test_extra_settings_accept_json_text_from_the_command_line():
    settings = load_settings("h", {"daemon_json_extra": '{"live-restore": true}'})
    assert settings.daemon_json_extra == {"live-restore": True}


def test_optional_image_may_be_unset_or_a_string():
    assert load_settings("h", {"smoke_test_image": None}).smoke_test_image is None
    assert load_settings("h", {"smoke_test_image": "cuda:12"}).smoke_test_image == "cuda:12"


def test_docs_settings_table_is_generated_from_the_declaration():
    page = (Path(__file__).parents[2] / "docs" / "settings.md").read_text()
    assert settings_table() in page, (
        "run: python -m gpu_docker.settings and paste into docs/settings.md"
    )
