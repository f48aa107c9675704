"""apt_probe.sh fetches NVIDIA's key the way apt fetches its files: through apt's proxy.

Run with stubs first on PATH: ``apt-config`` prints a dump holding the proxies the test
gives, ``curl`` records its arguments and fails as an unreachable host does, so the script
ends at the key fetch, having said why in one line.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from gpu_docker.sh import script

FPR = "C95B321B61E88C1809C4F759DDCAE044F796ECB0"


def probe(tmp_path: Path, url: str, dump: str) -> tuple[subprocess.CompletedProcess[str], str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    stubs = {
        "apt-config": f"cat <<'EOF'\n{dump}EOF\n",
        "curl": 'echo "$*" > "$S/curl.args"\necho "curl: (7) Failed to connect" >&2\nexit 7\n',
    }
    for name, body in stubs.items():
        (bin_dir / name).write_text(f"#!/bin/sh\n{body}")
        (bin_dir / name).chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "S": str(tmp_path)}
    env.pop("https_proxy", None)
    env.pop("http_proxy", None)
    run = subprocess.run(
        [
            "sh",
            "-c",
            script("apt_probe"),
            "apt_probe",
            url,
            FPR,
            str(tmp_path / "none.gpg"),
            "https://repo.invalid/stable/deb/$(ARCH)",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
    )
    return run, (tmp_path / "curl.args").read_text()


@pytest.mark.parametrize(
    ("url", "dump", "expected"),
    [
        (
            "https://nvidia.github.io/libnvidia-container/gpgkey",
            'Acquire::http::Proxy "http://10.0.0.1:3128";\n'
            'Acquire::https::Proxy "http://10.0.0.2:3128";\n',
            "--proxy http://10.0.0.2:3128",
        ),
        (
            "http://mirror.invalid/gpgkey",
            'Acquire::http::Proxy "http://10.0.0.1:3128";\n',
            "--proxy http://10.0.0.1:3128",
        ),
    ],
)
def test_the_key_is_fetched_through_apts_proxy_for_its_scheme(tmp_path, url, dump, expected):
    run, args = probe(tmp_path, url, dump)
    assert run.returncode == 1
    assert expected in args and args.rstrip().endswith(url)
    assert run.stderr.strip().splitlines() == [
        f"gpu-docker: could not fetch the apt key from {url}: curl: (7) Failed to connect; "
        "nothing written"
    ]


@pytest.mark.parametrize(
    "dump",
    ["", 'Acquire::https::Proxy "DIRECT";\n', 'Acquire::http::Proxy "http://10.0.0.1:3128";\n'],
)
def test_no_proxy_where_apt_goes_direct_for_the_scheme(tmp_path, dump):
    run, args = probe(tmp_path, "https://nvidia.github.io/libnvidia-container/gpgkey", dump)
    assert run.returncode == 1 and "--proxy" not in args
