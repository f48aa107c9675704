"""Read the project's Markdown the way an operator would follow it, for tests/unit/test_docs.py.

A page is split into prose and code (fenced blocks, indented blocks, inline spans) so that
each check looks only where its kind of claim is written: links and headings in prose,
commands and ``name=value`` settings in code. Every finding is one line naming the file
and what is wrong, so a failing test says what to fix.
"""

from __future__ import annotations

import argparse
import glob
import importlib
import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Top-level folders whose paths a page may name; each named path must exist (a glob must
# match). files/ is left out: bundles there are examples (`files/debs/1.17.8/amd64/`) that a
# fresh clone does not hold.
PATH_ROOTS = ("deploys", "inventories", "scripts", "bench", "tests", "src", "templates", "docs")
# Paths written relative to the package (`sh/lib_docker.sh`, `lab/sh/boot.sh`).
PACKAGE_DIRS = ("sh", "lab/sh")


@dataclass(frozen=True)
class Page:
    """One Markdown file split into the parts the checks read."""

    path: Path
    prose: str
    code_lines: tuple[str, ...]
    spans: tuple[str, ...]

    @property
    def name(self) -> str:
        """The path as a finding names it."""
        return (
            str(self.path.relative_to(ROOT)) if self.path.is_relative_to(ROOT) else str(self.path)
        )

    def code(self) -> Iterator[str]:
        """Every piece of code on the page: block lines, then inline spans."""
        yield from self.code_lines
        yield from self.spans


def doc_files() -> list[Path]:
    """The pages an operator reads: the READMEs at the top, docs/, the bundle folder's."""
    files = sorted(ROOT.glob("README*.md")) + sorted((ROOT / "docs").rglob("*.md"))
    return [*files, ROOT / "files" / "debs" / "README.md"]


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _content_indent(line: str) -> int:
    """Where a line's text starts, list markers skipped (`- x`, `2. x`)."""
    m = re.match(r"( *)(?:[-*+]|\d+\.)\s+", line)
    return len(m.group(0)) if m else _indent(line)


def read_page(path: Path, text: str | None = None) -> Page:
    """Split ``path`` (or ``text``, for tests of the checks) into prose and code."""
    lines = (path.read_text() if text is None else text).splitlines()
    prose: list[str] = []
    code: list[str] = []
    fence: str | None = None
    block_indent: int | None = None
    prev_text = ""
    prev_blank = True
    for line in lines:
        stripped = line.strip()
        if fence is not None:
            if stripped.startswith(fence):
                fence = None
            else:
                code.append(line)
            continue
        if stripped.startswith(("```", "~~~")):
            fence = stripped[:3]
            continue
        if block_indent is not None:
            if not stripped or _indent(line) >= block_indent:
                if stripped:
                    code.append(line)
                continue
            block_indent = None
        if stripped and prev_blank and _indent(line) >= _content_indent(prev_text) + 4:
            block_indent = _indent(line)
            code.append(line)
            continue
        prose.append(line)
        if stripped:
            prev_text = line
        prev_blank = not stripped
    joined = "\n".join(prose)
    spans = tuple(" ".join(s.split()) for s in re.findall(r"`([^`]+)`", joined))
    return Page(path, joined, tuple(c.strip() for c in code), spans)


# --- links and anchors ---


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading).strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(page: Page) -> set[str]:
    """Every anchor the page's headings make (a repeated heading gets -1, -2 ...)."""
    seen: dict[str, int] = {}
    out: set[str] = set()
    for line in page.prose.splitlines():
        m = re.match(r"#{1,6}\s+(.*?)\s*#*\s*$", line)
        if not m:
            continue
        base = slug(m.group(1))
        n = seen.get(base, 0)
        seen[base] = n + 1
        out.add(base if n == 0 else f"{base}-{n}")
    return out


def link_problems(page: Page) -> list[str]:
    """Relative links that point at no file, or at no heading of the file they name."""
    problems = []
    text = re.sub(r"`[^`]*`", "", page.prose)
    for target in re.findall(r"\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)", text):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):
            continue
        file_part, _, anchor = target.partition("#")
        dest = (page.path.parent / file_part).resolve() if file_part else page.path
        if not dest.exists():
            problems.append(f"{page.name}: link {target!r}: no such file {dest}")
            continue
        if anchor and dest.suffix == ".md" and anchor not in anchors(read_page(dest)):
            problems.append(f"{page.name}: link {target!r}: no heading makes #{anchor}")
    return problems


# --- commands ---


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _options(parser: argparse.ArgumentParser) -> set[str]:
    return {opt for action in parser._actions for opt in action.option_strings}


