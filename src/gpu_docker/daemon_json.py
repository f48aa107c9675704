"""Merging the settings gpu-docker owns into an operator's daemon.json, losing nothing.

Tools that overwrite daemon.json have cost operators their registry mirrors, DNS and
data-root (nvidia-docker #490, #1346); ``nvidia-ctk runtime configure`` rewrites the
file even when nothing changed. This module is the opposite: plain functions with no
pyinfra import, so every rule is unit-tested.

Rules:
- the file is read the way dockerd reads it: 0 bytes, only whitespace, or a UTF-8 BOM
  in front are all ``{}``;
- text that is not JSON, a top level that is not an object, or a ``runtimes`` that is not
  an object is refused (:class:`DaemonJsonError`): the file is left exactly as it is;
- owned settings are merged in: objects key by key (``runtimes``, ``features``,
  ``log-opts``), anything else replaced; every other key stays, in its order;
- when the merge changes nothing, :func:`merge` reports so and no byte is written.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2

from gpu_docker.files import MergeResult

#: The template of the settings gpu-docker owns, relative to a project and to the package.
TEMPLATE = Path("templates") / "daemon.json.j2"
_BOM = "\ufeff"
# Keys whose value must be an object for the merge to be safe; dockerd agrees.
_OBJECT_KEYS = ("runtimes", "features", "log-opts")


class DaemonJsonError(ValueError):
    """daemon.json cannot be merged safely; the caller leaves the file untouched."""


def parse(text: str) -> dict[str, Any]:
    """Parse daemon.json as dockerd would, refusing shapes we cannot merge into."""
    body = text.removeprefix(_BOM)
    if not body.strip():
        return {}
    try:
        data = json.loads(body)
    except json.JSONDecodeError as exc:
        raise DaemonJsonError(
            f"not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from None
    if not isinstance(data, dict):
        raise DaemonJsonError(f"top level is a JSON {_json_type(data)}, not an object")
    for key in _OBJECT_KEYS:
        if key in data and not isinstance(data[key], dict):
            raise DaemonJsonError(f'"{key}" is a JSON {_json_type(data[key])}, not an object')
    return data


def _json_type(value: Any) -> str:
    names = {list: "array", str: "string", bool: "boolean", int: "number", float: "number"}
    return "null" if value is None else names.get(type(value), type(value).__name__)


def deep_merge(current: Mapping[str, Any], owned: Mapping[str, Any]) -> dict[str, Any]:
    """Return ``current`` with ``owned`` merged in; objects recurse, other values replace.

    Key order is the operator's: existing keys keep their place, new ones are appended.
    """
    merged = dict(current)
    for key, value in owned.items():
        existing = merged.get(key)
        if isinstance(existing, dict) and isinstance(value, dict):
            merged[key] = deep_merge(existing, value)
        else:
            merged[key] = value
    return merged


def detect_indent(text: str) -> int | str:
    """The indent the operator used (spaces or a tab), 4 like nvidia-ctk when unknown."""
    for line in text.removeprefix(_BOM).splitlines()[1:]:
        stripped = line.lstrip(" \t")
        if stripped and len(stripped) != len(line):
            prefix = line[: len(line) - len(stripped)]
            return "\t" if prefix.startswith("\t") else len(prefix)
    return 4


def dump(data: Mapping[str, Any], indent: int | str = 4) -> str:
    """Serialise with a trailing newline, non-ASCII kept as written."""
    return json.dumps(data, indent=indent, ensure_ascii=False) + "\n"


def merge(current_text: str | None, owned: Mapping[str, Any]) -> MergeResult:
    """Merge ``owned`` into the current file text (``None`` = no file yet).

    ``changed`` is decided on the parsed data, not on bytes, so a file that already holds
    the settings is never rewritten, whatever its formatting.
    """
    current = parse(current_text or "")
    merged = deep_merge(current, owned)
    if current_text is not None and merged == current:
        return MergeResult(changed=False, text=current_text, data=current)
    return MergeResult(
        changed=True, text=dump(merged, detect_indent(current_text or "")), data=merged
    )


def template_path(project_root: Path | None) -> Path:
    """The daemon.json template: the project's ``templates/daemon.json.j2`` when the deploy
    runs from a checkout that has one (the file an operator edits), else the package's."""
    if project_root is not None and (project_root / TEMPLATE).is_file():
        return project_root / TEMPLATE
    return Path(str(resources.files("gpu_docker").joinpath(str(TEMPLATE))))


def render_owned(
    template: Path,
    *,
    runtime_name: str,
    runtime_path: str,
    set_default_runtime: bool,
    extra: Mapping[str, Any],
    live_restore: bool = False,
) -> dict[str, Any]:
    """Render ``templates/daemon.json.j2`` into the object gpu-docker owns in daemon.json.

    The template is the operator-facing statement of what we write; it must render to a
    JSON object, and a template error names the file.
    """
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    try:
        text = env.from_string(template.read_text()).render(
            runtime_name=runtime_name,
            runtime_path=runtime_path,
            set_default_runtime=set_default_runtime,
            live_restore=live_restore,
            extra=dict(extra),
        )
        owned = json.loads(text)
    except (OSError, jinja2.TemplateError, json.JSONDecodeError) as exc:
        raise DaemonJsonError(f"template {template}: {exc}") from None
    if not isinstance(owned, dict):
        raise DaemonJsonError(f"template {template} must render to a JSON object")
    return owned
