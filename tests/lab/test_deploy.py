"""End to end: the real pyinfra CLI converges real SSH hosts running real dockerd.

The tests in this module run in order on the session's lab: preview, converge, re-run,
upgrade. Each asserts on the hosts themselves (files, dpkg, docker), not on our own output.
"""

from __future__ import annotations

import json
import re

import pytest
from hosts_state import output

from gpu_docker.lab.inventory import LAB_TOOLKIT_VERSION as PIN
from gpu_docker.toolkit import APT_PIN

pytestmark = pytest.mark.lab

OPERATOR_DAEMON_JSON = {
    "registry-mirrors": ["https://mirror.example.invalid"],
    "log-driver": "json-file",
    "log-opts": {"max-size": "10m", "max-file": "3"},
    "runtimes": {"custom": {"path": "/usr/sbin/runc"}},
}
SEEDED = "lab-online-1"

# Everything the deploy may touch, as one fingerprint per host.
SNAPSHOT = r"""
for p in /etc/docker /etc/apt /usr/share/keyrings /var/cache/gpu-docker /var/lib/dpkg/status; do
    [ -e "$p" ] && find "$p" -xdev \( -type f -o -type l \) -print0 | sort -z \
        | xargs -0 -r sha256sum 2>/dev/null
done
cat /var/run/docker.pid
"""


def totals(run) -> dict[str, str]:
    """The results table's Grand total row: hosts-ops, Success, Error, No Change."""
    for line in output(run).splitlines():
        if line.strip().startswith("Grand total"):
            ops, success, error, no_change = line.split()[2:6]
            return {"ops": ops, "success": success, "error": error, "no_change": no_change}
    raise AssertionError(f"no results table in:\n{output(run)}")


def snapshot(lab, host_exec) -> dict[str, str]:
    result = {}
    for host in lab.hosts:
        run = host_exec(lab, host.name, SNAPSHOT)
        assert run.returncode == 0, run.stderr
        result[host.name] = run.stdout
    return result


def docker_runtimes(lab, host_exec, name: str) -> list[str]:
    run = host_exec(lab, name, "docker info --format '{{json .Runtimes}}'")
    assert run.returncode == 0, f"{name}: {run.stderr}"
    return sorted(json.loads(run.stdout))


def toolkit_versions(lab, host_exec, name: str) -> dict[str, str]:
    run = host_exec(
        lab,
        name,
        "dpkg-query -W -f='${Package} ${Version} ${db:Status-Abbrev}\\n' "
        "libnvidia-container1 libnvidia-container-tools nvidia-container-toolkit-base "
        "nvidia-container-toolkit 2>/dev/null; true",
    )
    return {
        line.split()[0]: line.split()[1]
        for line in run.stdout.splitlines()
        if line.split()[2:3] == ["ii"]
    }


@pytest.fixture(scope="module")
def seeded(lab, host_exec):
    """One online host starts with an operator's daemon.json that must survive."""
    text = json.dumps(OPERATOR_DAEMON_JSON, indent=2) + "\n"
    run = host_exec(
        lab, SEEDED, f"mkdir -p /etc/docker && cat > /etc/docker/daemon.json <<'EOF'\n{text}EOF"
    )
    assert run.returncode == 0, run.stderr
    return text


@pytest.fixture(scope="module")
def converged(lab, seeded, host_exec, run_pyinfra):
    """The state after a preview and a first apply, with the outputs of both."""
    before = snapshot(lab, host_exec)
    dry = run_pyinfra("deploys/gpu_docker.py", "--dry", "--diff", yes=False)
    after_dry = snapshot(lab, host_exec)
    apply = run_pyinfra("deploys/gpu_docker.py")
    return {"before": before, "dry": dry, "after_dry": after_dry, "apply": apply}


def test_verify_before_converging_fails_every_host_with_one_line(lab, run_pyinfra):
    run = run_pyinfra("deploys/verify.py")
    assert run.returncode != 0
    text = " ".join(output(run).split())  # pyinfra pads host names into columns
    for host in lab.hosts:
        line = f"[{host.name}] gpu-docker: docker does not list the 'nvidia' runtime"
        assert text.count(line) == 1, output(run)
        assert f"[{host.name}] GPUs: none (no NVIDIA driver loaded, no nvidia-smi found)" in text
        # The --gpus check runs on every host: no toolkit, no device driver, said so.
        assert re.search(
            rf'\[{host.name}\] check --gpus all: FAILED: .*could not select device driver ""',
            text,
        ), output(run)


def test_dry_run_previews_the_diff_and_changes_no_byte(converged):
    dry = converged["dry"]
    assert dry.returncode == 0, output(dry)
    assert converged["after_dry"] == converged["before"]
    assert f"[{SEEDED}]     Will modify /etc/docker/daemon.json" in output(dry)
    assert re.search(r'\+\s+"nvidia": \{', output(dry)), output(dry)


def test_every_host_converges_and_docker_lists_the_runtime(lab, converged, host_exec):
    apply = converged["apply"]
    assert apply.returncode == 0, output(apply)
    assert totals(apply)["error"] == "-"
    for host in lab.hosts:
        assert "nvidia" in docker_runtimes(lab, host_exec, host.name), host.name
        versions = toolkit_versions(lab, host_exec, host.name)
        assert versions == dict.fromkeys(
            (
                "libnvidia-container1",
                "libnvidia-container-tools",
                "nvidia-container-toolkit-base",
                "nvidia-container-toolkit",
            ),
            f"{PIN}-1",
        ), host.name


