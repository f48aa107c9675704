"""pyinfra's own CLI, also writing the payload each host was sent as file uploads.

``python bench/pyinfra_counted.py ARGS...`` behaves exactly like ``pyinfra ARGS...``; when
``BENCH_PAYLOAD_FILE`` is set it wraps the SSH connector's upload so that, at exit, that
file holds ``{host: [uploads, bytes]}``. The bytes are the files' own sizes (what an
operator means by "uploaded"), not the SSH traffic around them: ``run.py`` counts that
on the wire.
"""

from __future__ import annotations

import atexit
import json
import os
import sys
from collections import defaultdict
from io import BytesIO, StringIO
from pathlib import Path

from pyinfra.connectors.ssh import SSHConnector
from pyinfra_cli.main import main

Source = str | StringIO | BytesIO


def payload_size(source: Source) -> int:
    """Bytes a file upload sends: a controller path's size, or an in-memory file's length."""
    if isinstance(source, str):
        return os.path.getsize(source)
    value = source.getvalue()
    return len(value.encode() if isinstance(value, str) else value)


def count_uploads(report: Path) -> None:
    """Tally every upload per host and write the tally to ``report`` when pyinfra exits."""
    tally: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    upload = SSHConnector._put_file

    def counted(self: SSHConnector, filename_or_io: Source, remote_location: str) -> None:
        upload(self, filename_or_io, remote_location)
        entry = tally[self.host.name]
        entry[0] += 1
        entry[1] += payload_size(filename_or_io)

    SSHConnector._put_file = counted  # type: ignore[method-assign]
    atexit.register(lambda: report.write_text(json.dumps(tally)))


if __name__ == "__main__":
    target = os.environ.get("BENCH_PAYLOAD_FILE")
    if target:
        count_uploads(Path(target))
    sys.argv[0] = "pyinfra"
    sys.exit(main())
