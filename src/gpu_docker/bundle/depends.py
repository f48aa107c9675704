"""Debian package relations: parsing and checking them against installed versions.

The offline path installs with ``dpkg -i``, which, unlike apt, will not fetch a missing
library. So the bundle records which relations the host must already satisfy, and the
deploy asks :func:`unmet_dependencies` before touching dpkg. Parsing and version
comparison come from python-debian, which implements Debian policy, not from hand-rolled
string splitting.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TypeAlias

from debian.deb822 import PkgRelation
from debian.debian_support import version_compare

#: One alternative of a relation as python-debian returns it (name, version, ...).
Alternative: TypeAlias = "PkgRelation.ParsedRelation"
#: An OR-group: ``a | b (>= 1)``.
Clause: TypeAlias = "list[Alternative]"

_PACKAGE_NAME = re.compile(r"^[a-z0-9][a-z0-9+.-]+$")
_OPERATORS: dict[str, Callable[[int], bool]] = {
    "<<": lambda c: c < 0,
    "<=": lambda c: c <= 0,
    "=": lambda c: c == 0,
    ">=": lambda c: c >= 0,
    ">>": lambda c: c > 0,
    # Obsolete forms still accepted by dpkg: "<" means "<=", ">" means ">=".
    "<": lambda c: c <= 0,
    ">": lambda c: c >= 0,
}


def parse_relations(text: str) -> list[Clause]:
    """Parse a Depends-style field into clauses; ValueError when it is not one."""
    if not text.strip():
        return []
    with warnings.catch_warnings():
        # python-debian warns and returns the raw text for unparsable input; we raise.
        warnings.simplefilter("ignore")
        clauses = PkgRelation.parse_relations(text)
    for clause in clauses:
        for alt in clause:
            if not _PACKAGE_NAME.match(alt["name"]):
                raise ValueError(f"cannot parse package relation {text!r}")
    return clauses


def format_clause(clause: Clause) -> str:
    """Render one clause the way Debian writes it: ``libc6 (>= 2.27)``."""
    return PkgRelation.str([clause])


def satisfies(alternative: Alternative, version: str | None) -> bool:
    """Whether a package at ``version`` (None: not installed) meets one alternative."""
    if version is None:
        return False
    constraint = alternative.get("version")
    if constraint is None:
        return True
    operator, wanted = constraint
    return _OPERATORS[operator](version_compare(version, wanted))


def clause_satisfied(clause: Clause, installed: Mapping[str, str]) -> bool:
    """Whether any alternative of ``clause`` is met by ``installed``."""
    return any(satisfies(alt, installed.get(alt["name"])) for alt in clause)


def clause_names(clause: Clause) -> set[str]:
    """The package names a clause mentions."""
    return {alt["name"] for alt in clause}


def _strip_arch(installed: Mapping[str, str]) -> dict[str, str]:
    """Accept ``libc6:amd64`` keys as dpkg-query prints them for multi-arch packages."""
    return {name.split(":", 1)[0]: version for name, version in installed.items()}


def unmet_dependencies(relations: Sequence[str], installed: Mapping[str, str]) -> list[str]:
    """Return the relations in ``relations`` that ``installed`` does not satisfy.

    ``installed`` maps package name to installed deb version on a host. Each relation is
    a Debian relation string (``"libseccomp2 (>= 2.5)"``, ``"a | b"``); a string holding
    several comma-separated clauses is checked clause by clause and each unmet clause is
    returned. Virtual packages (Provides) are not resolved.
    """
    have = _strip_arch(installed)
    unmet: list[str] = []
    for relation in relations:
        clauses = parse_relations(relation)
        for clause in clauses:
            if not clause_satisfied(clause, have):
                unmet.append(relation.strip() if len(clauses) == 1 else format_clause(clause))
    return unmet


def external_relations(fields: Iterable[str], internal: Iterable[str]) -> list[str]:
    """Clauses from ``fields`` that name no package in ``internal``, deduplicated, sorted.

    These are what a host must already have for ``dpkg -i`` of the bundle to succeed.
    """
    inside = set(internal)
    found = {
        format_clause(clause)
        for text in fields
        for clause in parse_relations(text)
        if not clause_names(clause) & inside
    }
    return sorted(found)
