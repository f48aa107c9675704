"""Stand-in .debs for NVIDIA Container Toolkit: TEST FIXTURES, not NVIDIA's packages.

This machine cannot reach NVIDIA's servers, yet the deploy, the bundle tool and the
sandbox lab must handle packages shaped exactly like NVIDIA's: the same names, deb
versions, architectures and Depends (see /work/shared/FACTS.md), installed at the same
paths. The packages built here carry all of that, but their executables are tiny shell
scripts that only print versions and, for ``nvidia-container-runtime``, hand over to
``runc`` so containers still start. Every package's Maintainer and Description say plainly
that it is a gpu-docker test fixture.

Output is deterministic (fixed mtimes, sorted members, fixed compression) so that
checksums stay stable from one build to the next.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from debian.debian_support import Version

from gpu_docker import toolkit

#: Timestamp given to every file, deb member and tar entry (2024-01-01T00:00:00Z).
SOURCE_DATE_EPOCH = 1704067200

MAINTAINER = "gpu-docker test fixtures <gpu-docker-fixtures@invalid>"
FIXTURE_NOTE = (
    " This is a gpu-docker TEST FIXTURE built by gpu_docker.lab.standin, NOT NVIDIA's\n"
    " package. It carries the real package name, version and Depends so that tooling\n"
    " can be tested offline; its programs are placeholder shell scripts."
)

EXTRA_PACKAGES = (
    "libnvidia-container-dev",
    "libnvidia-container1-dbg",
    "nvidia-container-toolkit-operator-extensions",
)

_CLI = """#!/bin/sh
# gpu-docker TEST FIXTURE standing in for NVIDIA's nvidia-container-cli.
case "$1" in
  --version|-V)
    echo "cli-version: {version}"
    echo "lib-version: {version}"
    echo "build revision: gpu-docker-standin (test fixture)"
    ;;
esac
exit 0
"""

_CTK = """#!/bin/sh
# gpu-docker TEST FIXTURE standing in for NVIDIA's nvidia-ctk.
# --version prints a version; `config --config-file=F --in-place` creates F when missing
# (as the real base package's postinst relies on); `cdi generate --output=F` writes a
# plausible CDI spec naming no real device; anything else exits 0 quietly.
config_file=""
is_config=""
is_cdi=""
output=""
for arg in "$@"; do
  case "$arg" in
    --version|-v)
      echo "NVIDIA Container Toolkit CLI version {version} (gpu-docker test fixture)"
      exit 0
      ;;
    config) is_config=1 ;;
    cdi) is_cdi=1 ;;
    --config-file=*) config_file="${{arg#--config-file=}}" ;;
    --output=*) output="${{arg#--output=}}" ;;
  esac
done
if [ -n "$is_cdi" ] && [ -n "$output" ]; then
  # The generation time makes every spec's bytes differ: a rerun that regenerates shows.
  cat > "$output" <<SPEC
# Written by the gpu-docker TEST FIXTURE nvidia-ctk {version}, not by NVIDIA's tool:
# no device below is real. Generated at $(date -u +%Y-%m-%dT%H:%M:%S.%NZ).
---
cdiVersion: 0.5.0
kind: nvidia.com/gpu
devices:
- name: "0"
  containerEdits:
    deviceNodes:
    - path: /dev/nvidia0
- name: all
  containerEdits:
    deviceNodes:
    - path: /dev/nvidia0
containerEdits:
  env:
  - NVIDIA_VISIBLE_DEVICES=void
  deviceNodes:
  - path: /dev/nvidiactl
  hooks:
  - hookName: createContainer
    path: /usr/bin/nvidia-cdi-hook
    args:
    - nvidia-cdi-hook
    - update-ldcache
SPEC
  exit 0
fi
if [ -n "$is_config" ] && [ -n "$config_file" ] && [ ! -e "$config_file" ]; then
  mkdir -p "$(dirname "$config_file")"
  # The layout and defaults of the file NVIDIA's nvidia-ctk 1.17 writes (its keys, the
  # commented-out optional ones), so merges into it meet what they meet on real hosts.
  cat > "$config_file" <<'EOF'
# Written by the gpu-docker TEST FIXTURE nvidia-ctk {version}, not by NVIDIA's tool.
#accept-nvidia-visible-devices-as-volume-mounts = false
#accept-nvidia-visible-devices-envvar-when-unprivileged = true
disable-require = false
supported-driver-capabilities = "compat32,compute,display,graphics,ngx,utility,video"
#swarm-resource = "DOCKER_RESOURCE_GPU"

