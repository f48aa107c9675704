"""NVIDIA's security bulletins for the Container Toolkit, as data, and which versions they hit.

Several toolkit releases fixed published CVEs, container escapes among them. An operator
rolling out a pin, or looking at a fleet, needs to know which toolkit versions those
bulletins affect; this table answers without reaching NVIDIA's servers (many hosts and
controllers cannot). It serves ``gpu-docker advisories``, the converge's pin check
(``vulnerable_pin``) and the verify report.

Source: NVIDIA PSIRT's bulletins (``github.com/NVIDIA/product-security``: Markdown, CSAF and
CVE records per bulletin; also at ``nvidia.custhelp.com``), cross-checked with NVIDIA's
Container Toolkit release notes and the toolkit's git tags. Where the bulletin and NVIDIA's
release notes disagree on the first fixed version, the later version is used (a false
"affected" costs an upgrade; a false "fixed" costs a container escape), and the entry says
so. Update :data:`BULLETINS` and :data:`CHECKED` together when NVIDIA publishes one.

Pure: no pyinfra import.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from debian.debian_support import Version

from gpu_docker import toolkit

#: When this table was last compared with NVIDIA's bulletins.
CHECKED = datetime.date(2026, 12, 7)
#: The newest bulletin index entry that comparison could read (NVIDIA/product-security as
#: stored then): bulletins published after it are not in the table.
SOURCE_AS_OF = datetime.date(2026, 8, 18)


@dataclass(frozen=True)
class Cve:
    """One CVE of a bulletin: its id, NVIDIA's CVSS v3.1 base score and vector, what it is."""

    id: str
    cvss: float
    vector: str
    summary: str


@dataclass(frozen=True)
class Bulletin:
    """One NVIDIA security bulletin naming the toolkit: every version before ``fixed`` is
    affected (NVIDIA writes "all versions up to and including ``last_affected``")."""

    answer_id: int
    title: str
    published: datetime.date
    last_affected: str
    fixed: str
    cves: tuple[Cve, ...]
    note: str = ""

    @property
    def url(self) -> str:
        """NVIDIA's page of the bulletin."""
        return f"https://nvidia.custhelp.com/app/answers/detail/a_id/{self.answer_id}"

    @property
    def max_cvss(self) -> float:
        return max(cve.cvss for cve in self.cves)

    def affects(self, version: str) -> bool:
        """Whether toolkit ``version`` (upstream ``1.17.8`` or deb ``1.17.8-1``) is affected."""
        return parse_version(version) < Version(self.fixed)


class AdvisoryError(ValueError):
    """A version that is not a toolkit version."""


def parse_version(version: str) -> Version:
    """The upstream part of ``version`` as Debian compares it (``1.18.0~rc.1`` < ``1.18.0``)."""
    upstream = toolkit.upstream_version(version)
    if not upstream or not upstream[0].isdigit():
        raise AdvisoryError(f"{version!r} is not a toolkit version like '1.20.0'")
    try:
        return Version(upstream)
    except ValueError as exc:
        raise AdvisoryError(f"{version!r} is not a toolkit version like '1.20.0'") from exc


