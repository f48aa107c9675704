"""A rootless docker user's state (``rootless_users``), read as that user."""

from __future__ import annotations

import base64
import binascii

from pyinfra.api import FactBase, StringCommand

from gpu_docker import rootless, sh
from gpu_docker.rootless import RootlessUser


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