[nvidia-container-cli]
#debug = "/var/log/nvidia-container-toolkit.log"
environment = []
#ldcache = "/etc/ld.so.cache"
ldconfig = "@/sbin/ldconfig"
load-kmods = true
#no-cgroups = false
#path = "/usr/bin/nvidia-container-cli"
#root = "/run/nvidia/driver"
#user = "root:video"

[nvidia-container-runtime]
#debug = "/var/log/nvidia-container-runtime.log"
log-level = "info"
mode = "auto"
runtimes = ["docker-runc", "runc", "crun"]

[nvidia-container-runtime.modes]

[nvidia-container-runtime.modes.cdi]
annotation-prefixes = ["cdi.k8s.io/"]
default-kind = "nvidia.com/gpu"
spec-dirs = ["/etc/cdi", "/var/run/cdi"]

[nvidia-container-runtime.modes.csv]
mount-spec-path = "/etc/nvidia-container-runtime/host-files-for-container.d"

[nvidia-container-runtime-hook]
path = "nvidia-container-runtime-hook"
skip-mode-detection = false

[nvidia-ctk]
path = "nvidia-ctk"
EOF
fi
exit 0
"""

_RUNTIME = """#!/bin/sh
# gpu-docker TEST FIXTURE standing in for NVIDIA's nvidia-container-runtime:
# it hands every runtime call to runc so containers run, without any GPU support.
if [ "$1" = "--version" ]; then
  echo "NVIDIA Container Runtime version {version} (gpu-docker test fixture)"
  exit 0
fi
PATH="$PATH:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
exec runc "$@"
"""

_QUIET = """#!/bin/sh
# gpu-docker TEST FIXTURE standing in for NVIDIA's {name}: --version prints,
# anything else exits 0 quietly.
if [ "$1" = "--version" ]; then
  echo "{name} version {version} (gpu-docker test fixture)"
fi
exit 0
"""

_BASE_POSTINST = """#!/bin/sh
# gpu-docker TEST FIXTURE: mirrors the real nvidia-container-toolkit-base postinst.
set -e
if [ "$1" = "configure" ]; then
  nvidia-ctk --quiet config --config-file=/etc/nvidia-container-runtime/config.toml --in-place