def test_operator_settings_in_daemon_json_survive(lab, converged, host_exec):
    run = host_exec(lab, SEEDED, "cat /etc/docker/daemon.json")
    assert run.stdout.startswith('{\n  "registry-mirrors": [')  # the operator's indent
    data = json.loads(run.stdout)
    for key in ("registry-mirrors", "log-driver", "log-opts"):
        assert data[key] == OPERATOR_DAEMON_JSON[key]
    assert data["runtimes"]["custom"] == OPERATOR_DAEMON_JSON["runtimes"]["custom"]
    assert data["runtimes"]["nvidia"] == {"path": "nvidia-container-runtime", "args": []}
    assert list(data)[:4] == list(OPERATOR_DAEMON_JSON)
    assert "custom" in docker_runtimes(lab, host_exec, SEEDED)


def test_previous_daemon_json_is_backed_up_privately(lab, converged, seeded, host_exec):
    run = host_exec(
        lab,
        SEEDED,
        "for f in /etc/docker/daemon.json.gpu-docker-*.bak; do stat -c %a $f; cat $f; done",
    )
    mode, _, content = run.stdout.partition("\n")
    assert mode == "600"
    assert content == seeded


def test_online_hosts_trust_only_the_pinned_keyring(lab, converged, host_exec):
    for host in lab.group("online"):
        run = host_exec(lab, host.name, "cat /etc/apt/sources.list.d/nvidia-container-toolkit.list")
        assert run.stdout == (
            "deb [signed-by=/usr/share/keyrings/nvidia-container-toolkit-keyring.gpg] "
            f"{lab.repo_url} /\n"
        )


def test_second_run_changes_nothing_uploads_nothing_restarts_nothing(
    lab, converged, host_exec, run_pyinfra
):
    before = snapshot(lab, host_exec)
    again = run_pyinfra("deploys/gpu_docker.py")
    assert again.returncode == 0, output(again)
    assert snapshot(lab, host_exec) == before  # same files, same bytes, same dockerd pid
    result = totals(again)
    assert (result["success"], result["error"]) == ("-", "-")
    assert result["no_change"] == result["ops"]


def commands_sent(run, host: str) -> int:
    """How many commands pyinfra sent ``host``: -vvv prints each, prefixed with the host."""
    return len(re.findall(rf"^\s*\[{re.escape(host)}\]\s+>>> ", output(run), re.MULTILINE))


def verified_afresh(run, host: str) -> bool:
    """Whether the verify operation asked ``host`` itself, not the converge's one read."""
    pattern = rf"\[{re.escape(host)}\]\s+Loaded fact \S+GpuDockerVerification \(dry=False"
    return re.search(pattern, output(run)) is not None


def test_a_no_op_run_reads_and_verifies_each_host_in_one_command(lab, converged, run_pyinfra):
    """With -y the converge's one read (gpu_docker.facts.host_state) also verifies: a host
    nothing changes on is read, decided and proven with `docker run --gpus all` in one
    round trip; any other read would cost a fleet one more round trip per host."""
    again = run_pyinfra("deploys/gpu_docker.py", "-vvv")
    assert again.returncode == 0, output(again)
    for host in lab.hosts:
        assert commands_sent(again, host.name) == 1, host.name
        assert not verified_afresh(again, host.name), host.name
        assert re.search(rf"\[{re.escape(host.name)}\]\s+check --gpus all: ok", output(again))


def test_a_file_only_its_own_operation_reads_keeps_the_reads_verification(
    lab, converged, run_pyinfra, host_exec
):
    """The pin's write changes what the pin reads and nothing a GPU container needs
    (host_state.confine): the pin is put back and the read's verification stands."""
    removed = host_exec(lab, SEEDED, f"rm {APT_PIN}")
    assert removed.returncode == 0, removed.stderr
    again = run_pyinfra("deploys/gpu_docker.py", "-vvv")
    assert again.returncode == 0, output(again)
    assert host_exec(lab, SEEDED, f"test -f {APT_PIN}").returncode == 0
    assert not verified_afresh(again, SEEDED)
    assert re.search(rf"\[{SEEDED}\]\s+check --gpus all: ok", output(again))


def test_a_host_the_run_changes_is_verified_afresh(lab, converged, run_pyinfra, host_exec):
    """The read's verification predates the run's changes: where an operation that may
    change anything ran a command (here daemon.json's merge, and docker's restart), the
    verify operation asks the host again."""
    drop = (
        "import json,sys; d=json.load(sys.stdin); d['runtimes'].pop('nvidia'); print(json.dumps(d))"
    )
    edited = host_exec(
        lab,
        SEEDED,
        f'python3 -c "{drop}" < /etc/docker/daemon.json > /tmp/dj'
        " && cat /tmp/dj > /etc/docker/daemon.json",
    )
    assert edited.returncode == 0, edited.stderr
    again = run_pyinfra("deploys/gpu_docker.py", "-vvv")
    assert again.returncode == 0, output(again)
    assert verified_afresh(again, SEEDED)
    assert "nvidia" in docker_runtimes(lab, host_exec, SEEDED)
    for host in lab.hosts:
        if host.name != SEEDED:
            assert commands_sent(again, host.name) == 1, host.name
