"""The host's apt sources, as far as NVIDIA's repository is concerned: pure rules.

Older install guides left ``/etc/apt/sources.list.d/nvidia-docker.list`` (or a line in
sources.list, or a deb822 ``.sources`` stanza) for the same repository without
``signed-by``. Once gpu-docker's signed-by source is added, apt refuses every command on
the host (``Conflicting values set for option Signed-By``). Such entries are found here,
and disabled (commented out, or ``Enabled: no`` in deb822) in a copy of the file's text
that the operation writes after backing the file up.

The same module names the cause of a failed isolated ``apt-get update`` of NVIDIA's
source (the probe run before anything is written), so that the operator reads one line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

DISABLED_PREFIX = "# disabled by gpu-docker (conflicts with {own}): "

_OPTIONS_RE = re.compile(r"^\[([^\]]*)\]\s*")


@dataclass(frozen=True)
class AptSourceFiles:
    """The host's source files (path -> text), its architecture and apt's proxy."""

    files: dict[str, str] = field(default_factory=dict)
    arch: str = ""
    proxy: str = ""


@dataclass(frozen=True)
class Entry:
    """One source entry naming a repository: where it is, its URI, suite and signed-by."""

    file: str
    index: int  # line number (one-line format) or stanza number (deb822), from 0
    uri: str
    suite: str
    signed_by: str


@dataclass(frozen=True)
class Conflict:
    """A file holding entries for NVIDIA's repository with other options than ours."""

    file: str
    entries: tuple[Entry, ...]
    new_text: str

    def describe(self) -> str:
        """What is wrong with the file, in words."""
        signed = {e.signed_by or "no signed-by" for e in self.entries}
        return f"{self.file} names the same repository with {', '.join(sorted(signed))}"


def normalise_uri(uri: str, arch: str) -> str:
    """The URI as apt compares it: ``$(ARCH)`` expanded, no trailing slash."""
    return uri.replace("$(ARCH)", arch).rstrip("/")


def _one_line_entries(path: str, text: str) -> list[Entry]:
    found = []
    for number, raw in enumerate(text.splitlines()):
        line = raw.split("#", 1)[0].strip()
        kind, _, rest = line.partition(" ")
        if kind not in ("deb", "deb-src"):
            continue
        rest = rest.strip()
        options: dict[str, str] = {}
        match = _OPTIONS_RE.match(rest)
        if match:
            for option in match.group(1).split():
                key, _, value = option.partition("=")
                options[key.lower()] = value
            rest = rest[match.end() :]
        fields = rest.split()
        if len(fields) >= 2:
            found.append(Entry(path, number, fields[0], fields[1], options.get("signed-by", "")))
    return found


def _stanzas(text: str) -> list[list[str]]:
    """deb822 paragraphs as lists of lines (comments kept), separated by blank lines."""
    stanzas: list[list[str]] = [[]]
    for line in text.splitlines():
        if line.strip():
            stanzas[-1].append(line)
        elif stanzas[-1]:
            stanzas.append([])
    return [s for s in stanzas if s]


def _fields(stanza: list[str]) -> dict[str, str]:
    fields: dict[str, str] = {}
    key = ""
    for line in stanza:
        if line.startswith("#"):
            continue
        if line[:1].isspace() and key:
            fields[key] += "\n" + line.strip()
            continue
        key, _, value = line.partition(":")
        key = key.strip().lower()
        fields[key] = value.strip()
    return fields


def _deb822_entries(path: str, text: str) -> list[Entry]:
    found = []
    for number, stanza in enumerate(_stanzas(text)):
        fields = _fields(stanza)
        if fields.get("enabled", "yes").lower() == "no":
            continue
        for uri in fields.get("uris", "").split():
            for suite in fields.get("suites", "").split():
                found.append(Entry(path, number, uri, suite, fields.get("signed-by", "")))
    return found


def entries(path: str, text: str) -> list[Entry]:
    """Every enabled entry of one sources file (deb822 when it ends in ``.sources``)."""
    if path.endswith(".sources"):
        return _deb822_entries(path, text)
    return _one_line_entries(path, text)


