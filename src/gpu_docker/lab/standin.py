"""Stand-in .debs for NVIDIA Container Toolkit: TEST FIXTURES, not NVIDIA's packages.

This machine cannot reach NVIDIA's servers, yet the deploy, the bundle tool and the
sandbox lab must handle packages shaped exactly like NVIDIA's: the same names, deb
versions, architectures, Depends/Breaks/Replaces, installed at the same paths, and
maintainer scripts that act on the host the way each release's do (:class:`Generation`:
1.17, 1.18-1.19, 1.20). The packages built here carry all of that, but their executables
are tiny shell scripts (``gpu_docker.lab.fixtures``) that print versions, rewrite the toolkit's
config.toml the way the -base postinst makes nvidia-ctk do, write a fake CDI spec and, for
``nvidia-container-runtime``, hand over to ``runc`` so containers still start. Every
package's Maintainer and Description, and every file, say plainly that it is a gpu-docker
test fixture.

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
from importlib.resources import files
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


#: How each generation behaves on the host, from NVIDIA's packaging/debian at its tags
#: (control, *.install, *.postinst, *.maintscript, rules) and CHANGELOG.md.
@dataclass(frozen=True)
class Generation:
    """What a release line's packages do beyond their names: where the nvidia-cdi-refresh
    units go (none before 1.18), how the -base postinst turns them on, and whether its
    config rewrite puts defaults back over keys set to them (fixed in 1.20.0)."""

    tools_exact: bool  # libnvidia-container-tools (= V), not (>= V): 1.18+
    seccomp: bool  # libnvidia-container1 Depends on libseccomp2: up to 1.17.x
    unit_dir: str  # "" (no units), /etc/systemd/system (1.18, 1.19), /lib/systemd/system
    units_by: str  # none | postinst (1.18, 1.19) | debhelper (1.20)
    reverts_defaults: bool  # the config rewrite comments out keys set to their default
    smi_start: bool  # the service runs nvidia-smi -L before generating: 1.19+


def generation(version: str) -> Generation:
    """The behaviour of release ``version`` (upstream, ``1.20.0``)."""
    v = Version(version)
    if v < Version("1.18"):
        return Generation(False, True, "", "none", True, False)
    if v < Version("1.20"):
        smi = v >= Version("1.19")
        return Generation(True, False, "/etc/systemd/system", "postinst", True, smi)
    return Generation(True, False, "/lib/systemd/system", "debhelper", False, True)


#: The package holding the fixture files (scripts, units) the debs are built from.
FIXTURES = "gpu_docker.lab.fixtures"
ENV_FILE = "/etc/nvidia-container-toolkit/nvidia-cdi-refresh.env"
UNITS = ("nvidia-cdi-refresh.service", "nvidia-cdi-refresh.path")
_SMI_START = "ExecStart=/bin/sh -c '/usr/bin/nvidia-smi -L || /usr/sbin/nvidia-smi -L'"
# NVIDIA's Breaks/Replaces, the same from 1.17.8 to 1.20.0 (packaging/debian/control).
_OLD_RUNTIME = "nvidia-container-runtime (<= 3.5.0-1), nvidia-container-runtime-hook"


def _resource(package: str, name: str, **values: str) -> str:
    """A fixture file of ``package`` with its ``@KEY@`` placeholders filled in."""
    text = files(package).joinpath(name).read_text(encoding="utf-8")
    for key, value in values.items():
        text = text.replace(f"@{key}@", value)
    return text


def _script(name: str, **values: str) -> str:
    return _resource(FIXTURES, f"{name}.sh", **values)


@dataclass(frozen=True)
class _Spec:
    """What one stand-in package is: name, relations, files by install path
    (``conffiles``: those dpkg registers as configuration, as debhelper does for /etc)
    and maintainer scripts."""

    name: str
    depends: str
    summary: str
    files: dict[str, str] = field(default_factory=dict)
    postinst: str = ""
    conffiles: tuple[str, ...] = ()
    breaks: str = ""
    replaces: str = ""
    preinst: str = ""
    postrm: str = ""


def _base(version: str, gen: Generation) -> _Spec:
    """nvidia-container-toolkit-base: the runtime, nvidia-ctk, the CDI hook, and from 1.18
    the refresh units and their env file."""

    def quiet(name: str) -> str:
        return _script("quiet", NAME=name, VERSION=version)

    found = {
        "/usr/bin/nvidia-ctk": _script(
            "nvidia_ctk", VERSION=version, REVERTS="1" if gen.reverts_defaults else "0"
        ),
        "/usr/bin/nvidia-container-runtime": _script("nvidia_container_runtime", VERSION=version),
        "/usr/bin/nvidia-cdi-hook": quiet("nvidia-cdi-hook"),
    }
    conffiles: list[str] = []
    if gen.unit_dir:
        smi = _SMI_START if gen.smi_start else ""
        for unit in UNITS:
            text = _resource(FIXTURES, unit, VERSION=version, SMI_START=smi)
            found[f"{gen.unit_dir}/{unit}"] = text
        found[ENV_FILE] = _resource(FIXTURES, "nvidia-cdi-refresh.env", VERSION=version)
        conffiles = sorted(path for path in found if path.startswith("/etc/"))
    maintscript = (
        _script("base_maintscript", VERSION=version) if gen.units_by == "debhelper" else ""
    )
    return _Spec(
        "nvidia-container-toolkit-base",
        "",
        "NVIDIA Container Toolkit base (gpu-docker TEST FIXTURE)",
        found,
        postinst=_script("base_postinst", VERSION=version, UNITS=gen.units_by),
        conffiles=tuple(conffiles),
        breaks=f"{_OLD_RUNTIME}, nvidia-container-toolkit (<= 1.10.0-1)",
        replaces=_OLD_RUNTIME,
        preinst=maintscript,
        postrm=maintscript,
    )


def _specs(version: str, arch: str) -> list[_Spec]:
    """The seven packages of a release, with NVIDIA's relations for ``version``."""
    deb = f"{version}-1"
    gen = generation(version)
    lib_depends = "libc6 (>= 2.27), libcap2 (>= 1:2.10)"
    if gen.seccomp:
        lib_depends += ", libseccomp2 (>= 2.5)"
    tools_pin = "=" if gen.tools_exact else ">="
    triplet = {"amd64": "x86_64-linux-gnu", "arm64": "aarch64-linux-gnu"}.get(
        arch, f"{arch}-linux-gnu"
    )

    def quiet(name: str) -> str:
        return _script("quiet", NAME=name, VERSION=version)

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
            {"/usr/bin/nvidia-container-cli": _script("nvidia_container_cli", VERSION=version)},
        ),
        _base(version, gen),
        _Spec(
            "nvidia-container-toolkit",
            f"nvidia-container-toolkit-base (= {deb}), "
            f"libnvidia-container-tools ({tools_pin} {deb}), "
            "libnvidia-container-tools (<< 2.0.0)",
            "NVIDIA Container Toolkit (gpu-docker TEST FIXTURE)",
            {"/usr/bin/nvidia-container-runtime-hook": quiet("nvidia-container-runtime-hook")},
            postinst=_script("toolkit_postinst"),
            breaks=_OLD_RUNTIME,
            replaces=_OLD_RUNTIME,
            postrm=_script("toolkit_postrm"),
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
                    "/usr/bin/nvidia-docker": _script(
                        "quiet", NAME="nvidia-docker", VERSION="2.13.0"
                    ),
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
    if spec.breaks:
        lines.append(f"Breaks: {spec.breaks}")
    if spec.replaces:
        lines.append(f"Replaces: {spec.replaces}")
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
        for script in ("preinst", "postinst", "postrm"):
            if getattr(spec, script):
                _write(root / "DEBIAN" / script, getattr(spec, script), 0o755)
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
    # NVIDIA's hack/prepare-artifacts.sh names the tarball with its release directory.
    listed = f"release-v{version}-stable/{tarball.name}"
    checksums.write_text(f"{digest}  {listed}\n", encoding="utf-8")
    return tarball, checksums


__all__ = [
    "ENV_FILE",
    "EXTRA_PACKAGES",
    "UNITS",
    "Generation",
    "build_release_tarball",
    "build_standin_debs",
    "checksums_name",
    "generation",
    "tarball_name",
]
