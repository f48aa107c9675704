"""Every script gpu-docker sends runs in the C locale, whatever the host's locale says.

The scripts and the Python reading their output find apt's, dpkg's, systemctl's and
docker's lines by their English words; a host with ``LANGUAGE=zh_CN:zh`` in
/etc/environment would otherwise hand them over in Chinese.
"""

from __future__ import annotations

import subprocess
from importlib.resources import files

import pytest

from gpu_docker import sh

SCRIPTS = sorted(
    p.name[: -len(".sh")]
    for p in files("gpu_docker.sh").iterdir()
    if p.name.endswith(".sh") and not p.name.startswith("lib_")
)
CHINESE = {"PATH": "/usr/bin:/bin", "LANG": "zh_CN.UTF-8", "LANGUAGE": "zh_CN:zh"}


def run(command: sh.StringCommand, env: dict[str, str]) -> str:
    return subprocess.run(
        ["sh", "-c", command.get_raw_value()], env=env, capture_output=True, text=True, check=True
    ).stdout


@pytest.mark.parametrize("env", [CHINESE, {**CHINESE, "LC_ALL": "zh_CN.UTF-8"}])
def test_an_inline_script_runs_in_the_c_locale(env: dict[str, str]) -> None:
    said = run(sh.inline('echo "$LC_ALL|${LANGUAGE-unset}|$1"', "x"), env)
    assert said == "C|unset|x\n"


@pytest.mark.parametrize("name", SCRIPTS)
def test_every_packaged_script_starts_in_the_c_locale(name: str) -> None:
    text = sh.command(name).get_raw_value()
    assert text.startswith(f"sh -c '{sh.C_LOCALE}")
