"""The toolkit's version rules, shared by the settings, the bundle tool and the lab."""

from __future__ import annotations

import pytest

from gpu_docker import toolkit
from gpu_docker.bundle.errors import BundleError
from gpu_docker.bundle.manifest import upstream_version as bundle_upstream_version
from gpu_docker.settings import load_settings


@pytest.mark.parametrize(
    ("given", "upstream", "deb"),
    [
        ("1.17.8", "1.17.8", "1.17.8-1"),
        ("1.17.8-1", "1.17.8", "1.17.8-1"),
        ("1.18.0~rc.1-1", "1.18.0~rc.1", "1.18.0~rc.1-1"),
        ("1.17.8-2", "1.17.8", "1.17.8-2"),
        (" 1.17.8 ", "1.17.8", "1.17.8-1"),
    ],
)
def test_one_version_rule_everywhere(given: str, upstream: str, deb: str) -> None:
    assert toolkit.upstream_version(given) == upstream
    assert toolkit.deb_version(given) == deb
    assert bundle_upstream_version(given) == upstream
    if given == given.strip():
        settings = load_settings("h", {"toolkit_version": given})
        assert (settings.upstream_version, settings.deb_version) == (upstream, deb)


def test_the_bundle_tool_still_refuses_a_version_debian_would() -> None:
    with pytest.raises(BundleError, match="invalid version"):
        bundle_upstream_version("not a version!")


def test_upstream_version_drops_an_epoch() -> None:
    assert toolkit.upstream_version("1:1.17.8-1") == "1.17.8"
