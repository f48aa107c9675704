"""Merging settings into an operator's TOML file (containerd, nvidia-container-runtime),
keeping every comment, key order and table we do not own byte for byte.

containerd's /etc/containerd/config.toml and the toolkit's
/etc/nvidia-container-runtime/config.toml are edited by hand on real hosts (registry
mirrors, snapshotters, SystemdCgroup, debug paths). ``nvidia-ctk runtime configure``
re-serialises the whole file, dropping comments and reordering tables; this module edits
the parsed document in place with tomlkit instead, so only the keys we own change.

Rules, like :mod:`gpu_docker.daemon_json`:
- a file that is not TOML, or where a table we must write into is a plain value, is refused
  (:class:`TomlMergeError`): the caller leaves the file exactly as it is;
- owned settings are merged in: tables key by key, anything else replaced; new tables are
  appended where tomlkit places them, everything else keeps its bytes;
- the result is parsed again and must hold exactly the old data plus the owned settings,
  so a layout tomlkit cannot edit faithfully (dotted keys, out-of-order tables) is refused
  rather than written wrong;
- when the merge changes nothing, :func:`merge` reports so and no byte is written.

Plain functions, no pyinfra import: every rule is unit-tested.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, MutableMapping
from typing import Any

import tomlkit
from tomlkit.exceptions import TOMLKitError
from tomlkit.items import InlineTable

from gpu_docker.daemon_json import deep_merge
from gpu_docker.files import MergeResult


class TomlMergeError(ValueError):
    """The file cannot be merged safely; the caller leaves it untouched."""


def parse(text: str) -> tomlkit.TOMLDocument:
    """Parse TOML text (a missing or empty file is an empty document)."""
    try:
        return tomlkit.parse(text.removeprefix("\ufeff"))
    except TOMLKitError as exc:
        raise TomlMergeError(f"not valid TOML ({exc})") from None


def plain(text: str | None) -> dict[str, Any]:
    """The file's data as plain Python values (``None`` = no file = ``{}``)."""
    return parse(text or "").unwrap()


def _plain(item: Any) -> Any:
    """A tomlkit item as a plain value. Some containers (a table split over several
    headers, read through tomlkit's proxy) hand back plain values already."""
    return item.unwrap() if hasattr(item, "unwrap") else item


def _merge_into(table: Any, owned: Mapping[str, Any], path: tuple[str, ...]) -> None:
    """Set ``owned`` into a tomlkit container in place, creating tables that are missing."""
    for key, value in owned.items():
        where = ".".join((*path, key))
        if isinstance(value, Mapping):
            if key not in table:  # an inline table can only hold inline tables
                inline = isinstance(table, InlineTable)
                table[key] = tomlkit.inline_table() if inline else tomlkit.table()
            existing = table[key]
            if not isinstance(existing, MutableMapping):  # tables, inline ones, split ones
                raise TomlMergeError(f"{where} is a {type(_plain(existing)).__name__}, not a table")
            _merge_into(existing, value, (*path, key))
        elif key not in table or _plain(table[key]) != value:
            table[key] = copy.deepcopy(value)


def merge(current_text: str | None, owned: Mapping[str, Any]) -> MergeResult:
    """Merge ``owned`` (nested dicts) into the current file text (``None`` = no file yet).

    ``changed`` is decided on the parsed data, so a file that already holds the settings is
    never rewritten, whatever its formatting.
    """
    document = parse(current_text or "")
    before = document.unwrap()
    wanted = deep_merge(before, owned)
    if current_text is not None and wanted == before:
        return MergeResult(changed=False, text=current_text, data=before)
    try:
        _merge_into(document, owned, ())
    except (TOMLKitError, ValueError) as exc:
        raise TomlMergeError(f"cannot merge into its layout ({exc})") from None
    text = tomlkit.dumps(document)
    if not text.endswith("\n"):
        text += "\n"
    try:
        written = tomlkit.parse(text).unwrap()
    except TOMLKitError as exc:
        raise TomlMergeError(f"the merged file would not parse ({exc}); not written") from None
    if written != wanted:
        raise TomlMergeError(
            "its layout (dotted keys or tables out of order around the settings gpu-docker "
            "writes) cannot be edited without changing other settings"
        )
    return MergeResult(changed=True, text=text, data=wanted)


def dig(data: Mapping[str, Any], *keys: str) -> Any:
    """``data[k1][k2]...`` in plain data, ``None`` where a level is missing or not a table."""
    current: Any = data
    for key in keys:
        if not isinstance(current, Mapping):
            return None
        current = current.get(key)
    return current
