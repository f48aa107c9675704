"""Capture a fact case from a lab host: ``python tests/facts/capture.py HOST FACT CASE ARGS``.

Runs the fact's own command on the sandbox lab's HOST over SSH and writes
``tests/facts/FACT/CASE.json`` (FACT is ``<module>.<Fact>``, its module in
``gpu_docker.facts``) with the arguments, the output lines, and the fact that
``process()`` makes of them today. Read that ``fact`` before committing: it is what the
test will hold the code to. ARGS is a JSON object of the fact's arguments.

    python tests/facts/capture.py lab-online-1 files.RemoteFileText absent '{"path": "/etc/docker/daemon.json"}'
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from test_facts import CASES, _arguments, _fact_class, _plain

from gpu_docker.lab.ssh import ssh_command
from gpu_docker.lab.state import load, state_file


def main(host: str, fact_name: str, case: str, raw_arguments: str) -> Path:
    lab = load(state_file())
    if lab is None:
        raise SystemExit("no sandbox lab is up: run `gpu-docker lab up` first")
    arguments = json.loads(raw_arguments)
    fact = _fact_class(fact_name)()
    command = fact.command(**_arguments(arguments))
    text = command if isinstance(command, str) else command.get_raw_value()
    run = subprocess.run(
        ssh_command(lab, lab.host(host), text), capture_output=True, text=True, check=True
    )
    output = run.stdout.splitlines()
    found = {"arguments": arguments, "output": output, "fact": _plain(fact.process(output))}
    path = CASES / fact_name / f"{case}.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(found, indent=2) + "\n")
    return path


if __name__ == "__main__":
    if len(sys.argv) != 5:
        raise SystemExit(__doc__)
    print(main(*sys.argv[1:]))
