"""A rootless docker user's state (``rootless_users``) and backups, read as that user."""

from __future__ import annotations

import base64
import binascii

from pyinfra.api import FactBase, QuoteString, StringCommand

from gpu_docker import rootless, sh
from gpu_docker.rootless import RootlessUser, UserBackups


class RootlessDocker(FactBase[RootlessUser]):
    """A user's uid, home, daemon.json (read as them: root must not follow a link they
    made) and their docker.service's state, in one round trip."""

    def command(self, user: str) -> StringCommand:
        self.user = user
        return sh.command("rootless_facts", user, rootless.DAEMON_JSON)

    def process(self, output: list[str]) -> RootlessUser:
        found = {key: values[0].strip() for key, values in sh.key_values(output).items()}
        text = None
        if "b64" in found:
            try:
                text = base64.b64decode(found["b64"]).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                text = "\x00"  # not UTF-8: the merge refuses it as not JSON
        uid = found.get("uid", "")
        home = found.get("home", "")
        return RootlessUser(
            user=self.user,
            uid=int(uid) if uid.isdigit() else None,
            home=home,
            target=found.get("target") or f"{home}/{rootless.DAEMON_JSON}",
            text=text,
            mode=found.get("mode", ""),
            unit=found.get("unit", ""),
        )


class RootlessBackups(FactBase[UserBackups]):
    """The backups gpu-docker runs left beside a user's daemon.json, with their bytes, read
    as the user (``target``: their daemon.json as :class:`RootlessDocker` resolved it)."""

    def command(self, user: str, target: str) -> StringCommand:
        self.target = target
        return StringCommand(
            "runuser", "-u", QuoteString(user), "--", sh.command("rootless_backups", target)
        )

    def process(self, output: list[str]) -> UserBackups:
        found = sh.key_values(output)
        texts: dict[str, str | None] = {}
        for path, encoded in zip(found.get("backup", []), found.get("b64", []), strict=True):
            try:
                absent = path.endswith(".absent")
                texts[path] = None if absent else base64.b64decode(encoded).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                texts[path] = "\x00"  # not UTF-8: shown as such, still restored byte for byte
        return UserBackups(found.get("target", [self.target])[0] or self.target, texts)
