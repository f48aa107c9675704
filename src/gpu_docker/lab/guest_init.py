#!/usr/bin/python3
"""PID 1 of a lab host, copied into the host as /sbin/init and run by its python3.

On ``--init sysv`` hosts (no systemd) this starts the runlevel 2 services as sysvinit would
(``/etc/rc2.d/S*`` in order: sshd, docker) and then reaps every orphan the daemons leave,
so no zombie piles up in the host's pid namespace. SIGTERM ends the host; the lab
normally kills the namespace's parent instead, which takes everything down at once.
"""

import glob
import os
import signal
import subprocess
import sys
import time


def main() -> None:
    """Start the services, then reap children until the host is killed."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    for script in sorted(glob.glob("/etc/rc2.d/S*")):
        subprocess.run([script, "start"], check=False)
    while True:
        try:
            os.wait()
        except ChildProcessError:
            time.sleep(1)


if __name__ == "__main__":
    main()