BULLETINS: tuple[Bulletin, ...] = (
    Bulletin(
        answer_id=5582,
        title="Security Bulletin: NVIDIA Container Toolkit - September 2024",
        published=datetime.date(2024, 9, 25),
        last_affected="1.16.1",
        fixed="1.16.2",
        cves=(
            Cve(
                "CVE-2024-0132",
                9.0,
                "AV:N/AC:L/PR:L/UI:R/S:C/C:H/I:H/A:H",
                "TOCTOU race in the default (hook) mode: a crafted image reaches the host "
                "filesystem (container escape); CDI mode not affected",
            ),
            Cve(
                "CVE-2024-0133",
                4.1,
                "AV:N/AC:L/PR:L/UI:R/S:C/C:N/I:L/A:N",
                "a crafted image creates empty files on the host filesystem",
            ),
        ),
    ),
    Bulletin(
        answer_id=5585,
        title="Security Bulletin: NVIDIA Container Toolkit - November 2024",
        published=datetime.date(2024, 11, 5),
        last_affected="1.16.2",
        fixed="1.17.0",
        cves=(
            Cve(
                "CVE-2024-0134",
                4.1,
                "AV:N/AC:L/PR:L/UI:R/S:C/C:N/I:L/A:N",
                "a crafted image creates unauthorized files on the host (link following)",
            ),
        ),
    ),
    Bulletin(
        answer_id=5599,
        title="Security Bulletin: NVIDIA Container Toolkit - January 2025",
        published=datetime.date(2025, 1, 14),
        last_affected="1.17.2",
        fixed="1.17.3",
        cves=(
            Cve(
                "CVE-2024-0135",
                7.6,
                "AV:N/AC:H/PR:H/UI:R/S:C/C:H/I:H/A:H",
                "improper isolation: a crafted image modifies a host binary",
            ),
            Cve(
                "CVE-2024-0136",
                7.6,
                "AV:N/AC:H/PR:H/UI:R/S:C/C:H/I:H/A:H",
                "improper isolation: read/write access to host devices (non-default ldconfig "
                "setting)",
            ),
            Cve(
                "CVE-2024-0137",
                5.5,
                "AV:N/AC:H/PR:L/UI:R/S:C/C:L/I:L/A:L",
                "improper isolation: code runs in the host's network namespace (non-default "
                "setting)",
            ),
        ),
        note=(
            "the bulletin says fixed in 1.17.1; NVIDIA's release notes list these CVEs under "
            "1.17.3 (host-relative ldconfig paths only): the later one is used"
        ),
    ),
    Bulletin(
        answer_id=5616,
        title="Security Bulletin: NVIDIA Container Toolkit - February 2025",
        published=datetime.date(2025, 2, 11),
        last_affected="1.17.3",
        fixed="1.17.4",
        cves=(
            Cve(
                "CVE-2025-23359",
                8.3,
                "AV:N/AC:H/PR:N/UI:R/S:C/C:H/I:H/A:H",
                "TOCTOU race in the default mode (a bypass of CVE-2024-0132's fix): a crafted "
                "image reaches the host filesystem; CDI mode not affected",
            ),
        ),
    ),
    Bulletin(
        answer_id=5659,
        title="Security Bulletin: NVIDIA Container Toolkit - July 2025",
        published=datetime.date(2025, 7, 15),
        last_affected="1.17.7",
        fixed="1.17.8",
        cves=(
            Cve(
                "CVE-2025-23266",
                9.0,
                "AV:A/AC:L/PR:L/UI:N/S:C/C:H/I:H/A:H",
                "container-init hooks can be made to run arbitrary code with elevated "
                "privileges (container escape)",
            ),
            Cve(
                "CVE-2025-23267",
                8.5,
                "AV:N/AC:L/PR:L/UI:N/S:C/C:N/I:L/A:H",
                "link following in the update-ldcache hook through a crafted image",
            ),
        ),
        note="hosts whose low-level runtime is crun are not affected by CVE-2025-23266",
    ),
    Bulletin(
        answer_id=5850,
        title="Security Bulletin: NVIDIA Container Toolkit - June 2026",
        published=datetime.date(2026, 6, 30),
        last_affected="1.19.0",
        fixed="1.19.1",
        cves=(
            Cve(
                "CVE-2026-24260",
                8.5,
                "AV:N/AC:H/PR:L/UI:N/S:C/C:H/I:H/A:H",
                "TOCTOU race in the CDI hooks: code execution, privilege escalation, data "
                "tampering",
            ),
        ),
        note="no 1.17.x or 1.18.x release carries the fix: move to 1.19.1 or newer",
    ),
)


def affecting(version: str) -> list[Bulletin]:
    """The bulletins whose fix ``version`` lacks, oldest first. Raises :class:`AdvisoryError`
    for a string that is not a version."""
    return [bulletin for bulletin in BULLETINS if bulletin.affects(version)]


def first_safe(bulletins: list[Bulletin]) -> str:
    """The lowest version that carries every fix of ``bulletins`` (empty: none needed)."""
    if not bulletins:
        return ""
    return str(max(Version(b.fixed) for b in bulletins))


def cve_ids(bulletins: list[Bulletin]) -> list[str]:
    return [cve.id for bulletin in bulletins for cve in bulletin.cves]


def summary(version: str, bulletins: list[Bulletin]) -> str:
    """One line for a host or a pin: the CVEs, the highest CVSS and the first fixed version."""
    top = max(b.max_cvss for b in bulletins)
    return (
        f"toolkit {toolkit.upstream_version(version)} is affected by NVIDIA security "
        f"bulletins: {', '.join(cve_ids(bulletins))} (highest CVSS {top}); "
        f"the first version with every fix is {first_safe(bulletins)}"
    )


def records(bulletins: list[Bulletin]) -> list[dict[str, object]]:
    """The CVEs of ``bulletins`` as JSON-ready records (the fleet report, ``--json``)."""
    return [
        {
            "cve": cve.id,
            "cvss": cve.cvss,
            "vector": cve.vector,
            "summary": cve.summary,
            "last_affected": bulletin.last_affected,
            "fixed": bulletin.fixed,
            "bulletin": bulletin.title,
            "url": bulletin.url,
            "published": bulletin.published.isoformat(),
        }
        for bulletin in bulletins
        for cve in bulletin.cves
    ]


def markdown_table() -> str:
    """The bulletins as the docs show them (docs/toolkit-versions.md, tested equal)."""
    rows = [
        "| bulletin | published | CVE | CVSS | affected | first fixed |",
        "|---|---|---|---|---|---|",
    ]
    for bulletin in BULLETINS:
        for cve in bulletin.cves:
            rows.append(
                f"| [{bulletin.answer_id}]({bulletin.url}) | {bulletin.published.isoformat()} "
                f"| {cve.id} | {cve.cvss} | up to {bulletin.last_affected} | {bulletin.fixed} |"
            )
    return "\n".join(rows) + "\n"
