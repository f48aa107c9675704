"""Install order for a bundle: a topological sort over in-bundle dependencies.

``dpkg -i`` configures packages one by one; a package whose Depends or Pre-Depends
names another package of the bundle must come after it. The order is computed from the
packages' own control data rather than hard-coded, so a future release that adds or
splits a package still installs correctly. Ties break by package name so that the same
set always yields the same order (and the same manifest bytes).
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping, Set


class CycleError(ValueError):
    """The in-bundle dependencies form a cycle; ``packages`` are the ones caught in it."""

    def __init__(self, packages: list[str]) -> None:
        super().__init__("dependency cycle between " + ", ".join(packages))
        self.packages = packages


def install_order(requires: Mapping[str, Set[str]]) -> list[str]:
    """Order package names so that each comes after everything it requires.

    ``requires`` maps each package to the in-bundle packages it depends on; names not
    in the mapping are ignored (they are external). Raises :class:`CycleError`.
    """
    edges = {
        pkg: {dep for dep in deps if dep in requires and dep != pkg}
        for pkg, deps in requires.items()
    }
    waiting = {pkg: len(deps) for pkg, deps in edges.items()}
    dependents: dict[str, list[str]] = {pkg: [] for pkg in edges}
    for pkg, deps in edges.items():
        for dep in deps:
            dependents[dep].append(pkg)
    ready = [pkg for pkg, count in waiting.items() if count == 0]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        pkg = heapq.heappop(ready)
        order.append(pkg)
        for dependent in dependents[pkg]:
            waiting[dependent] -= 1
            if waiting[dependent] == 0:
                heapq.heappush(ready, dependent)
    if len(order) != len(edges):
        raise CycleError(_cycle_members({pkg: edges[pkg] for pkg in edges if waiting[pkg]}))
    return order


def _cycle_members(stuck: dict[str, set[str]]) -> list[str]:
    """Drop, from packages the sort could not place, those merely waiting on a cycle."""
    while True:
        needed = {dep for deps in stuck.values() for dep in deps if dep in stuck}
        pruned = {pkg: deps for pkg, deps in stuck.items() if pkg in needed}
        if len(pruned) == len(stuck):
            return sorted(stuck)
        stuck = pruned