fi
exit 0
"""


@dataclass(frozen=True)
class _Spec:
    """What one stand-in package is: name, relations, and files by install path
    (``conffiles``: those dpkg registers as configuration, as NVIDIA's packages did)."""

    name: str
    depends: str
    summary: str
    files: dict[str, str] = field(default_factory=dict)
    postinst: str = ""
    conffiles: tuple[str, ...] = ()


def _specs(version: str, arch: str) -> list[_Spec]:
    """The seven packages of a release, with NVIDIA's Depends for ``version``."""
    deb = f"{version}-1"
    since_118 = Version(version) >= Version("1.18")
    lib_depends = "libc6 (>= 2.27), libcap2 (>= 1:2.10)"
    if not since_118:
        lib_depends += ", libseccomp2 (>= 2.5)"
    tools_pin = "=" if since_118 else ">="
    triplet = {"amd64": "x86_64-linux-gnu", "arm64": "aarch64-linux-gnu"}.get(
        arch, f"{arch}-linux-gnu"
    )

    def quiet(name: str) -> str:
        return _QUIET.format(name=name, version=version)

    def marker(name: str) -> str:
        return f"gpu-docker test fixture for {name} {version}: not NVIDIA's file.\n"

    return [
        _Spec(
            "libnvidia-container1",
            lib_depends,
            "NVIDIA container runtime library (gpu-docker TEST FIXTURE)",
            {f"/usr/lib/{triplet}/libnvidia-container.fixture": marker("libnvidia-container")},
        ),
        _Spec(
            "libnvidia-container-tools",
            f"libc6 (>= 2.27), libcap2 (>= 1:2.10), libnvidia-container1 (>= {deb})",
            "NVIDIA container runtime library CLI (gpu-docker TEST FIXTURE)",
            {"/usr/bin/nvidia-container-cli": _CLI.format(version=version)},
        ),
        _Spec(
            "nvidia-container-toolkit-base",
            "",
            "NVIDIA Container Toolkit base (gpu-docker TEST FIXTURE)",
            {
                "/usr/bin/nvidia-ctk": _CTK.format(version=version),
                "/usr/bin/nvidia-container-runtime": _RUNTIME.format(version=version),
                "/usr/bin/nvidia-cdi-hook": quiet("nvidia-cdi-hook"),
            },
            postinst=_BASE_POSTINST,
        ),
        _Spec(
            "nvidia-container-toolkit",
            f"nvidia-container-toolkit-base (= {deb}), "
            f"libnvidia-container-tools ({tools_pin} {deb}), "
            "libnvidia-container-tools (<< 2.0.0)",
            "NVIDIA Container Toolkit (gpu-docker TEST FIXTURE)",
            {"/usr/bin/nvidia-container-runtime-hook": quiet("nvidia-container-runtime-hook")},
        ),
        _Spec(
            "libnvidia-container-dev",
            f"libnvidia-container1 (= {deb})",
            "NVIDIA container runtime library headers (gpu-docker TEST FIXTURE)",
            {"/usr/include/nvc.h": f"/* {marker('nvc.h').strip()} */\n"},
        ),
        _Spec(
            "libnvidia-container1-dbg",
            f"libnvidia-container1 (= {deb})",
            "NVIDIA container runtime library debug symbols (gpu-docker TEST FIXTURE)",
            {f"/usr/lib/debug/{triplet}/libnvidia-container.fixture": marker("debug symbols")},
        ),
        _Spec(
            "nvidia-container-toolkit-operator-extensions",
            f"nvidia-container-toolkit-base (= {deb})",
            "NVIDIA Container Toolkit GPU Operator extensions (gpu-docker TEST FIXTURE)",
            {"/usr/bin/nvidia-ctk-installer": quiet("nvidia-ctk-installer")},
        ),
    ]


#: The daemon.json nvidia-docker2 (before 2.14.0) shipped as its conffile.
LEGACY_DAEMON_JSON = """{
    "runtimes": {
        "nvidia": {
            "path": "nvidia-container-runtime",
            "runtimeArgs": []
        }
    }
}
"""


def _legacy_specs() -> list[tuple[_Spec, str]]:
    """NVIDIA's superseded packages as hosts still carry them, with their versions.

    nvidia-docker2 2.13.0 (toolkit 1.13's release, the last before the pure meta package)
    ships the ``nvidia-docker`` wrapper and /etc/docker/daemon.json as a conffile;
    nvidia-container-runtime 3.13.0 has been a meta package since 3.6.0. Both depend on
    the toolkit, as NVIDIA's do.
    """
    docker_alternatives = " | ".join(
        (
            "docker-ce (>= 18.06.0~ce~3-0~debian)",
            "docker-ee (>= 18.06.0~ce~3-0~debian)",
            "docker.io (>= 18.06.0)",
            "moby-engine (>= 18.06.0)",
        )
    )
    return [
        (
            _Spec(
                "nvidia-docker2",
                f"nvidia-container-toolkit (>= 1.13.0-1), {docker_alternatives}",
                "nvidia-docker CLI wrapper (gpu-docker TEST FIXTURE)",
                {
                    "/usr/bin/nvidia-docker": _QUIET.format(name="nvidia-docker", version="2.13.0"),
                    "/etc/docker/daemon.json": LEGACY_DAEMON_JSON,
                },
                conffiles=("/etc/docker/daemon.json",),
            ),
            "2.13.0",
        ),
        (
            _Spec(
                "nvidia-container-runtime",
                "nvidia-container-toolkit (>= 1.13.0-1)",
                "NVIDIA container runtime meta package (gpu-docker TEST FIXTURE)",
            ),
            "3.13.0",
        ),
    ]


def build_legacy_debs(outdir: Path) -> list[Path]:
    """TEST FIXTURE debs named like NVIDIA's superseded ``nvidia-docker2`` and
    ``nvidia-container-runtime`` (architecture ``all``, as NVIDIA's were), to test how a
    converge deals with hosts that still have them."""
    outdir.mkdir(parents=True, exist_ok=True)
    return [_build_one(spec, version, "all", outdir) for spec, version in _legacy_specs()]


def _control(spec: _Spec, version: str, arch: str, installed_kib: int) -> str:
    """The DEBIAN/control text; Maintainer and Description name it a test fixture."""
    lines = [
        f"Package: {spec.name}",
        f"Version: {version}-1",
        f"Architecture: {arch}",
        f"Maintainer: {MAINTAINER}",
        f"Installed-Size: {installed_kib}",
    ]
    if spec.depends:
        lines.append(f"Depends: {spec.depends}")
    lines += [
        "Section: utils",
        "Priority: optional",
        "Homepage: https://github.com/NVIDIA/nvidia-container-toolkit",
        f"Description: {spec.summary}",
        FIXTURE_NOTE,
    ]
    return "\n".join(lines) + "\n"


def _write(path: Path, text: str, mode: int) -> None:
    """Write ``text`` with a fixed mode and mtime so the deb's bytes do not vary."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)


def _build_one(spec: _Spec, version: str, arch: str, outdir: Path) -> Path:
    """Lay out one package tree and build it with dpkg-deb."""
    target = outdir / f"{spec.name}_{version}-1_{arch}.deb"
    with tempfile.TemporaryDirectory(prefix="standin-") as tmp:
        root = Path(tmp) / "root"
        for install_path, text in spec.files.items():
            mode = 0o755 if install_path.startswith("/usr/bin/") else 0o644
            _write(root / install_path.lstrip("/"), text, mode)
        doc = f"usr/share/doc/{spec.name}/README.fixture"
        _write(root / doc, f"{spec.summary}\n{FIXTURE_NOTE}\n", 0o644)
        size = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
        _write(
            root / "DEBIAN/control",
            _control(spec, version, arch, max(1, (size + 1023) // 1024)),
            0o644,
        )
        if spec.postinst:
            _write(root / "DEBIAN/postinst", spec.postinst, 0o755)
        if spec.conffiles:
            _write(root / "DEBIAN/conffiles", "".join(f"{c}\n" for c in spec.conffiles), 0o644)
        for path in sorted(root.rglob("*"), reverse=True):
            path.chmod(0o755 if path.is_dir() else path.stat().st_mode & 0o777)
            os.utime(path, (SOURCE_DATE_EPOCH, SOURCE_DATE_EPOCH))
        os.utime(root, (SOURCE_DATE_EPOCH, SOURCE_DATE_EPOCH))
        env = {**os.environ, "SOURCE_DATE_EPOCH": str(SOURCE_DATE_EPOCH)}
        subprocess.run(
            ["dpkg-deb", "--root-owner-group", "-Zgzip", "--build", str(root), str(target)],
            check=True,
            env=env,
            stdout=subprocess.DEVNULL,
        )
    return target


def build_standin_debs(
    version: str, arch: str, outdir: Path, *, extras: bool = False
) -> list[Path]:
    """Build TEST FIXTURE debs named like NVIDIA's toolkit release ``version`` for ``arch``.

    ``version`` is upstream (``"1.17.8"``); each deb gets ``<version>-1``. Returns the
    four runtime packages in install order, then, with ``extras``, the -dev, -dbg and
    operator-extensions packages that NVIDIA's release tarball also carries.
    """
    outdir.mkdir(parents=True, exist_ok=True)
    wanted = toolkit.PACKAGES + (EXTRA_PACKAGES if extras else ())
    specs = {spec.name: spec for spec in _specs(version, arch)}
    return [_build_one(specs[name], version, arch, outdir) for name in wanted]


def tarball_name(version: str, arch: str) -> str:
    """The asset name of NVIDIA's offline release tarball."""
    return f"nvidia-container-toolkit_{version}_deb_{arch}.tar.gz"


def checksums_name(version: str) -> str:
    """The asset name of NVIDIA's release checksums file."""
    return f"nvidia-container-toolkit_{version}_checksums.txt"


def build_release_tarball(version: str, arch: str, outdir: Path) -> tuple[Path, Path]:
    """Build a TEST FIXTURE release tarball and checksums file in NVIDIA's layout.

    The tarball holds the stand-in debs (runtime, -dev, -dbg, operator-extensions) under
    ``release-v<V>-stable/packages/ubuntu18.04/<arch>/``; the checksums file lists the
    tarball in ``sha256sum`` format. Returns ``(tarball, checksums)``.
    """
    outdir.mkdir(parents=True, exist_ok=True)
    prefix = f"release-v{version}-stable/packages/ubuntu18.04/{arch}"
    with tempfile.TemporaryDirectory(prefix="standin-release-") as tmp:
        debs = build_standin_debs(version, arch, Path(tmp), extras=True)
        raw = io.BytesIO()
        with tarfile.open(fileobj=raw, mode="w", format=tarfile.GNU_FORMAT) as tar:
            parts = prefix.split("/")
            for depth in range(1, len(parts) + 1):
                info = tarfile.TarInfo("/".join(parts[:depth]))
                info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, SOURCE_DATE_EPOCH
                tar.addfile(info)
            for deb in sorted(debs):
                info = tarfile.TarInfo(f"{prefix}/{deb.name}")
                info.size, info.mode, info.mtime = deb.stat().st_size, 0o644, SOURCE_DATE_EPOCH
                with deb.open("rb") as fh:
                    tar.addfile(info, fh)
    tarball = outdir / tarball_name(version, arch)
    with tarball.open("wb") as out, gzip.GzipFile(fileobj=out, mode="wb", mtime=0) as gz:
        gz.write(raw.getvalue())
    digest = hashlib.sha256(tarball.read_bytes()).hexdigest()
    checksums = outdir / checksums_name(version)
    checksums.write_text(f"{digest}  {tarball.name}\n", encoding="utf-8")
    return tarball, checksums


__all__ = [
    "EXTRA_PACKAGES",
    "build_release_tarball",
    "build_standin_debs",
    "checksums_name",
    "tarball_name",
]
