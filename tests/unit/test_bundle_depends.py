"""Relation checks against a host's installed packages, and the install order."""

from __future__ import annotations

import pytest

from gpu_docker.bundle.depends import external_relations, parse_relations, unmet_dependencies
from gpu_docker.bundle.order import CycleError, install_order

INSTALLED = {"libc6": "2.36-9+deb12u4", "libcap2": "1:2.66-4", "libseccomp2": "2.5.4-1+b3"}


def test_all_met_returns_nothing() -> None:
    relations = ["libc6 (>= 2.27)", "libcap2 (>= 1:2.10)", "libseccomp2 (>= 2.5)"]
    assert unmet_dependencies(relations, INSTALLED) == []


def test_missing_package_is_unmet() -> None:
    assert unmet_dependencies(["libfoo1", "libc6"], INSTALLED) == ["libfoo1"]


def test_too_old_version_is_unmet() -> None:
    assert unmet_dependencies(["libc6 (>= 2.38)"], INSTALLED) == ["libc6 (>= 2.38)"]


def test_epoch_counts_in_comparison() -> None:
    # 1:2.10 is newer than any epoch-0 version, so a host with 2.66 (no epoch) fails it.
    assert unmet_dependencies(["libcap2 (>= 1:2.10)"], {"libcap2": "2.66-4"}) == [
        "libcap2 (>= 1:2.10)"
    ]


@pytest.mark.parametrize(
    ("relation", "met"),
    [
        ("libseccomp2 (= 2.5.4-1+b3)", True),
        ("libseccomp2 (= 2.5.4)", False),
        ("libseccomp2 (<< 2.5.4-1+b3)", False),
        ("libseccomp2 (<= 2.5.4-1+b3)", True),
        ("libseccomp2 (>> 2.5)", True),
        ("libseccomp2 (<< 3)", True),
    ],
)
def test_each_operator(relation: str, met: bool) -> None:
    assert (unmet_dependencies([relation], INSTALLED) == []) is met


def test_alternatives_need_only_one() -> None:
    assert unmet_dependencies(["libfoo1 | libc6 (>= 2.27)"], INSTALLED) == []
    assert unmet_dependencies(["libfoo1 | libc6 (>= 3)"], INSTALLED) == ["libfoo1 | libc6 (>= 3)"]


def test_comma_separated_string_reports_each_unmet_clause() -> None:
    assert unmet_dependencies(["libc6, libbar (>= 1), libbaz"], INSTALLED) == [
        "libbar (>= 1)",
        "libbaz",
    ]


def test_multiarch_keys_from_dpkg_query_are_understood() -> None:
    assert unmet_dependencies(["libc6 (>= 2.27)"], {"libc6:amd64": "2.36-9"}) == []


def test_garbage_relation_is_rejected() -> None:
    with pytest.raises(ValueError, match="cannot parse"):
        parse_relations("libc6 (((")


def test_external_relations_skip_bundle_packages() -> None:
    fields = ["libc6 (>= 2.27), libnvidia-container1 (>= 1.17.8-1)", "libc6 (>= 2.27)", ""]
    assert external_relations(fields, ["libnvidia-container1"]) == ["libc6 (>= 2.27)"]


def test_order_follows_dependencies_with_name_tie_break() -> None:
    requires = {
        "nvidia-container-toolkit": {"nvidia-container-toolkit-base", "libnvidia-container-tools"},
        "nvidia-container-toolkit-base": set(),
        "libnvidia-container-tools": {"libnvidia-container1", "libc6"},
        "libnvidia-container1": set(),
    }
    assert install_order(requires) == [
        "libnvidia-container1",
        "libnvidia-container-tools",
        "nvidia-container-toolkit-base",
        "nvidia-container-toolkit",
    ]


def test_cycle_names_only_the_packages_in_it() -> None:
    requires = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    with pytest.raises(CycleError) as caught:
        install_order(requires)
    assert caught.value.packages == ["a", "b", "c"]
    assert "dependency cycle between a, b, c" in str(caught.value)