def _segments(code: str) -> Iterator[str]:
    """The shell commands in one code line or span, comments dropped."""
    code = re.sub(r"(^|\s)#.*$", "", code)
    yield from (s.strip() for s in re.split(r"&&|\|\||;|\|", code))


def cli_problems(page: Page, parser: argparse.ArgumentParser) -> list[str]:
    """`gpu-docker ...` commands whose subcommand or option the CLI does not have."""
    problems = []
    for code in page.code():
        for segment in _segments(code):
            m = re.match(r"(?:\S*/)?gpu-docker\s+(.*)", segment)
            if not m:
                continue
            try:
                words = shlex.split(m.group(1).rstrip("\\"))
            except ValueError:
                words = m.group(1).split()
            current, said = parser, "gpu-docker"
            for word in words:
                subs = _subparsers(current)
                if word.startswith("-"):
                    if word.split("=")[0] not in _options(current):
                        problems.append(f"{page.name}: `{segment}`: {said} has no option {word}")
                    continue
                if not subs:
                    continue
                if word not in subs:
                    problems.append(f"{page.name}: `{segment}`: {said} has no subcommand {word!r}")
                    break
                current, said = subs[word], f"{said} {word}"
    return problems


def _path_exists(token: str) -> bool:
    bases = [ROOT] if token.split("/")[0] in PATH_ROOTS else [ROOT / "src" / "gpu_docker"]
    return any(glob.glob(str(base / token)) for base in bases)


def path_problems(page: Page) -> list[str]:
    """Project paths (`deploys/verify.py`, `scripts/demo.sh`, `sh/x.sh`) that do not exist."""
    roots = "|".join(PATH_ROOTS + PACKAGE_DIRS)
    pattern = re.compile(rf"(?<![\w./~-])((?:{roots})/[\w./*-]*)")
    problems = []
    for text in (page.prose, *page.code_lines):
        for token in pattern.findall(text):
            token = token.rstrip(".,:")
            if "<" in token or "{" in token:
                continue
            if not _path_exists(token):
                problems.append(f"{page.name}: {token} does not exist")
    return problems


def module_problems(page: Page) -> list[str]:
    """`gpu_docker.x.y` names that are neither a module nor an attribute of one."""
    problems = []
    for text in page.code():
        for dotted in re.findall(r"(?<![/\w])gpu_docker(?:\.\w+)+", text):
            if not dotted.endswith(".py") and not _resolves(dotted):
                problems.append(f"{page.name}: {dotted} is not in the package")
    return problems


def _resolves(dotted: str) -> bool:
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj: object = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attr in parts[cut:]:
            if not hasattr(obj, attr):
                return False
            obj = getattr(obj, attr)
        return True
    return False


# --- settings ---


def setting_names(page: Page) -> list[str]:
    """Names the page uses as settings: `name=...`, `name = ...`, a settings table's first
    column, "`name` setting", and a bold `**`name`**` with an underscore."""
    names = []
    for code in page.code():
        names += re.findall(r"(?<![\w.(,\[{$/-])([a-z][a-z0-9_]*)=(?!=)", code)
        names += re.findall(r"^([a-z][a-z0-9_]*) = ", code)
    prose = page.prose
    names += re.findall(r"`([a-z][a-z0-9_]*)` settings?\b", prose)
    names += re.findall(r"\bsettings? `([a-z][a-z0-9_]*)`", prose)
    names += re.findall(r"\*\*`([a-z][a-z0-9]*_[a-z0-9_]*)(?:=[^`]*)?`\*\*", prose)
    in_table = False
    for line in prose.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")] if "|" in line else []
        if not cells:
            in_table = False
            continue
        if cells[0].lower() == "setting":
            in_table = True
            continue
        m = re.match(r"`([a-z][a-z0-9_]*)`", cells[0]) if in_table else None
        if m:
            names.append(m.group(1))
    return names


def setting_problems(page: Page, known: set[str]) -> list[str]:
    """Setting names the page uses that settings.py does not declare."""
    return [
        f"{page.name}: {name!r} is not a setting in src/gpu_docker/settings.py"
        for name in dict.fromkeys(setting_names(page))
        if name not in known
    ]


# --- the commands a quick start shows ---


def command_lines(page: Page) -> set[str]:
    """The shell commands of a page's code blocks, comments and continuation joined, for
    comparing two translations of one quick start."""
    joined: list[str] = []
    carry = ""
    for line in page.code_lines:
        line = re.sub(r"(^|\s)#.*$", "", line).strip()
        if line.endswith("\\"):
            carry += line[:-1].strip() + " "
            continue
        line = (carry + line).strip()
        carry = ""
        if re.match(r"(?:\S*/)?(?:bash|pyinfra|gpu-docker|pip|apt-get)\b", line):
            joined.append(" ".join(line.split()))
    return set(joined)