def _disable(path: str, text: str, indexes: set[int], own: str) -> str:
    """``text`` with the given entries disabled, everything else byte for byte."""
    if path.endswith(".sources"):
        stanzas = _stanzas(text)
        out = []
        for number, stanza in enumerate(stanzas):
            if number in indexes:
                kept = [line for line in stanza if not line.lower().startswith("enabled:")]
                stanza = [f"# disabled by gpu-docker (conflicts with {own})", *kept, "Enabled: no"]
            out.append("\n".join(stanza))
        return "\n\n".join(out) + "\n"
    lines = text.splitlines(keepends=True)
    prefix = DISABLED_PREFIX.format(own=own)
    for number in indexes:
        lines[number] = prefix + lines[number]
    return "".join(lines)


def conflicts(
    files: dict[str, str], repo_url: str, keyring: str, arch: str, own: str
) -> list[Conflict]:
    """Files other than ``own`` naming NVIDIA's repository with another ``signed-by``.

    apt refuses to read any source once one repository is given two ``signed-by`` values,
    so each is a file to disable before gpu-docker's own source goes in. Entries with the
    very same options are left alone: apt accepts them (it only warns of a duplicate).
    """
    wanted = normalise_uri(repo_url, arch)
    found = []
    for path, text in sorted(files.items()):
        if path == own:
            continue
        clashing = [
            e
            for e in entries(path, text)
            if normalise_uri(e.uri, arch) == wanted and e.suite == "/" and e.signed_by != keyring
        ]
        if clashing:
            new_text = _disable(path, text, {e.index for e in clashing}, own)
            found.append(Conflict(path, tuple(clashing), new_text))
    return found


# Patterns of apt's own output, most specific first: (regex, cause).
_CAUSES: tuple[tuple[str, str], ...] = (
    (
        r"not valid yet",
        "the host's clock is behind: the repository's Release file is not "
        "valid yet (check the time, NTP)",
    ),
    (
        r"NO_PUBKEY|is not signed|BADSIG|signatures? (couldn't|could not) be verified|"
        r"EXPKEYSIG|Signed-By",
        "the repository is not signed by the pinned key",
    ),
    (
        r"\b404\s+(Not Found|File not found)|\b404\b.*[Nn]ot [Ff]ound",
        "the repository answered 404 Not Found (check apt_repo_url)",
    ),
    (r"\b407\b|[Pp]roxy", "the proxy refused the request"),
    (
        r"Temporary failure resolving|Could not resolve|Name or service not known",
        "the repository's host name does not resolve (DNS)",
    ),
    (
        r"Could not connect|Connection refused|timed out|Network is unreachable|No route",
        "the repository cannot be reached",
    ),
)


def probe_failure(output: str, url: str, proxy: str = "") -> str:
    """The one-line cause of a failed isolated ``apt-get update`` of ``url``.

    ``proxy`` is the proxy apt is configured with (empty: none): a connection error then
    is the proxy's, not the repository's. apt's own last complaint is kept in brackets.
    """
    # apt's detail (``404  File not found``, ``Temporary failure resolving``) is on the
    # indented line under each ``Err:``: read everything but the progress lines.
    complaints = [
        line.strip()
        for line in output.splitlines()
        if line.strip() and not line.startswith(("Get:", "Hit:", "Reading", "Ign:"))
    ]
    text = "\n".join(complaints)
    cause = "apt could not read the repository"
    for pattern, meaning in _CAUSES:
        if re.search(pattern, text):
            cause = meaning
            break
    if proxy and cause in (_CAUSES[4][1], _CAUSES[5][1]):
        cause = f"the proxy {proxy} cannot be reached or cannot reach the repository"
    detail = next(
        (line for line in reversed(complaints) if line.startswith(("E:", "W:", "Err:"))), ""
    )
    detail = re.sub(r"\s+", " ", detail)[:240]
    return f"{url}: {cause}{f' (apt: {detail})' if detail else ''}"
